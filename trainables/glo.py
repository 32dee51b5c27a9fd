"""GLO: learn the generator and one latent per training image by reconstruction; sample new latents."""

from __future__ import annotations

from collections.abc import Iterator

import torch
import torch.nn.functional as F

from trainables.config.glo import GLOConfig
from trainables.data import Data
from trainables.gan import generate
from trainables.judge import Judge
from trainables.metrics import EVAL_SEED, SampleScorer, knn_accuracy, mse, psnr
from trainables.models.gan import Generator, to_pixels
from trainables.models.glo import GLO, normalise, sample_latents
from trainables.state import batches, restore, seed_everything, snapshot


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


def build_glo(cfg: GLOConfig, num_images: int) -> GLO:
    """The generator and `num_images` latents of a config: what training starts from and a checkpoint's weights are
    loaded into."""
    return GLO(num_images, cfg.latent_dim, cfg.latent_norm, cfg.width)


def fit_glo(
    cfg: GLOConfig, data: Data, judge: Judge, device: torch.device | str = "cpu", state: dict | None = None
) -> Iterator[tuple[dict, dict]]:
    """Train GLO; yield (metrics, resumable state, latents included) after each epoch."""
    seed_everything(cfg.seed)
    model = build_glo(cfg, len(data.train)).to(device)
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
    """Sample scores and train_mse; with `held_out`, also val_mse, val_psnr and knn_acc of encoded held-out images."""
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
    z = fit_latents(model.generator, x, cfg.latent_dim, cfg.latent_norm, cfg.encode_steps)
    with torch.no_grad():
        x_hat = to_pixels(model.generator(z))
    return {
        **metrics,
        "val_mse": mse(x, x_hat),
        "val_psnr": psnr(x, x_hat),
        "knn_acc": knn_accuracy(latents, data.train.labels, z, val.labels),
    }


def fit_latents(
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
