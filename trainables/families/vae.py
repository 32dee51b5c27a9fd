"""VAE: the AE's encoder and decoder with a Gaussian latent, trained on reconstruction plus `beta` times the KL
divergence from N(0, I), so that decoded N(0, I) draws are samples by construction: the baseline for GAN and GLO."""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from pydantic.dataclasses import dataclass

from trainables.config import MAX_EPOCHS, STRICT_KEYS
from trainables.family import RECONSTRUCTION, SAMPLES, Family


@dataclass(config=STRICT_KEYS)
class VAEConfig:
    """A convolutional VAE of the AE's shape (Kingma and Welling, 2014; beta as in Higgins et al., 2017)."""

    latent_dim: int = Field(16, ge=1, description="size of the Gaussian latent")
    lr: float = Field(1e-3, gt=0, description="Adam learning rate")
    beta: float = Field(1.0, ge=0, description="weight of the KL term (1: the VAE's evidence bound)")
    batch_size: int = Field(64, ge=1, description="images per step")
    epochs: int = Field(10, ge=1, le=MAX_EPOCHS, description="passes over the training partition")
    activation: Literal["relu", "leaky_relu"] = Field("relu", description="nonlinearity of encoder and decoder")
    channels: int = Field(32, ge=1, description="filters of the first convolution; the second has twice as many")
    seed: int = Field(0, description="seeds weights, batch order and the latent draws")
    eval_size: int = Field(1000, ge=2, description="held-out images reconstructed and samples scored each epoch")
    knn_size: int = Field(5000, ge=1, description="training images whose latent means the k-NN classifier is fitted on")


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


def panels(trained, data, judge, seed: int):
    """A t-SNE map of the latent means of test digits, test digits beside their reconstructions, novel samples,
    an interpolation, and latent arithmetic of different and of the same digits."""
    from analysis import gallery
    from trainables.vae import decode, means

    network, test, latent_dim = trained.network, data.test.head(gallery.TSNE_SIZE), trained.cfg.latent_dim
    mu = means(network, test.images)
    picked = gallery.few_of_each_class(test.labels)
    pool = gallery.LatentPool.of_noise(render(trained), latent_dim, judge, seed)
    return [
        gallery.tsne_panel("tsne", mu, test.labels, f"VAE latent means (latent_dim {latent_dim})",
                           f"t-SNE of the means of the VAE's posterior of {len(test)} test digits, coloured by class.",
                           seed),
        gallery.reconstructions_panel(
            test.images[picked], decode(network, mu[picked]), test.labels[picked], "VAE: originals and reconstructions",
            "Test digits of five classes (rows of originals) and the decoder's images of their latent means."),
        gallery.samples_panel("VAE samples", images(trained, 16, seed), "Sixteen novel VAE samples: decoded draws of "
                              "z ~ N(0, I), the prior the KL term pulls the latents towards."),
        *gallery.latent_panels("VAE", render(trained), pool, judge, seed),
    ]


VAE = Family(
    name="vae", title="VAE", config=VAEConfig, fit=fit, build=build, metrics=lambda cfg: {**RECONSTRUCTION, **SAMPLES},
    images=images, panels=panels, mutable=("lr", "batch_size", "beta"), needs_judge=True, samples=True,
)
