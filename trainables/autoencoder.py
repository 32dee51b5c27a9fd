"""AE and DAE: train the autoencoder on (noisy) digits to reconstruct clean ones; score it on held-out digits."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Literal

import torch
import torch.nn.functional as F
from pydantic import Field
from pydantic.dataclasses import dataclass

from trainables.config import MAX_EPOCHS, STRICT_KEYS
from trainables.data import Data
from trainables.metrics import EVAL_SEED, knn_accuracy, mse, psnr
from trainables.models.ae import Autoencoder
from trainables.state import batches, restore, seed_everything, snapshot


@dataclass(config=STRICT_KEYS)
class AEConfig:
    """The report's AE: latent_dim 10, Adam lr 0.01, batch 32, 10 epochs."""

    latent_dim: int = Field(10, ge=1, description="size of the latent code")
    lr: float = Field(0.01, gt=0, description="Adam learning rate")
    batch_size: int = Field(32, ge=1, description="images per step")
    epochs: int = Field(10, ge=1, le=MAX_EPOCHS, description="passes over the training partition")
    activation: Literal["relu", "leaky_relu"] = Field("relu", description="nonlinearity of encoder and decoder")
    channels: int = Field(32, ge=1, description="filters of the first convolution; the second has twice as many")
    seed: int = Field(0, description="seeds weights, batch order and noise")
    eval_size: int = Field(1000, ge=1, description="held-out images scored each epoch, the same for every trial")
    knn_size: int = Field(5000, ge=1, description="training images whose codes the k-NN classifier is fitted on")


@dataclass(config=STRICT_KEYS)
class DAEConfig(AEConfig):
    """The report's DAE: the AE with leaky ReLUs, trained on inputs with Gaussian noise (std 0.05, 0.25, 0.7)."""

    activation: Literal["relu", "leaky_relu"] = Field("leaky_relu", description="nonlinearity of encoder and decoder")
    noise_std: float = Field(0.25, ge=0, description="std of the Gaussian noise added to training inputs")
    eval_noise_stds: tuple[float, ...] = Field(
        (0.05, 0.25, 0.7), min_length=1, description="noise levels the denoised PSNR is reported at"
    )


def add_noise(x: torch.Tensor, std: float, noise: torch.Tensor | None = None) -> torch.Tensor:
    """x plus Gaussian noise of the given std, clipped back to pixel range [0, 1]."""
    noise = torch.randn_like(x) if noise is None else noise
    return (x + std * noise).clamp(0, 1)


def reconstruction_loss(model: Autoencoder, x: torch.Tensor, noise_std: float) -> torch.Tensor:
    x_in = add_noise(x, noise_std) if noise_std > 0 else x
    return F.mse_loss(model(x_in), x)


def fit_autoencoder(
    cfg: AEConfig, data: Data, device: torch.device | str = "cpu", state: dict | None = None
) -> Iterator[tuple[dict, dict]]:
    """Train an AE (or DAE, for a `DAEConfig`); yield (metrics, resumable state) after each epoch."""
    seed_everything(cfg.seed)
    noise_std = getattr(cfg, "noise_std", 0.0)
    model = Autoencoder(cfg.latent_dim, cfg.activation, cfg.channels).to(device)
    # Fused: one kernel updates every parameter, where the default loops over them in Python
    # (1.07-1.15x the AE's images/s at batch 16 on one CPU thread: bench/throughput.py).
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg.lr, fused=True)
    start = restore(state, model=model, optimizer=optimizer) if state else 0
    train = data.train.images.to(device)
    for epoch in range(start + 1, cfg.epochs + 1):
        model.train()
        total = torch.zeros((), device=device)
        steps = batches(len(train), cfg.batch_size)
        for idx in steps:
            loss = reconstruction_loss(model, train[idx.to(device)], noise_std)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            total += loss.detach()
        metrics = {"epoch": epoch, "train_loss": total.item() / len(steps), **evaluate_autoencoder(model, data, cfg)}
        yield metrics, snapshot(epoch, model=model, optimizer=optimizer)


@torch.no_grad()
def encode(model: Autoencoder, images: torch.Tensor, batch_size: int = 1000) -> torch.Tensor:
    device = next(model.parameters()).device
    return torch.cat([model.encoder(x.to(device)) for x in images.split(batch_size)])


@torch.no_grad()
def evaluate_autoencoder(model: Autoencoder, data: Data, cfg: AEConfig) -> dict[str, float]:
    model.eval()
    device = next(model.parameters()).device
    val = data.val.head(cfg.eval_size)
    x = val.images.to(device)
    z = encode(model, x)
    x_hat = model.decoder(z)
    # Encoding every training image each epoch cost a sixth of an epoch on 54,000 (bench/epoch.py).
    reference = data.train.head(cfg.knn_size)
    metrics = {
        "val_mse": mse(x, x_hat),
        "val_psnr": psnr(x, x_hat),
        "knn_acc": knn_accuracy(encode(model, reference.images), reference.labels, z, val.labels),
    }
    # One fixed noise draw for every level, epoch and trial, so the numbers compare.
    noise = torch.randn(x.shape, generator=torch.Generator().manual_seed(EVAL_SEED)).to(device)
    for std in getattr(cfg, "eval_noise_stds", ()):
        noisy = add_noise(x, std, noise)
        metrics[f"psnr_sigma_{std:g}"] = psnr(x, model(noisy))
        metrics[f"noisy_psnr_sigma_{std:g}"] = psnr(x, noisy)
    return metrics
