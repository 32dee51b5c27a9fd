"""The report's DCGAN: a transposed-convolution generator and a two-layer convolutional critic, with InfoGAN's
categorical code where asked."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class Generator(nn.Module):
    """z (B, latent_dim + codes) -> images (B, 1, 28, 28) in [-1, 1] (tanh). The report's widths are 256, 128 and
    64 channels (`width` 64); the first transposed convolution is most of the cost, which grows with width^2. With
    `codes`, the last `codes` entries of z are a one-hot category (InfoGAN's categorical code): see `draw`."""

    def __init__(self, latent_dim: int, width: int = 64, codes: int = 0):
        super().__init__()
        w, self.latent_dim, self.codes = width, latent_dim, codes
        self.net = nn.Sequential(
            nn.Linear(latent_dim + codes, 7 * 7 * 4 * w, bias=False),
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

    def draw(self, n: int, generator: torch.Generator | None = None, device: torch.device | str = "cpu"
             ) -> torch.Tensor:
        """n latents (n, latent_dim + codes) on `device`: noise ~ N(0, I), then a category drawn uniformly,
        one-hot; from `generator`'s stream where given, else from the device's own."""
        where = generator.device if generator is not None else device
        z = torch.randn(n, self.latent_dim, generator=generator, device=where).to(device)
        if not self.codes:
            return z
        category = torch.randint(self.codes, (n,), generator=generator, device=where).to(device)
        return torch.cat([z, F.one_hot(category, self.codes).to(z.dtype)], 1)

    def category(self, z: torch.Tensor) -> torch.Tensor:
        """The category (B,) of latents `draw` drew."""
        return z[:, self.latent_dim:].argmax(1)


class Discriminator(nn.Module):
    """images (B, 1, 28, 28) in [-1, 1] -> one real/fake logit each (B,); the report's widths are 64 and 128.
    With `spectral_norm`, each layer's weights are divided by their largest singular value (SN-GAN). With `codes`,
    a second head on the same features guesses the category of InfoGAN's code a fake was drawn with."""

    def __init__(self, dropout: float = 0.3, width: int = 64, spectral_norm: bool = False, codes: int = 0):
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
        self.code = nn.Linear(2 * w * 7 * 7, codes) if codes else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).squeeze(1)

    def with_code(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Real/fake logits (B,) and the code head's category logits (B, codes), from one pass."""
        features = self.net[:-1](x)
        return self.net[-1](features).squeeze(1), self.code(features)


def to_pixels(x: torch.Tensor) -> torch.Tensor:
    """Generator output in [-1, 1] -> pixels in [0, 1]."""
    return (x + 1) / 2


def to_tanh_range(x: torch.Tensor) -> torch.Tensor:
    """Pixels in [0, 1] -> the generator's range [-1, 1]."""
    return x * 2 - 1
