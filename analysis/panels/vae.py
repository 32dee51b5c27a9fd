"""The report's figures of the VAE: a t-SNE map of its latent means, reconstructions, samples, an interpolation
and latent arithmetic."""

from __future__ import annotations

import torch

from analysis import gallery
from trainables.families.vae import images, render
from trainables.vae import decode, means


def panels(trained, data, judge, seed: int):
    """A t-SNE map of the latent means of test digits, test digits beside their reconstructions, novel samples,
    an interpolation, and latent arithmetic of different and of the same digits."""
    network, test, latent_dim = trained.network, data.test.head(gallery.TSNE_SIZE), trained.cfg.latent_dim
    mu = means(network, test.images)
    picked = gallery.few_of_each_class(test.labels)
    draws = torch.randn(gallery.POOL, latent_dim, generator=torch.Generator().manual_seed(seed))
    pool = gallery.LatentPool.of_draws(draws, render(trained), judge)
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
