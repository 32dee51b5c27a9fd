"""The report's figures of the GAN: samples, an interpolation and latent arithmetic."""

from __future__ import annotations

import torch

from analysis import gallery
from trainables.families.gan import images, render


def panels(trained, data, judge, seed: int):
    """Novel samples, an interpolation, and latent arithmetic of different and of the same digits."""
    draws = trained.network.draw(gallery.POOL, torch.Generator().manual_seed(seed))
    pool = gallery.LatentPool.of_draws(draws, render(trained), judge)
    codes = trained.cfg.codes
    prior = "z ~ N(0, I)" + (f" and one of {codes} categories of InfoGAN's code" if codes else "")
    return [gallery.samples_panel("GAN samples", images(trained, 16, seed), f"Sixteen novel GAN samples from {prior}."),
            *gallery.latent_panels("GAN", render(trained), pool, judge, seed)]
