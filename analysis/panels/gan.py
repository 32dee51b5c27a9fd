"""The report's figures of the GAN: samples, an interpolation and latent arithmetic."""

from __future__ import annotations

from analysis import gallery
from trainables.families.gan import images, render


def panels(trained, data, judge, seed: int):
    """Novel samples, an interpolation, and latent arithmetic of different and of the same digits."""
    pool = gallery.LatentPool.of_noise(render(trained), trained.cfg.latent_dim, judge, seed)
    return [gallery.samples_panel("GAN samples", images(trained, 16, seed), "Sixteen novel GAN samples from "
                                  "z ~ N(0, I)."),
            *gallery.latent_panels("GAN", render(trained), pool, judge, seed)]
