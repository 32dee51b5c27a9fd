"""The report's DCGAN: a transposed-convolution generator and a two-layer convolutional critic."""

from __future__ import annotations

import torch
from torch import nn


class Generator(nn.Module):
    """z (B, latent_dim) -> images (B, 1, 28, 28) in [-1, 1] (tanh)."""

    def __init__(self, latent_dim: int):
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(latent_dim, 7 * 7 * 256, bias=False),
            nn.BatchNorm1d(7 * 7 * 256),
            nn.LeakyReLU(0.2),
            nn.Unflatten(1, (256, 7, 7)),
            nn.ConvTranspose2d(256, 128, 5, stride=1, padding=2, bias=False),  # (B, 128, 7, 7)
            nn.BatchNorm2d(128),
            nn.LeakyReLU(0.2),
            nn.ConvTranspose2d(128, 64, 5, stride=2, padding=2, output_padding=1, bias=False),  # (B, 64, 14, 14)
            nn.BatchNorm2d(64),
            nn.LeakyReLU(0.2),
            nn.ConvTranspose2d(64, 1, 5, stride=2, padding=2, output_padding=1),  # (B, 1, 28, 28)
            nn.Tanh(),
        )

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z)


class Discriminator(nn.Module):
    """images (B, 1, 28, 28) in [-1, 1] -> one real/fake logit each (B,)."""

    def __init__(self, dropout: float = 0.3):
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(1, 64, 5, stride=2, padding=2),  # (B, 64, 14, 14)
            nn.LeakyReLU(0.2),
            nn.Dropout(dropout),
            nn.Conv2d(64, 128, 5, stride=2, padding=2),  # (B, 128, 7, 7)
            nn.LeakyReLU(0.2),
            nn.Dropout(dropout),
            nn.Flatten(),
            nn.Linear(128 * 7 * 7, 1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).squeeze(1)


def to_pixels(x: torch.Tensor) -> torch.Tensor:
    """Generator output in [-1, 1] -> pixels in [0, 1]."""
    return (x + 1) / 2


def to_tanh_range(x: torch.Tensor) -> torch.Tensor:
    """Pixels in [0, 1] -> the generator's range [-1, 1]."""
    return x * 2 - 1
