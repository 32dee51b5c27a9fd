"""AE and DAE: the convolutional autoencoder, trained on clean or noisy digits to reconstruct clean ones."""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from pydantic.dataclasses import dataclass

from trainables.config import MAX_EPOCHS, STRICT_KEYS
from trainables.family import RECONSTRUCTION, Family, Metric


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
        (0.05, 0.25, 0.7), min_length=1, description="noise levels the denoised PSNR is reported at (and the "
        "report's figures show)"
    )


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


def ae_panels(trained, data, judge, seed: int):
    """A t-SNE map of the codes of test digits."""
    from analysis.gallery import TSNE_SIZE, encode_all, tsne_panel

    test, latent_dim = data.test.head(TSNE_SIZE), trained.cfg.latent_dim
    return [tsne_panel(
        "tsne", encode_all(trained.network.encoder, test.images), test.labels,
        f"AE latent codes (latent_dim {latent_dim})",
        f"t-SNE of the {latent_dim}-dimensional codes of {len(test)} test digits, coloured by class. Digits of one "
        "class gather without the AE ever seeing a label.", seed)]


def dae_panels(trained, data, judge, seed: int):
    """For each of the DAE's evaluation noise levels: a t-SNE map of the codes of noisy test digits, and three
    clean / noisy / denoised triplets."""
    import torch

    from analysis import figures
    from analysis.gallery import TSNE_SIZE, Panel, encode_all, reconstruct, tsne_panel
    from trainables.autoencoder import add_noise

    network, test = trained.network, data.test.head(TSNE_SIZE)
    noise = torch.randn(test.images.shape, generator=torch.Generator().manual_seed(seed))
    panels = []
    for std in trained.cfg.eval_noise_stds:
        noisy = add_noise(test.images, std, noise)
        panels.append(tsne_panel(
            f"tsne_sigma_{std:g}", encode_all(network.encoder, noisy), test.labels,
            f"DAE codes of digits with noise std {std:g}",
            f"t-SNE of the DAE's codes of {len(test)} test digits with Gaussian noise of std {std:g} (the DAE was "
            f"trained at {trained.cfg.noise_std:.3g}), coloured by class.", seed))
        denoised = reconstruct(network, noisy[:3])
        panels.append(Panel(
            f"triplets_sigma_{std:g}",
            figures.plot_triplets(test.images[:3, 0].numpy(), noisy[:3, 0].numpy(), denoised[:, 0].numpy(),
                                  f"noise std {std:g}"),
            f"Three test digits: clean, with noise of std {std:g}, and denoised by the DAE."))
    return panels


AE = Family(
    name="ae", title="Autoencoder", config=AEConfig, fit=fit_ae, build=build, metrics=lambda cfg: RECONSTRUCTION,
    images=reconstructions, panels=ae_panels, mutable=("lr", "batch_size"), needs_judge=False, samples=False,
)
DAE = Family(
    name="dae", title="Denoising autoencoder", config=DAEConfig, fit=fit_dae, build=build, metrics=dae_metrics,
    images=reconstructions, panels=dae_panels, mutable=("lr", "batch_size", "noise_std"), needs_judge=False,
    samples=False,
)
