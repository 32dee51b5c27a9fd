"""The report's figures of the AE: a t-SNE map of its codes of test digits."""

from __future__ import annotations

from analysis.gallery import TSNE_SIZE, encode_all, tsne_panel


def panels(trained, data, judge, seed: int):
    """A t-SNE map of the codes of test digits."""
    test, latent_dim = data.test.head(TSNE_SIZE), trained.cfg.latent_dim
    return [tsne_panel(
        "tsne", encode_all(trained.network.encoder, test.images), test.labels,
        f"AE latent codes (latent_dim {latent_dim})",
        f"t-SNE of the {latent_dim}-dimensional codes of {len(test)} test digits, coloured by class. Digits of one "
        "class gather without the AE ever seeing a label.", seed)]
