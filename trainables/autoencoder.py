"""AE and DAE: train the autoencoder on (noisy) digits to reconstruct clean ones; score it on held-out digits."""

from __future__ import annotations

from collections.abc import Iterator

import torch
import torch.nn.functional as F

from trainables.config.autoencoder import AEConfig
from trainables.data import Data
from trainables.metrics import EVAL_SEED, batched, knn_accuracy, mse, psnr
from trainables.models.ae import Autoencoder
from trainables.state import batches, restore, seed_everything, snapshot


def add_noise(x: torch.Tensor, std: float, noise: torch.Tensor | None = None) -> torch.Tensor:
    """x plus Gaussian noise of the given std, clipped back to pixel range [0, 1]."""
    noise = torch.randn_like(x) if noise is None else noise
    return (x + std * noise).clamp(0, 1)


def build_autoencoder(cfg: AEConfig) -> Autoencoder:
    """The network of a config: what training starts from and a checkpoint's weights are loaded into."""
    return Autoencoder(cfg.latent_dim, cfg.activation, cfg.channels)


def reconstruction_loss(model: Autoencoder, x: torch.Tensor, noise_std: float) -> torch.Tensor:
    x_in = add_noise(x, noise_std) if noise_std > 0 else x
    return F.mse_loss(model(x_in), x)


def fit_autoencoder(
    cfg: AEConfig, data: Data, device: torch.device | str = "cpu", state: dict | None = None, noise_std: float = 0.0,
    eval_noise_stds: tuple[float, ...] = (),
) -> Iterator[tuple[dict, dict]]:
    """Train an AE (a DAE, given the `noise_std` of its training inputs); yield (metrics, resumable state) after
    each epoch, the denoised PSNR at each of `eval_noise_stds` among the metrics."""
    seed_everything(cfg.seed)
    model = build_autoencoder(cfg).to(device)
    # Fused: one kernel updates every parameter, where the default loops over them in Python (bench/throughput.py).
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
        metrics = {"epoch": epoch, "train_loss": total.item() / len(steps),
                   **evaluate_autoencoder(model, data, cfg, eval_noise_stds)}
        yield metrics, snapshot(epoch, model=model, optimizer=optimizer)


@torch.no_grad()
def evaluate_autoencoder(model: Autoencoder, data: Data, cfg: AEConfig, noise_stds: tuple[float, ...] = ()
                         ) -> dict[str, float]:
    model.eval()
    device = next(model.parameters()).device
    val = data.val.head(cfg.eval_size)
    x = val.images.to(device)
    z = batched(model.encoder, x, device, 1000)
    x_hat = model.decoder(z)
    # The k-NN is fitted on `knn_size` training codes, not all of them: encoding them all is costly (bench/epoch.py).
    reference = data.train.head(cfg.knn_size)
    codes = batched(model.encoder, reference.images, device, 1000)
    metrics = {
        "val_mse": mse(x, x_hat),
        "val_psnr": psnr(x, x_hat),
        "knn_acc": knn_accuracy(codes, reference.labels, z, val.labels),
    }
    # One fixed noise draw for every level, epoch and trial, so the numbers compare.
    noise = torch.randn(x.shape, generator=torch.Generator().manual_seed(EVAL_SEED)).to(device)
    for std in noise_stds:
        noisy = add_noise(x, std, noise)
        metrics[f"psnr_sigma_{std:g}"] = psnr(x, model(noisy))
        metrics[f"noisy_psnr_sigma_{std:g}"] = psnr(x, noisy)
    return metrics
