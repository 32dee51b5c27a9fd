"""GLO: the GAN's generator with one learned latent vector per training image, and samplers for new latents."""

from __future__ import annotations

from typing import get_args

import numpy as np
import torch
from torch import nn

from trainables.config.glo import Sampler
from trainables.models.gan import Generator


def normalise(z: torch.Tensor, latent_norm: str) -> torch.Tensor:
    """Project latents (B, d) onto the unit sphere, into the unit ball, or leave them."""
    norm = z.norm(dim=1, keepdim=True)
    if latent_norm == "sphere":
        return z / norm.clamp_min(1e-8)
    if latent_norm == "ball":
        return z / norm.clamp_min(1.0)
    return z


class GLO(nn.Module):
    """Generator plus a table of latents; `forward(idx)` renders training images idx in [-1, 1]."""

    def __init__(self, num_images: int, latent_dim: int, latent_norm: str = "sphere", width: int = 64):
        super().__init__()
        self.latent_norm = latent_norm
        self.generator = Generator(latent_dim, width)
        # Sparse, so that SparseAdam moves only the rows of the batch.
        self.latents = nn.Embedding(num_images, latent_dim, sparse=True)
        with torch.no_grad():
            z = torch.randn(num_images, latent_dim) / latent_dim**0.5  # norms near 1 even for "none"
            self.latents.weight.copy_(normalise(z, latent_norm))

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        return self.generator(self.latents(idx))  # (B, 1, 28, 28)

    @torch.no_grad()
    def project_(self, idx: torch.Tensor) -> None:
        """Put latents idx back where the normalisation keeps them, after an optimiser step."""
        self.latents.weight[idx] = normalise(self.latents.weight[idx], self.latent_norm)


def sample_latents(
    latents: torch.Tensor,
    n: int,
    sampler: str,
    latent_norm: str,
    generator: torch.Generator,
    gmm_components: int = 10,
) -> torch.Tensor:
    """Draw n new latents (n, d) like the learned ones (N, d).

    normal_sphere: N(0, I) projected onto the unit sphere (the report's choice);
    gaussian_fit: a full-covariance Gaussian fitted to the learned latents (the GLO paper's);
    gmm: a Gaussian mixture fitted to them. Draws are then normalised as training latents are.
    """
    latents = latents.detach().double().cpu()
    d = latents.shape[1]
    if sampler == "normal_sphere":
        return normalise(torch.randn(n, d, generator=generator), "sphere")
    if sampler == "gaussian_fit":
        mean, cov = latents.mean(0), torch.cov(latents.T)
        chol = torch.linalg.cholesky(cov + 1e-6 * torch.eye(d, dtype=cov.dtype))
        z = mean + torch.randn(n, d, generator=generator, dtype=cov.dtype) @ chol.T
    elif sampler == "gmm":
        from sklearn.mixture import GaussianMixture

        seed = int(torch.randint(2**31 - 1, (1,), generator=generator))
        mixture = GaussianMixture(gmm_components, covariance_type="full", reg_covar=1e-5, random_state=seed)
        draws, _ = mixture.fit(latents.numpy()).sample(n)
        z = torch.from_numpy(draws[np.random.default_rng(seed).permutation(n)])  # sample() groups by component
    else:
        raise ValueError(f"unknown sampler {sampler!r}: choose one of {', '.join(get_args(Sampler))}")
    return normalise(z.float(), latent_norm)
