"""GLO: the GAN's generator with one latent learned per training image by reconstruction; new latents are drawn
from a distribution fitted to the learned ones."""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from pydantic.dataclasses import dataclass

from trainables.config import MAX_EPOCHS, STRICT_KEYS
from trainables.family import RECONSTRUCTION, SAMPLES, Family, Metric, each_epoch


LatentNorm = Literal["sphere", "ball", "none"]
Sampler = Literal["normal_sphere", "gaussian_fit", "gmm"]


@dataclass(config=STRICT_KEYS)
class GLOConfig:
    """The report's GLO: latent_dim 74 on the unit sphere, Adam lr 0.01 (latents) and 0.001 (generator),
    batch 32, 15 epochs."""

    latent_dim: int = Field(74, ge=1, description="size of each image's latent vector")
    lr_latent: float = Field(0.01, gt=0, description="(sparse) Adam learning rate of the latents")
    lr_generator: float = Field(0.001, gt=0, description="Adam learning rate of the generator")
    width: int = Field(64, ge=1, description="channels of the generator's last hidden layer (the others: 2x and 4x); "
                       "the report's is 64")
    loss: Literal["l2", "l1", "laplacian_l1"] = Field(
        "l2", description="reconstruction loss: the report's L2, L1, or the GLO paper's L1 of a Laplacian pyramid"
    )
    latent_norm: LatentNorm = Field("sphere", description="where latents are kept")
    sampler: Sampler = Field(
        "normal_sphere", description="how new latents are drawn: the report's, the GLO paper's, or a mixture"
    )
    gmm_components: int = Field(10, ge=1, description="mixture components of the gmm sampler")
    batch_size: int = Field(32, ge=1, description="images per step")
    epochs: int = Field(15, ge=1, le=MAX_EPOCHS, description="passes over the training partition")
    seed: int = Field(0, description="seeds weights, latents and batch order")
    eval_size: int = Field(1000, ge=2, description="samples scored each epoch, against as many held-out images")
    encode_size: int = Field(250, ge=1, description="held-out images given latents each epoch, for k-NN and val_mse")
    encode_steps: int = Field(30, ge=1, description="Adam steps that fit a held-out image's latent")
    encode_every: int = Field(3, ge=1, description="epochs between held-out encodings (val_mse, val_psnr, knn_acc)")


def metrics(cfg: GLOConfig) -> dict[str, Metric]:
    """Held-out images are given latents (val_mse, val_psnr, knn_acc) every `encode_every` epochs only: sweeps rank
    GLO by FID (bench/epoch.py times the encoding)."""
    held_out = {name: Metric(m.better, cfg.encode_every, "encode_every")
                for name, m in RECONSTRUCTION.items() if name != "train_loss"}
    return {"train_loss": RECONSTRUCTION["train_loss"], **held_out, **each_epoch(train_mse="min"), **SAMPLES}


def fit(cfg: GLOConfig, data, judge, device, state):
    from trainables.glo import fit_glo

    return fit_glo(cfg, data, judge, device, state)


def build(cfg: GLOConfig, state: dict):
    """The generator and the latents of the training images."""
    from trainables.glo import build_glo

    network = build_glo(cfg, state["model"]["latents.weight"].shape[0])
    network.load_state_dict(state["model"])
    return network


def render(trained):
    from trainables.gan import generate

    return lambda z: generate(trained.network.generator, z)


def images(trained, n: int, seed: int, data=None, sampler: str | None = None):
    """Samples of latents drawn by the trial's sampler (or `sampler`)."""
    import torch

    from trainables.models.glo import sample_latents

    cfg = trained.cfg
    z = sample_latents(trained.network.latents.weight, n, sampler or cfg.sampler, cfg.latent_norm,
                       torch.Generator().manual_seed(seed), cfg.gmm_components)
    return render(trained)(z)[:, 0].numpy()


def panels(trained, data, judge, seed: int):
    """Novel samples (and the report's sampler's), training digits beside their learned latents' images, an
    interpolation, and latent arithmetic of different and of the same digits."""
    from analysis import gallery

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


GLO = Family(
    name="glo", title="GLO", config=GLOConfig, fit=fit, build=build, metrics=metrics, images=images, panels=panels,
    mutable=("lr_latent", "lr_generator", "batch_size", "sampler", "gmm_components"), needs_judge=True, samples=True,
)
