"""GAN: the report's DCGAN, trained adversarially; its samples are scored by the judge."""

from __future__ import annotations

from trainables.config.gan import GANConfig
from trainables.family import SAMPLES, Family, each_epoch


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
    """Latents (N, latent_dim + codes) -> images (N, 1, 28, 28) in [0, 1], by the trained generator."""
    from trainables.gan import generate

    return lambda z: generate(trained.network, z)


def images(trained, n: int, seed: int, data=None):
    import torch

    z = trained.network.draw(n, torch.Generator().manual_seed(seed))
    return render(trained)(z)[:, 0].numpy()


GAN = Family(
    name="gan", title="GAN", config=GANConfig, fit=fit, build=build,
    metrics=lambda cfg: {**each_epoch(loss_d="min", loss_g="min"), **SAMPLES}, images=images,
    mutable=("lr_g", "lr_d", "beta1", "dropout", "batch_size", "info_weight"), needs_judge=True, samples=True,
)
