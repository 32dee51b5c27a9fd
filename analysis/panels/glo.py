"""The report's figures of GLO: samples, reconstructions of training digits, an interpolation and latent
arithmetic."""

from __future__ import annotations

from analysis import gallery
from trainables.families.glo import images, render


def panels(trained, data, judge, seed: int):
    """Novel samples (and the report's sampler's), training digits beside their learned latents' images, an
    interpolation, and latent arithmetic of different and of the same digits."""
    cfg, latents = trained.cfg, trained.network.latents.weight.detach().cpu()
    shown = [gallery.samples_panel("GLO samples", images(trained, 16, seed),
                                   f"Sixteen novel GLO samples, latents drawn by the {cfg.sampler} sampler.")]
    if cfg.sampler != "normal_sphere":
        shown.append(gallery.samples_panel(
            "GLO samples, normal_sphere", images(trained, 16, seed, sampler="normal_sphere"),
            "The same GLO with the report's sampler, N(0, I) projected onto the sphere: such latents lie away from "
            "the learned ones, and their images look like no digit.", name="samples_normal_sphere"))
    picked = gallery.few_of_each_class(data.train.labels)
    shown.append(gallery.reconstructions_panel(
        data.train.images[picked], render(trained)(latents[picked]), data.train.labels[picked],
        "GLO: originals and reconstructions",
        "Training digits of five classes (rows of originals) and the generator's images of their learned latents."))
    pool = gallery.LatentPool.of_latents(latents, data.train.labels, render(trained), judge)
    return shown + gallery.latent_panels("GLO", render(trained), pool, judge, seed, cfg.latent_norm)
