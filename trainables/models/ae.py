"""Convolutional autoencoder: the AE and, trained on noisy inputs, the DAE."""

from __future__ import annotations

import torch
from torch import nn

ACTIVATIONS = {"relu": nn.ReLU, "leaky_relu": lambda: nn.LeakyReLU(0.2)}


class Encoder(nn.Module):
    def __init__(self, latent_dim: int, activation: str = "relu", channels: int = 32):
        super().__init__()
        act = ACTIVATIONS[activation]
        self.net = nn.Sequential(
            nn.Conv2d(1, channels, 3, stride=2, padding=1),  # (B, C, 14, 14)
            nn.BatchNorm2d(channels),
            act(),
            nn.Conv2d(channels, 2 * channels, 3, stride=2, padding=1),  # (B, 2C, 7, 7)
            nn.BatchNorm2d(2 * channels),
            act(),
            nn.Flatten(),
            nn.Linear(2 * channels * 7 * 7, latent_dim),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)  # (B, latent_dim)


class Decoder(nn.Module):
    """The encoder mirrored, ending in a sigmoid so outputs are pixels in [0, 1]."""

    def __init__(self, latent_dim: int, activation: str = "relu", channels: int = 32):
        super().__init__()
        act = ACTIVATIONS[activation]
        self.net = nn.Sequential(
            nn.Linear(latent_dim, 2 * channels * 7 * 7),
            nn.BatchNorm1d(2 * channels * 7 * 7),
            act(),
            nn.Unflatten(1, (2 * channels, 7, 7)),
            nn.ConvTranspose2d(2 * channels, channels, 3, stride=2, padding=1, output_padding=1),  # (B, C, 14, 14)
            nn.BatchNorm2d(channels),
            act(),
            nn.ConvTranspose2d(channels, 1, 3, stride=2, padding=1, output_padding=1),  # (B, 1, 28, 28)
            nn.Sigmoid(),
        )

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z)


class Autoencoder(nn.Module):
    def __init__(self, latent_dim: int, activation: str = "relu", channels: int = 32):
        super().__init__()
        self.encoder = Encoder(latent_dim, activation, channels)
        self.decoder = Decoder(latent_dim, activation, channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.encoder(x))  # (B, 1, 28, 28)
