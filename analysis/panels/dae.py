"""The report's figures of the DAE: t-SNE maps of its codes of noisy digits, and denoising triplets."""

from __future__ import annotations

import torch

from analysis import figures
from analysis.gallery import TSNE_SIZE, Panel, encode_all, reconstruct, tsne_panel
from trainables.autoencoder import add_noise


def panels(trained, data, judge, seed: int):
    """For each of the DAE's evaluation noise levels: a t-SNE map of the codes of noisy test digits, and three
    clean / noisy / denoised triplets."""
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
