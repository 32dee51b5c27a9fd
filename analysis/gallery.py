"""The report's figures of one trained model: samples, t-SNE maps, denoising, interpolation, latent arithmetic."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from matplotlib.figure import Figure

from analysis import figures
from analysis.checkpoints import TrainedModel
from analysis.tsne import embed_tsne
from trainables.autoencoder import add_noise, encode
from trainables.data import Data
from trainables.gan import generate
from trainables.judge import Judge
from trainables.models.glo import normalise, sample_latents

NOISE_STDS = (0.05, 0.25, 0.7)  # the report's DAE noise levels
TSNE_SIZE = 10_000  # test digits embedded at most


@dataclass
class Panel:
    """One figure of the report and its caption."""

    name: str
    figure: Figure
    caption: str


def draw_samples(trained: TrainedModel, n: int, seed: int = 0, data: Data | None = None,
                 sampler: str | None = None) -> np.ndarray:
    """n images (n, 28, 28) in [0, 1]: GAN samples of z ~ N(0, I), GLO samples from its sampler (or `sampler`),
    or the AE's / DAE's reconstructions of the first n test digits of `data`."""
    noise = torch.Generator().manual_seed(seed)
    cfg, network = trained.cfg, trained.network
    if trained.model == "gan":
        images = generate(network, torch.randn(n, cfg.latent_dim, generator=noise))
    elif trained.model == "glo":
        z = sample_latents(network.latents.weight, n, sampler or cfg.sampler, cfg.latent_norm, noise,
                           cfg.gmm_components)
        images = generate(network.generator, z)
    else:
        if data is None:
            raise ValueError("reconstructions need the data: pass data=")
        with torch.no_grad():
            images = network(data.test.images[:n].to(device_of(network))).cpu()
    return images[:, 0].numpy()


def device_of(network: torch.nn.Module) -> torch.device:
    return next(network.parameters()).device


def render(trained: TrainedModel, z: torch.Tensor) -> torch.Tensor:
    """Images (N, 1, 28, 28) in [0, 1] of latents z (N, d), by the GAN's or GLO's generator."""
    generator = trained.network if trained.model == "gan" else trained.network.generator
    return generate(generator, z)


def judge_probs(judge: Judge, images: torch.Tensor) -> torch.Tensor:
    """The judge's class probabilities (N, 10) for images (N, 1, 28, 28) in [0, 1]."""
    with torch.no_grad():
        return torch.cat([judge(x.to(device_of(judge))).softmax(1).cpu() for x in images.split(500)])


@dataclass
class LatentPool:
    """Latents and how sure the judge is that each one's image is each digit: GAN noise, or GLO's training
    latents (where a latent counts only for its image's labelled digit)."""

    z: torch.Tensor  # (N, d)
    probs: torch.Tensor  # (N, 10)

    @classmethod
    def build(cls, trained: TrainedModel, judge: Judge, data: Data, seed: int = 0, size: int = 4000) -> LatentPool:
        if trained.model == "gan":
            z = torch.randn(size, trained.cfg.latent_dim, generator=torch.Generator().manual_seed(seed))
            return cls(z, judge_probs(judge, render(trained, z)))
        z = trained.network.latents.weight.detach().cpu()[:size]
        probs = judge_probs(judge, render(trained, z))
        labelled = torch.nn.functional.one_hot(data.train.labels[: len(z)], 10).bool()
        return cls(z, probs.where(labelled, torch.zeros(())))

    def pick(self, digit: int, count: int, noise: torch.Generator) -> torch.Tensor:
        """The `count` latents the judge is surest show `digit`, in random order."""
        best = self.probs[:, digit].argsort(descending=True)[:count]
        return self.z[best[torch.randperm(len(best), generator=noise)]]


def interpolate(z0: torch.Tensor, z1: torch.Tensor, steps: int, latent_norm: str = "none") -> torch.Tensor:
    """`steps` latents (steps, d) on the line from z0 to z1, normalised as training latents are."""
    t = torch.linspace(0, 1, steps)[:, None]
    return normalise((1 - t) * z0 + t * z1, latent_norm)


def latent_arithmetic(trained: TrainedModel, judge: Judge, pool: LatentPool, x_digit: int, y_digit: int,
                      count: int = 20, seed: int = 0) -> dict:
    """X + Y = Z: `count` latents of `x_digit` plus as many (other) latents of `y_digit`, rendered and classified
    by the judge. `consistency` is the share of results given the most common class, `modal_class`."""
    noise = torch.Generator().manual_seed(seed)
    if x_digit == y_digit:
        zx, zy = pool.pick(x_digit, 2 * count, noise).split(count)
    else:
        zx, zy = pool.pick(x_digit, count, noise), pool.pick(y_digit, count, noise)
    latent_norm = getattr(trained.cfg, "latent_norm", "none")
    images = [render(trained, z) for z in (zx, zy, normalise(zx + zy, latent_norm))]
    labels = [judge_probs(judge, x).argmax(1).numpy() for x in images]
    classes, counts = np.unique(labels[2], return_counts=True)
    return {
        "images": [x[:, 0].numpy() for x in images], "labels": labels,
        "modal_class": int(classes[counts.argmax()]), "consistency": counts.max() / len(labels[2]),
    }


def tsne_panel(name: str, codes: torch.Tensor, labels: torch.Tensor, title: str, caption: str,
               seed: int) -> Panel:
    xy = embed_tsne(codes.cpu().numpy(), seed=seed)
    return Panel(name, figures.plot_embedding(xy, labels.numpy(), title), caption)


def autoencoder_panels(trained: TrainedModel, data: Data, seed: int = 0) -> list[Panel]:
    """AE: t-SNE of test codes. DAE: for each noise level, t-SNE of the codes of noisy test digits and three
    clean / noisy / denoised triplets."""
    network, test = trained.network, data.test.head(TSNE_SIZE)
    device = device_of(network)
    if trained.model == "ae":
        return [tsne_panel(
            "tsne", encode(network, test.images), test.labels, f"AE latent codes (latent_dim {trained.cfg.latent_dim})",
            f"t-SNE of the {trained.cfg.latent_dim}-dimensional codes of {len(test)} test digits, coloured by "
            "class. Digits of one class gather without the AE ever seeing a label.", seed)]
    panels = []
    noise = torch.randn(test.images.shape, generator=torch.Generator().manual_seed(seed))
    for std in NOISE_STDS:
        noisy = add_noise(test.images, std, noise)
        panels.append(tsne_panel(
            f"tsne_sigma_{std:g}", encode(network, noisy), test.labels, f"DAE codes of digits with noise std {std:g}",
            f"t-SNE of the DAE's codes of {len(test)} test digits with Gaussian noise of std {std:g} (the DAE was "
            f"trained at {trained.cfg.noise_std:.3g}), coloured by class.", seed))
        with torch.no_grad():
            denoised = network(noisy[:3].to(device)).cpu()
        panels.append(Panel(
            f"triplets_sigma_{std:g}",
            figures.plot_triplets(test.images[:3, 0].numpy(), noisy[:3, 0].numpy(), denoised[:, 0].numpy(),
                                  f"noise std {std:g}"),
            f"Three test digits: clean, with noise of std {std:g}, and denoised by the DAE."))
    return panels


def sample_panels(trained: TrainedModel, judge: Judge, data: Data, seed: int = 0) -> list[Panel]:
    """GAN and GLO: novel samples, interpolation, and latent arithmetic for different and for the same digits."""
    cfg, what = trained.cfg, trained.model.upper()
    panels = [Panel("samples", figures.plot_image_grid(draw_samples(trained, 16, seed), 4, 4, f"{what} samples"),
                    f"Sixteen novel {what} samples" + (" from z ~ N(0, I)." if trained.model == "gan" else
                                                       f", latents drawn by the {cfg.sampler} sampler."))]
    if trained.model == "glo" and cfg.sampler != "normal_sphere":
        panels.append(Panel(
            "samples_normal_sphere",
            figures.plot_image_grid(draw_samples(trained, 16, seed, sampler="normal_sphere"), 4, 4,
                                    "GLO samples, normal_sphere"),
            "The same GLO with the report's sampler, N(0, I) projected onto the sphere: such latents lie away "
            "from the learned ones, and their images look like no digit."))
    if trained.model == "glo":
        panels.append(reconstruction_panel(trained, data))
    pool = LatentPool.build(trained, judge, data, seed)
    noise = torch.Generator().manual_seed(seed)
    ends = [pool.pick(digit, 1, noise)[0] for digit in (1, 7)]
    strip = render(trained, interpolate(*ends, 20, getattr(cfg, "latent_norm", "none")))[:, 0].numpy()
    panels.append(Panel("interpolation", figures.plot_interpolation(strip, f"{what}: from a 1 to a 7"),
                        "Twenty evenly spaced latents on the line from a latent of a 1 to one of a 7 (each the "
                        "judge's surest of its digit), rendered."))
    for kind, pairs in (("different", [(1, 7), (3, 6), (0, 4)]), ("same", [(1, 1), (3, 3), (8, 8)])):
        results = [latent_arithmetic(trained, judge, pool, x, y, seed=seed) for x, y in pairs]
        rows = [[r["images"][i][0] for r in results] for i in range(3)]
        texts = [[f"judge: {r['labels'][i][0]}" for r in results] for i in range(3)]
        summary = "; ".join(
            f"{x} + {y}: {r['consistency']:.0%} called {r['modal_class']}" for (x, y), r in zip(pairs, results))
        panels.append(Panel(
            f"arithmetic_{kind}", figures.plot_arithmetic(*map(np.stack, rows), *texts, f"{what}: X + Y = Z"),
            f"Latent arithmetic for {kind} digits: the sum of a latent of X and one of Y, rendered. Over 20 pairs "
            f"per row the judge gives the result one class this often: {summary}."))
    return panels


def reconstruction_panel(trained: TrainedModel, data: Data) -> Panel:
    """GLO: four training images of each of five classes beside their images from the learned latents."""
    labels = data.train.labels
    idx = torch.cat([torch.nonzero(labels == digit)[:4, 0] for digit in range(5)])
    with torch.no_grad():
        rebuilt = render(trained, trained.network.latents.weight[idx].detach())
    return Panel(
        "reconstructions",
        figures.plot_reconstructions(data.train.images[idx, 0].numpy(), rebuilt[:, 0].numpy(), labels[idx].numpy(),
                                     "GLO: originals and reconstructions"),
        "Training digits of five classes (rows of originals) and the generator's images of their learned latents.")


def model_panels(trained: TrainedModel, data: Data, judge: Judge | None, seed: int = 0) -> list[Panel]:
    if trained.model in ("ae", "dae"):
        return autoencoder_panels(trained, data, seed)
    if judge is None:
        raise ValueError(f"{trained.model} figures pick latents with the judge: pass judge=")
    return sample_panels(trained, judge, data, seed)
