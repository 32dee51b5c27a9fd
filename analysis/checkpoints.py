"""A trial's checkpoint back as a trained model: its config and network."""

from __future__ import annotations

import pickle
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from torch import nn

from analysis.results import Results, best_checkpoint, best_trials, open_results
from sweeps.errors import SweepError
from trainables.config import parse_config
from trainables.data import Data
from trainables.family import Family
from trainables.state import STATE_FILE, load_state


@dataclass
class TrainedModel:
    family: Family
    cfg: object  # the family's typed config
    network: nn.Module  # what the family's `build` makes of the checkpoint, in eval mode
    trial_id: str
    epoch: int  # the epoch the checkpoint was taken after

    def images(self, n: int, seed: int = 0, data: Data | None = None) -> np.ndarray:
        """n images (n, 28, 28) in [0, 1]: samples, or reconstructions of the first n test digits of `data`."""
        if not self.family.samples and data is None:
            raise ValueError(f"{self.family.name} shows reconstructions of test digits: pass data=")
        return self.family.images(self, n, seed, data)


def pick_trial(results: Results, trial_id: str | None = None) -> str:
    """`trial_id` if given, else the sweep's best trial by its first metric."""
    if trial_id is not None:
        return trial_id
    spec = results.spec
    best = best_trials(results.table, spec.metric[0], spec.mode[0], k=1)
    if best.empty:
        raise SweepError(f"no trial of {results.path} reported {spec.metric[0]} yet: nothing to load")
    return best["trial_id"].iloc[0]


def load_trained(source: str | Results, trial_id: str | None = None, device: str = "cpu") -> TrainedModel:
    """The best checkpoint (by the sweep's metric) of trial `trial_id`, or of the sweep's best trial."""
    results = open_results(source)
    experiment, spec = results.experiment, results.spec
    trial_id = pick_trial(results, trial_id)
    checkpoint = best_checkpoint(results, trial_id)
    if checkpoint is None:
        raise SweepError(f"trial {trial_id} of {experiment.path} kept no checkpoint (it stopped before its first "
                         "epoch ended): choose another with --trial")
    with checkpoint.as_directory() as folder:
        state = read_state(Path(folder) / STATE_FILE, device)
    cfg = parse_config(spec.family.config, experiment.trial_config(trial_id))
    return TrainedModel(spec.family, cfg, spec.family.build(cfg, state).to(device).eval(), trial_id, state["epoch"])


def read_state(path: Path, device: str = "cpu") -> dict:
    """A checkpoint's tensors and plain values, or a clear error: `weights_only` unpickling runs no code."""
    try:
        return load_state(path, device)
    except pickle.UnpicklingError as e:
        raise SweepError(f"{path} holds more than tensors and plain values ({str(e).splitlines()[0]}): it was not "
                         "written by a sweep of this version, or was changed since; it is not loaded") from None
    except (OSError, RuntimeError, EOFError) as e:
        raise SweepError(f"{path} is unreadable ({e}): the checkpoint is damaged or incomplete; choose another "
                         "trial with --trial, or copy the experiment again") from None
