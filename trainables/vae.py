"""The VAE's network and training loop: reconstruction (Bernoulli likelihood) plus beta times the KL term."""

from __future__ import annotations

from collections.abc import Iterator

import torch
import torch.nn.functional as F
from torch import nn

from trainables.config.vae import VAEConfig
from trainables.data import Data
from trainables.judge import Judge
from trainables.metrics import EVAL_SEED, SampleScorer, batched, knn_accuracy, mse, psnr
from trainables.models.ae import Decoder, Encoder
from trainables.state import batches, restore, seed_everything, snapshot


class VAE(nn.Module):
    """The AE's encoder, giving a mean and a log-variance per latent, and its decoder."""

    def __init__(self, latent_dim: int, activation: str = "relu", channels: int = 32):
        super().__init__()
        self.encoder = Encoder(2 * latent_dim, activation, channels)
        self.decoder = Decoder(latent_dim, activation, channels)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Reconstructions of x (B, 1, 28, 28) from reparameterised draws; the posteriors' means and log-variances."""
        mu, logvar = self.encoder(x).chunk(2, dim=1)
        z = mu + (0.5 * logvar).exp() * torch.randn_like(mu)
        return self.decoder(z), mu, logvar


def build_vae(cfg: VAEConfig) -> VAE:
    """The network of a config: what training starts from and a checkpoint's weights are loaded into."""
    return VAE(cfg.latent_dim, cfg.activation, cfg.channels)


def vae_loss(model: VAE, x: torch.Tensor, beta: float) -> torch.Tensor:
    """The negative evidence bound per image (with the KL term weighted by beta): summed over pixels and latents."""
    x_hat, mu, logvar = model(x)
    reconstruction = F.binary_cross_entropy(x_hat, x, reduction="sum")
    kl = -0.5 * (1 + logvar - mu.pow(2) - logvar.exp()).sum()
    return (reconstruction + beta * kl) / len(x)


def fit_vae(
    cfg: VAEConfig, data: Data, judge: Judge, device: torch.device | str = "cpu", state: dict | None = None
) -> Iterator[tuple[dict, dict]]:
    """Train the VAE; yield (metrics, resumable state) after each epoch."""
    seed_everything(cfg.seed)
    model = build_vae(cfg).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg.lr, fused=True)
    start = restore(state, model=model, optimizer=optimizer) if state else 0
    train = data.train.images.to(device)
    scorer = SampleScorer(judge, data.val.images[: cfg.eval_size])
    noise = torch.randn(cfg.eval_size, cfg.latent_dim, generator=torch.Generator().manual_seed(EVAL_SEED))
    for epoch in range(start + 1, cfg.epochs + 1):
        model.train()
        total = torch.zeros((), device=device)
        steps = batches(len(train), cfg.batch_size)
        for idx in steps:
            loss = vae_loss(model, train[idx.to(device)], cfg.beta)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            total += loss.detach()
        metrics = {"epoch": epoch, "train_loss": total.item() / len(steps), **evaluate_vae(model, data, cfg),
                   **scorer.score(decode(model, noise))}
        yield metrics, snapshot(epoch, model=model, optimizer=optimizer)


def means(model: VAE, images: torch.Tensor) -> torch.Tensor:
    """The posterior means (N, latent_dim) of images (N, 1, 28, 28), in eval mode."""
    model.eval()
    return batched(model.encoder, images, next(model.parameters()).device, 1000).chunk(2, dim=1)[0]


def decode(model: VAE, z: torch.Tensor) -> torch.Tensor:
    """Images (N, 1, 28, 28) in [0, 1] of latents z (N, latent_dim), in eval mode."""
    model.eval()
    return batched(model.decoder, z, next(model.parameters()).device)


@torch.no_grad()
def evaluate_vae(model: VAE, data: Data, cfg: VAEConfig) -> dict[str, float]:
    """The AE's metrics of held-out digits, decoded from their posterior means."""
    val, reference = data.val.head(cfg.eval_size), data.train.head(cfg.knn_size)
    z = means(model, val.images)
    x_hat = decode(model, z)
    return {
        "val_mse": mse(val.images, x_hat),
        "val_psnr": psnr(val.images, x_hat),
        "knn_acc": knn_accuracy(means(model, reference.images), reference.labels, z, val.labels),
    }
