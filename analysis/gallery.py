"""The figures model families share: sample grids, t-SNE maps, reconstructions, interpolation, latent arithmetic.
Each family's `panels` (analysis/panels/) chooses and captions them."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from matplotlib.figure import Figure

from analysis import figures
from analysis.tsne import embed_tsne
from trainables.judge import Judge
from trainables.metrics import batched, device_of, reconstruct  # noqa: F401 (reconstruct: the figures')
from trainables.models.glo import normalise

log = logging.getLogger(__name__)

TSNE_SIZE = 10_000  # test digits embedded at most
POOL = 4000  # latents the judge reads for the interpolations and the arithmetic
Render = Callable[[torch.Tensor], torch.Tensor]  # latents (N, d) -> images (N, 1, 28, 28) in [0, 1], on the CPU


@dataclass
class Panel:
    """One figure of the report and its caption."""

    name: str
    figure: Figure
    caption: str


def encode_all(encoder: torch.nn.Module, images: torch.Tensor) -> torch.Tensor:
    """Codes (N, d) of images (N, 1, 28, 28), on the CPU."""
    return batched(encoder.eval(), images, device_of(encoder), 1000)


def judge_probs(judge: Judge, images: torch.Tensor) -> torch.Tensor:
    """The judge's class probabilities (N, 10) for images (N, 1, 28, 28) in [0, 1]."""
    return batched(lambda x: judge(x).softmax(1), images, device_of(judge))


def tsne_panel(name: str, codes: torch.Tensor, labels: torch.Tensor, title: str, caption: str,
               seed: int) -> Panel:
    """A t-SNE map of codes (N, d) coloured by label; where there is none to draw (a collapsed encoder's codes all
    alike, a diverged model's not finite), why, in its place: the report's other figures stand without it."""
    try:
        xy = embed_tsne(codes.cpu().numpy(), seed=seed)
    except ValueError as e:
        log.warning("%s: no t-SNE map: %s", title, e)
        return Panel(name, figures.plot_message(f"No map: {e}", title), caption)
    return Panel(name, figures.plot_embedding(xy, labels.numpy(), title), caption)


def samples_panel(title: str, images: np.ndarray, caption: str, name: str = "samples") -> Panel:
    """Sixteen images (16, 28, 28) in a 4 x 4 grid."""
    return Panel(name, figures.plot_image_grid(images, 4, 4, title), caption)


def few_of_each_class(labels: torch.Tensor, per_class: int = 4, classes: int = 5) -> torch.Tensor:
    """Indices of the first `per_class` images of each of the first `classes` digits."""
    return torch.cat([torch.nonzero(labels == digit)[:per_class, 0] for digit in range(classes)])


def reconstructions_panel(originals: torch.Tensor, rebuilt: torch.Tensor, labels: torch.Tensor, title: str,
                          caption: str) -> Panel:
    """Rows of originals (N, 1, 28, 28), each beside a row of their reconstructions, grouped by label."""
    return Panel("reconstructions", figures.plot_reconstructions(
        originals[:, 0].numpy(), rebuilt[:, 0].numpy(), labels.numpy(), title), caption)


@dataclass
class LatentPool:
    """Latents and how sure the judge is that each one's image is each digit."""

    z: torch.Tensor  # (N, d)
    probs: torch.Tensor  # (N, 10)

    @classmethod
    def of_draws(cls, z: torch.Tensor, render: Render, judge: Judge) -> LatentPool:
        """Draws from a prior (N, d): the latents of a GAN or a VAE."""
        return cls(z, judge_probs(judge, render(z)))

    @classmethod
    def of_latents(cls, z: torch.Tensor, labels: torch.Tensor, render: Render, judge: Judge,
                   size: int = POOL) -> LatentPool:
        """Learned latents of labelled images (GLO's): each counts only for its image's digit."""
        z = z[:size]
        labelled = torch.nn.functional.one_hot(labels[: len(z)], 10).bool()
        return cls(z, judge_probs(judge, render(z)).where(labelled, torch.zeros(())))

    def pick(self, digit: int, count: int, noise: torch.Generator) -> torch.Tensor:
        """The `count` latents the judge is surest show `digit`, in random order."""
        best = self.probs[:, digit].argsort(descending=True)[:count]
        return self.z[best[torch.randperm(len(best), generator=noise)]]


def interpolate(z0: torch.Tensor, z1: torch.Tensor, steps: int, latent_norm: str = "none") -> torch.Tensor:
    """`steps` latents (steps, d) on the line from z0 to z1, normalised as training latents are."""
    t = torch.linspace(0, 1, steps)[:, None]
    return normalise((1 - t) * z0 + t * z1, latent_norm)


def latent_arithmetic(render: Render, judge: Judge, pool: LatentPool, x_digit: int, y_digit: int,
                      latent_norm: str = "none", count: int = 20, seed: int = 0) -> dict:
    """X + Y = Z: `count` latents of `x_digit` plus as many (other) latents of `y_digit`, rendered and classified
    by the judge. `consistency` is the share of results given the most common class, `modal_class`."""
    noise = torch.Generator().manual_seed(seed)
    if x_digit == y_digit:
        zx, zy = pool.pick(x_digit, 2 * count, noise).split(count)
    else:
        zx, zy = pool.pick(x_digit, count, noise), pool.pick(y_digit, count, noise)
    images = [render(z) for z in (zx, zy, normalise(zx + zy, latent_norm))]
    labels = [judge_probs(judge, x).argmax(1).numpy() for x in images]
    classes, counts = np.unique(labels[2], return_counts=True)
    return {
        "images": [x[:, 0].numpy() for x in images], "labels": labels,
        "modal_class": int(classes[counts.argmax()]), "consistency": counts.max() / len(labels[2]),
    }


def latent_panels(what: str, render: Render, pool: LatentPool, judge: Judge, seed: int = 0,
                  latent_norm: str = "none") -> list[Panel]:
    """An interpolation from a 1 to a 7, and latent arithmetic for different and for the same digits."""
    noise = torch.Generator().manual_seed(seed)
    ends = [pool.pick(digit, 1, noise)[0] for digit in (1, 7)]
    strip = render(interpolate(*ends, 20, latent_norm))[:, 0].numpy()
    panels = [Panel("interpolation", figures.plot_interpolation(strip, f"{what}: from a 1 to a 7"),
                    "Twenty evenly spaced latents on the line from a latent of a 1 to one of a 7 (each the "
                    "judge's surest of its digit), rendered.")]
    for kind, pairs in (("different", [(1, 7), (3, 6), (0, 4)]), ("same", [(1, 1), (3, 3), (8, 8)])):
        results = [latent_arithmetic(render, judge, pool, x, y, latent_norm, seed=seed) for x, y in pairs]
        rows = [[r["images"][i][0] for r in results] for i in range(3)]
        texts = [[f"judge: {r['labels'][i][0]}" for r in results] for i in range(3)]
        summary = "; ".join(
            f"{x} + {y}: {r['consistency']:.0%} called {r['modal_class']}" for (x, y), r in zip(pairs, results))
        panels.append(Panel(
            f"arithmetic_{kind}", figures.plot_arithmetic(*map(np.stack, rows), *texts, f"{what}: X + Y = Z"),
            f"Latent arithmetic for {kind} digits: the sum of a latent of X and one of Y, rendered. Over 20 pairs "
            f"per row the judge gives the result one class this often: {summary}."))
    return panels
