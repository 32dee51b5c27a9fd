"""The report's DCGAN: a transposed-convolution generator and a two-layer convolutional critic."""

from __future__ import annotations

import torch
from torch import nn


class Generator(nn.Module):
    """z (B, latent_dim) -> images (B, 1, 28, 28) in [-1, 1] (tanh). The report's widths are 256, 128 and 64
    channels (`width` 64); the first transposed convolution is most of the cost, which grows with width^2."""

    def __init__(self, latent_dim: int, width: int = 64):
        super().__init__()
        w = width
        self.net = nn.Sequential(
            nn.Linear(latent_dim, 7 * 7 * 4 * w, bias=False),
            nn.BatchNorm1d(7 * 7 * 4 * w),
            nn.LeakyReLU(0.2),
            nn.Unflatten(1, (4 * w, 7, 7)),
            nn.ConvTranspose2d(4 * w, 2 * w, 5, stride=1, padding=2, bias=False),  # (B, 2w, 7, 7)
            nn.BatchNorm2d(2 * w),
            nn.LeakyReLU(0.2),
            nn.ConvTranspose2d(2 * w, w, 5, stride=2, padding=2, output_padding=1, bias=False),  # (B, w, 14, 14)
            nn.BatchNorm2d(w),
            nn.LeakyReLU(0.2),
            nn.ConvTranspose2d(w, 1, 5, stride=2, padding=2, output_padding=1),  # (B, 1, 28, 28)
            nn.Tanh(),
        )

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z)


class Discriminator(nn.Module):
    """images (B, 1, 28, 28) in [-1, 1] -> one real/fake logit each (B,); the report's widths are 64 and 128.
    With `spectral_norm`, each layer's weights are divided by their largest singular value (SN-GAN)."""

    def __init__(self, dropout: float = 0.3, width: int = 64, spectral_norm: bool = False):
        super().__init__()
        w = width
        norm = nn.utils.parametrizations.spectral_norm if spectral_norm else lambda layer: layer
        self.net = nn.Sequential(
            norm(nn.Conv2d(1, w, 5, stride=2, padding=2)),  # (B, w, 14, 14)
            nn.LeakyReLU(0.2),
            nn.Dropout(dropout),
            norm(nn.Conv2d(w, 2 * w, 5, stride=2, padding=2)),  # (B, 2w, 7, 7)
            nn.LeakyReLU(0.2),
            nn.Dropout(dropout),
            nn.Flatten(),
            norm(nn.Linear(2 * w * 7 * 7, 1)),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).squeeze(1)


def to_pixels(x: torch.Tensor) -> torch.Tensor:
    """Generator output in [-1, 1] -> pixels in [0, 1]."""
    return (x + 1) / 2


def to_tanh_range(x: torch.Tensor) -> torch.Tensor:
    """Pixels in [0, 1] -> the generator's range [-1, 1]."""
    return x * 2 - 1
