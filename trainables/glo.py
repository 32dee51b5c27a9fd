"""GLO: learn the generator and one latent per training image by reconstruction; sample new latents."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Literal

import torch
import torch.nn.functional as F
from pydantic import Field
from pydantic.dataclasses import dataclass

from trainables.config import MAX_EPOCHS, STRICT_KEYS
from trainables.data import Data
from trainables.gan import generate
from trainables.judge import Judge
from trainables.metrics import EVAL_SEED, SampleScorer, knn_accuracy, mse, psnr
from trainables.models.gan import Generator, to_pixels
from trainables.models.glo import GLO, normalise, sample_latents
from trainables.state import batches, restore, seed_everything, snapshot


@dataclass(config=STRICT_KEYS)
class GLOConfig:
    """The report's GLO: latent_dim 74 on the unit sphere, Adam lr 0.01 (latents) and 0.001 (generator),
    batch 32, 15 epochs."""

    latent_dim: int = Field(74, ge=1, description="size of each image's latent vector")
    lr_latent: float = Field(0.01, gt=0, description="(sparse) Adam learning rate of the latents")
    lr_generator: float = Field(0.001, gt=0, description="Adam learning rate of the generator")
    width: int = Field(64, ge=1, description="channels of the generator's last hidden layer (the others: 2x and 4x); "
                       "the report's is 64")
    loss: Literal["l2", "l1", "laplacian_l1"] = Field(
        "l2", description="reconstruction loss: the report's L2, L1, or the GLO paper's L1 of a Laplacian pyramid"
    )
    latent_norm: Literal["sphere", "ball", "none"] = Field("sphere", description="where latents are kept")
    sampler: Literal["normal_sphere", "gaussian_fit", "gmm"] = Field(
        "normal_sphere", description="how new latents are drawn: the report's, the GLO paper's, or a mixture"
    )
    gmm_components: int = Field(10, ge=1, description="mixture components of the gmm sampler")
    batch_size: int = Field(32, ge=1, description="images per step")
    epochs: int = Field(15, ge=1, le=MAX_EPOCHS, description="passes over the training partition")
    seed: int = Field(0, description="seeds weights, latents and batch order")
    eval_size: int = Field(1000, ge=2, description="samples scored each epoch, against as many held-out images")
    encode_size: int = Field(250, ge=1, description="held-out images given latents each epoch, for k-NN and val_mse")
    encode_steps: int = Field(30, ge=1, description="Adam steps that fit a held-out image's latent")
    # Encoding held-out images took 44% of an epoch on 7,000 images (bench/epoch.py), and sweeps rank
    # GLO by FID: val_mse, val_psnr and knn_acc come every few epochs, and always after the last.
    encode_every: int = Field(3, ge=1, description="epochs between held-out encodings (val_mse, val_psnr, knn_acc)")


HELD_OUT_METRICS = ("val_mse", "val_psnr", "knn_acc")  # reported every `encode_every` epochs


def laplacian_pyramid(x: torch.Tensor, levels: int = 3) -> list[torch.Tensor]:
    """Band-pass levels of images (B, 1, H, W), finest first (28, 14, 7 pixels), then the coarsest blur."""
    pyramid = []
    for _ in range(levels - 1):
        coarse = F.avg_pool2d(x, 2)
        pyramid.append(x - F.interpolate(coarse, size=x.shape[-2:], mode="bilinear", align_corners=False))
        x = coarse
    return [*pyramid, x]


def reconstruction_loss(x_hat: torch.Tensor, x: torch.Tensor, loss: str) -> torch.Tensor:
    """The GLO paper's Lap1 sums each level's absolute errors weighted by 4^level, the inverse of its share of
    pixels: the mean absolute error of each level, summed, is the same up to a constant."""
    if loss == "l2":
        return F.mse_loss(x_hat, x)
    if loss == "l1":
        return F.l1_loss(x_hat, x)
    return sum(F.l1_loss(a, b) for a, b in zip(laplacian_pyramid(x_hat), laplacian_pyramid(x)))


def glo_step(
    model: GLO, opt_g: torch.optim.Optimizer, opt_z: torch.optim.Optimizer, x: torch.Tensor, idx: torch.Tensor,
    loss: str = "l2",
) -> torch.Tensor:
    """One joint step on generator and the batch's latents; x (B, 1, 28, 28) in [0, 1]."""
    loss = reconstruction_loss(to_pixels(model(idx)), x, loss)
    opt_g.zero_grad(set_to_none=True)
    opt_z.zero_grad(set_to_none=True)
    loss.backward()
    opt_g.step()
    opt_z.step()
    model.project_(idx)
    return loss.detach()


def fit_glo(
    cfg: GLOConfig, data: Data, judge: Judge, device: torch.device | str = "cpu", state: dict | None = None
) -> Iterator[tuple[dict, dict]]:
    """Train GLO; yield (metrics, resumable state, latents included) after each epoch."""
    seed_everything(cfg.seed)
    model = GLO(len(data.train), cfg.latent_dim, cfg.latent_norm, cfg.width).to(device)
    opt_g = torch.optim.Adam(model.generator.parameters(), lr=cfg.lr_generator, fused=True)
    opt_z = torch.optim.SparseAdam(model.latents.parameters(), lr=cfg.lr_latent)
    parts = {"model": model, "opt_g": opt_g, "opt_z": opt_z}
    start = restore(state, **parts) if state else 0
    train = data.train.images.to(device)
    scorer = SampleScorer(judge, data.val.images[: cfg.eval_size])
    for epoch in range(start + 1, cfg.epochs + 1):
        model.train()
        total = torch.zeros((), device=device)
        steps = batches(len(train), cfg.batch_size)
        for idx in steps:
            idx = idx.to(device)
            total += glo_step(model, opt_g, opt_z, train[idx], idx, cfg.loss)
        held_out = epoch % cfg.encode_every == 0 or epoch == cfg.epochs
        metrics = {"epoch": epoch, "train_loss": total.item() / len(steps),
                   **evaluate_glo(model, data, scorer, cfg, held_out)}
        yield metrics, snapshot(epoch, **parts)


def evaluate_glo(model: GLO, data: Data, scorer: SampleScorer, cfg: GLOConfig, held_out: bool = True) -> dict:
    """Sample scores and train_mse; with `held_out`, also the HELD_OUT_METRICS of encoded held-out images."""
    model.eval()
    device = model.latents.weight.device
    latents = model.latents.weight.detach()
    with torch.no_grad():
        seen = torch.arange(min(cfg.eval_size, len(data.train)), device=device)
        train_mse = mse(data.train.images[seen.cpu()].to(device), to_pixels(model(seen)))
    noise = torch.Generator().manual_seed(EVAL_SEED)
    samples = sample_latents(latents, cfg.eval_size, cfg.sampler, cfg.latent_norm, noise, cfg.gmm_components)
    metrics = {"train_mse": train_mse, **scorer.score(generate(model.generator, samples))}
    if not held_out:
        return metrics
    val = data.val.head(cfg.encode_size)
    x = val.images.to(device)
    z = encode(model.generator, x, cfg.latent_dim, cfg.latent_norm, cfg.encode_steps)
    with torch.no_grad():
        x_hat = to_pixels(model.generator(z))
    return {
        **metrics,
        "val_mse": mse(x, x_hat),
        "val_psnr": psnr(x, x_hat),
        "knn_acc": knn_accuracy(latents, data.train.labels, z, val.labels),
    }


def encode(
    generator: Generator, x: torch.Tensor, latent_dim: int, latent_norm: str, steps: int, lr: float = 0.05
) -> torch.Tensor:
    """Latents (B, d) whose images fit x (B, 1, 28, 28), found by Adam with the generator frozen."""
    generator.eval().requires_grad_(False)
    start = torch.randn(len(x), latent_dim, generator=torch.Generator().manual_seed(EVAL_SEED)).to(x.device)
    z = normalise(start / latent_dim**0.5, latent_norm).requires_grad_(True)
    optimizer = torch.optim.Adam([z], lr=lr)
    for _ in range(steps):
        loss = F.mse_loss(to_pixels(generator(z)), x)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        with torch.no_grad():
            z.copy_(normalise(z, latent_norm))
    generator.requires_grad_(True)
    return z.detach()
