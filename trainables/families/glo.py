"""GLO: the GAN's generator with one latent learned per training image by reconstruction; new latents are drawn
from a distribution fitted to the learned ones."""

from __future__ import annotations

from trainables.config.glo import GLOConfig
from trainables.family import RECONSTRUCTION, SAMPLES, Family, Metric, each_epoch


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


GLO = Family(
    name="glo", title="GLO", config=GLOConfig, fit=fit, build=build, metrics=metrics, images=images,
    mutable=("lr_latent", "lr_generator", "batch_size", "sampler", "gmm_components"), needs_judge=True, samples=True,
)
