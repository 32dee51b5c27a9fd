"""The four models by name: each one's config class and training loop."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import torch

from trainables.autoencoder import AEConfig, DAEConfig, fit_autoencoder
from trainables.data import Data
from trainables.gan import GANConfig, fit_gan
from trainables.glo import GLOConfig, fit_glo
from trainables.judge import Judge


# Each reported metric and the direction that is better.
RECONSTRUCTION = {"train_loss": "min", "val_mse": "min", "val_psnr": "max", "knn_acc": "max"}
SAMPLES = {"fid": "min", "inception_score": "max", "class_coverage": "max", "class_kl": "min"}
# Reported by Tune for every trial.
TUNE_METRICS = {"time_total_s": "min", "time_this_iter_s": "min"}


@dataclass(frozen=True)
class ModelSpec:
    config: type
    fit: Callable[..., Iterator[tuple[dict, dict]]]
    needs_judge: bool  # sample metrics need the judge classifier
    metrics: dict[str, str]  # every key reported each epoch (besides epoch), and its better direction
    mutable: tuple[str, ...]  # fields that may change mid-training, as population-based training does


MODELS = {
    "ae": ModelSpec(AEConfig, fit_autoencoder, False, RECONSTRUCTION, ("lr", "batch_size")),
    "dae": ModelSpec(DAEConfig, fit_autoencoder, False, RECONSTRUCTION, ("lr", "batch_size", "noise_std")),
    "gan": ModelSpec(
        GANConfig, fit_gan, True, {"loss_d": "min", "loss_g": "min", **SAMPLES},
        ("lr_g", "lr_d", "beta1", "dropout", "batch_size"),
    ),
    "glo": ModelSpec(
        GLOConfig, fit_glo, True, {**RECONSTRUCTION, "train_mse": "min", **SAMPLES},
        ("lr_latent", "lr_generator", "batch_size", "sampler", "gmm_components"),
    ),
}


def reported_metrics(model: str, cfg) -> dict[str, str]:
    """Metric name -> better direction ("min"/"max") of everything a trial of `model` with `cfg` reports."""
    metrics = {**MODELS[model].metrics, **TUNE_METRICS}
    for std in getattr(cfg, "eval_noise_stds", ()):  # the DAE's denoised and noisy PSNR per noise level
        metrics[f"psnr_sigma_{std:g}"] = metrics[f"noisy_psnr_sigma_{std:g}"] = "max"
    return metrics


def fit_model(
    model: str, cfg, data: Data, judge: Judge | None, device: torch.device | str, state: dict | None = None
) -> Iterator[tuple[dict, dict]]:
    """Run model's training loop: (metrics, resumable state) after each epoch."""
    spec = MODELS[model]
    if spec.needs_judge:
        return spec.fit(cfg, data, judge, device, state)
    return spec.fit(cfg, data, device, state)


def pick_device() -> torch.device:
    """CUDA where this process may see a GPU (Ray hides GPUs from trials that were given none)."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")
