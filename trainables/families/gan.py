"""GAN: the report's DCGAN, trained adversarially; its samples are scored by the judge."""

from __future__ import annotations

from pydantic import Field
from pydantic.dataclasses import dataclass

from trainables.config import MAX_EPOCHS, STRICT_KEYS
from trainables.family import SAMPLES, Family, each_epoch


@dataclass(config=STRICT_KEYS)
class GANConfig:
    """The report's DCGAN; Adam settings from the DCGAN paper (lr 2e-4, beta1 0.5)."""

    latent_dim: int = Field(100, ge=1, description="size of the noise vector z")
    lr_g: float = Field(2e-4, gt=0, description="generator Adam learning rate")
    lr_d: float = Field(2e-4, gt=0, description="discriminator Adam learning rate")
    beta1: float = Field(0.5, ge=0, lt=1, description="Adam beta1 of both optimisers")
    dropout: float = Field(0.3, ge=0, lt=1, description="dropout in the discriminator")
    width: int = Field(64, ge=1, description="channels of the generator's last hidden layer and the critic's first "
                       "(the others: 2x and 4x); the report's is 64")
    ema: float = Field(0.0, ge=0, lt=1, description="decay of a moving average of the generator's weights that "
                       "samples are drawn from (0: none, the report's; 0.999 averages about the last 1,000 steps)")
    batch_size: int = Field(64, ge=1, description="real images per step")
    epochs: int = Field(20, ge=1, le=MAX_EPOCHS, description="passes over the training partition")
    seed: int = Field(0, description="seeds weights, batch order and noise")
    eval_size: int = Field(1000, ge=2, description="samples scored each epoch, against as many held-out images")


def fit(cfg: GANConfig, data, judge, device, state):
    from trainables.gan import fit_gan

    return fit_gan(cfg, data, judge, device, state)


def build(cfg: GANConfig, state: dict):
    """The generator samples come from: the moving average of its weights where `ema` > 0."""
    from trainables.gan import build_generator

    network = build_generator(cfg)
    if cfg.ema > 0:  # the module inside torch's AveragedModel
        network.load_state_dict({k.removeprefix("module."): v for k, v in state["ema"].items()
                                 if k.startswith("module.")})
    else:
        network.load_state_dict(state["generator"])
    return network


def render(trained):
    """Latents (N, latent_dim) -> images (N, 1, 28, 28) in [0, 1], by the trained generator."""
    from trainables.gan import generate

    return lambda z: generate(trained.network, z)


def images(trained, n: int, seed: int, data=None):
    import torch

    z = torch.randn(n, trained.cfg.latent_dim, generator=torch.Generator().manual_seed(seed))
    return render(trained)(z)[:, 0].numpy()


def panels(trained, data, judge, seed: int):
    """Novel samples, an interpolation, and latent arithmetic of different and of the same digits."""
    from analysis import gallery

    pool = gallery.LatentPool.of_noise(render(trained), trained.cfg.latent_dim, judge, seed)
    return [gallery.samples_panel("GAN samples", images(trained, 16, seed), "Sixteen novel GAN samples from "
                                  "z ~ N(0, I)."),
            *gallery.latent_panels("GAN", render(trained), pool, judge, seed)]


GAN = Family(
    name="gan", title="GAN", config=GANConfig, fit=fit, build=build,
    metrics=lambda cfg: {**each_epoch(loss_d="min", loss_g="min"), **SAMPLES}, images=images, panels=panels,
    mutable=("lr_g", "lr_d", "beta1", "dropout", "batch_size"), needs_judge=True, samples=True,
)
