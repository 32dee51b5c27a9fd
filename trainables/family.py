"""What makes a model a model: one record per family, from its typed config to the images a trained one draws.

A family module (trainables/families/) defines its record around its config (trainables/config/); the functions in
the record import torch and the training loop when first called, so that reading a sweep file or an experiment
(`sweeps status`, `--help`) never loads them. The report's figures of each family live in analysis/panels/.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    import numpy as np
    import torch

    from trainables.data import Data
    from trainables.judge import Judge


@dataclass(frozen=True)
class Metric:
    """A reported metric: which direction is better, and every how many epochs it comes (and after the last)."""

    better: Literal["min", "max"]
    every: int = 1
    every_field: str | None = None  # the config field that sets `every`


def each_epoch(**better: str) -> dict[str, Metric]:
    """Metrics reported after every epoch, by name: each_epoch(val_mse="min")."""
    return {name: Metric(direction) for name, direction in better.items()}  # type: ignore[arg-type]


RECONSTRUCTION = each_epoch(train_loss="min", val_mse="min", val_psnr="max", knn_acc="max")
SAMPLES = each_epoch(fid="min", inception_score="max", class_coverage="max", class_kl="min")
TUNE_METRICS = each_epoch(time_total_s="min", time_this_iter_s="min")  # Tune adds these to every report


@dataclass(frozen=True)
class Family:
    """One model family: its config, its training loop, its checkpoints, its metrics and the images it draws."""

    name: str  # as sweep files and the CLI say it: `model: gan`
    title: str  # the report's heading
    config: type  # the typed config (a pydantic dataclass); its field defaults are the report's settings
    # Train from scratch, or from a checkpoint's `state`: (metrics, resumable state) after each epoch. `judge`
    # scores samples; it is None for families that do not `need_judge`.
    fit: Callable[[object, Data, Judge | None, torch.device | str, dict | None], Iterator[tuple[dict, dict]]]
    build: Callable[[object, dict], torch.nn.Module]  # the trained network a checkpoint's state holds
    metrics: Callable[[object], dict[str, Metric]]  # what a trial with this config reports, besides `epoch`
    # n images (n, 28, 28) in [0, 1] of a trained model: novel samples, or (where not `samples`) reconstructions
    # of the first n test digits of the data. The report's thumbnails, calibration rows and `sweeps sample`.
    images: Callable[[TrainedModel, int, int, Data | None], np.ndarray]
    mutable: tuple[str, ...]  # fields population-based training may change mid-training
    needs_judge: bool  # its sample metrics and figures need the judge classifier
    samples: bool  # `images` are novel samples, not reconstructions (which need the data)


@dataclass
class TrainedModel:
    """A family's network rebuilt from a trial's checkpoint (analysis/checkpoints.py) or a training state."""

    family: Family
    cfg: object  # the family's typed config
    network: torch.nn.Module  # what the family's `build` makes of the checkpoint, in eval mode
    trial_id: str
    epoch: int  # the epoch the checkpoint was taken after

    def images(self, n: int, seed: int = 0, data: Data | None = None) -> np.ndarray:
        """n images (n, 28, 28) in [0, 1]: samples, or reconstructions of the first n test digits of `data`."""
        if not self.family.samples and data is None:
            raise ValueError(f"{self.family.name} shows reconstructions of test digits: pass data=")
        return self.family.images(self, n, seed, data)
