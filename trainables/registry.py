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


@dataclass(frozen=True)
class ModelSpec:
    config: type
    fit: Callable[..., Iterator[tuple[dict, dict]]]
    needs_judge: bool  # sample metrics need the judge classifier


MODELS = {
    "ae": ModelSpec(AEConfig, fit_autoencoder, needs_judge=False),
    "dae": ModelSpec(DAEConfig, fit_autoencoder, needs_judge=False),
    "gan": ModelSpec(GANConfig, fit_gan, needs_judge=True),
    "glo": ModelSpec(GLOConfig, fit_glo, needs_judge=True),
}


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
