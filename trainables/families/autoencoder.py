"""AE and DAE: the convolutional autoencoder, trained on clean or noisy digits to reconstruct clean ones."""

from __future__ import annotations

from trainables.config.autoencoder import AEConfig, DAEConfig
from trainables.family import RECONSTRUCTION, Family, Metric


def fit_ae(cfg: AEConfig, data, judge, device, state):
    from trainables.autoencoder import fit_autoencoder

    return fit_autoencoder(cfg, data, device, state)


def fit_dae(cfg: DAEConfig, data, judge, device, state):
    from trainables.autoencoder import fit_autoencoder

    return fit_autoencoder(cfg, data, device, state, cfg.noise_std, cfg.eval_noise_stds)


def build(cfg: AEConfig, state: dict):
    from trainables.autoencoder import build_autoencoder

    network = build_autoencoder(cfg)
    network.load_state_dict(state["model"])
    return network


def dae_metrics(cfg: DAEConfig) -> dict[str, Metric]:
    """The AE's, and the denoised and noisy PSNR at each evaluation noise level."""
    per_level = {f"{kind}_sigma_{std:g}": Metric("max") for std in cfg.eval_noise_stds
                 for kind in ("psnr", "noisy_psnr")}
    return {**RECONSTRUCTION, **per_level}


def reconstructions(trained, n: int, seed: int, data):
    from trainables.metrics import reconstruct  # not the figures' module: trials draw this every epoch

    return reconstruct(trained.network, data.test.images[:n])[:, 0].numpy()


AE = Family(
    name="ae", title="Autoencoder", config=AEConfig, fit=fit_ae, build=build, metrics=lambda cfg: RECONSTRUCTION,
    images=reconstructions, mutable=("lr", "batch_size"), needs_judge=False, samples=False,
)
DAE = Family(
    name="dae", title="Denoising autoencoder", config=DAEConfig, fit=fit_dae, build=build, metrics=dae_metrics,
    images=reconstructions, mutable=("lr", "batch_size", "noise_std"), needs_judge=False,
    samples=False,
)
