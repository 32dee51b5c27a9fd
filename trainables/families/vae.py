"""VAE: the AE's encoder and decoder with a Gaussian latent, trained on reconstruction plus `beta` times the KL
divergence from N(0, I), so that decoded N(0, I) draws are samples by construction: the baseline for GAN and GLO."""

from __future__ import annotations

from trainables.config.vae import VAEConfig
from trainables.family import RECONSTRUCTION, SAMPLES, Family


def fit(cfg: VAEConfig, data, judge, device, state):
    from trainables.vae import fit_vae

    return fit_vae(cfg, data, judge, device, state)


def build(cfg: VAEConfig, state: dict):
    from trainables.vae import build_vae

    network = build_vae(cfg)
    network.load_state_dict(state["model"])
    return network


def render(trained):
    from trainables.vae import decode

    return lambda z: decode(trained.network, z)


def images(trained, n: int, seed: int, data=None):
    """Decoded draws of N(0, I)."""
    import torch

    return render(trained)(torch.randn(n, trained.cfg.latent_dim, generator=torch.Generator().manual_seed(seed))
                           )[:, 0].numpy()


VAE = Family(
    name="vae", title="VAE", config=VAEConfig, fit=fit, build=build, metrics=lambda cfg: {**RECONSTRUCTION, **SAMPLES},
    images=images, mutable=("lr", "batch_size", "beta"), needs_judge=True, samples=True,
)
