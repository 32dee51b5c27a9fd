"""The Ray Tune function trainable: config -> typed config, checkpoint restore, one report and image grid per epoch."""

from __future__ import annotations

import contextlib
import math
import tempfile
from pathlib import Path

import numpy as np
import ray
import torch
from ray import tune

from trainables.config import parse_config, without_labels
from trainables.data import Data, Split
from trainables.judge import TrainedJudge
from trainables.registry import FAMILIES
from trainables.state import STATE_FILE, load_state, pick_device
from trainables.tensorboard import EpochImages


def build_trainable(model: str, data: Data, judge: TrainedJudge | None = None):
    """A trainable for `tune.Tuner`; data and judge go to Ray's object store once, not once per trial."""
    if model not in FAMILIES:
        raise ValueError(f"unknown model {model!r}: choose one of {', '.join(FAMILIES)}")
    if FAMILIES[model].needs_judge and judge is None:
        raise ValueError(f"model {model!r} is scored by the judge: pass load_judge(data)")
    return tune.with_parameters(train_trial, model=model, arrays=to_arrays(data), judge=judge)


def train_trial(config: dict, model: str, arrays: dict, judge: TrainedJudge | None) -> None:
    family = FAMILIES[model]
    cfg = parse_config(family.config, without_labels(config))
    cpus = tune.get_context().get_trial_resources().required_resources.get("CPU", 1)
    torch.set_num_threads(max(1, math.floor(cpus)))
    device = pick_device()
    checkpoint = tune.get_checkpoint()
    state = None
    if checkpoint is not None:
        with checkpoint.as_directory() as folder:
            state = load_state(Path(folder) / STATE_FILE, device)
    built_judge = judge.build(device) if judge is not None else None
    node = {"node_id": ray.get_runtime_context().get_node_id()}  # which node ran each epoch, on a cluster
    data = from_arrays(arrays)
    storage = tune.get_context().get_storage()  # the trial's folder in the experiment's storage, local or remote
    images = EpochImages(family, cfg, data, storage.storage_filesystem, storage.trial_fs_path)
    with contextlib.closing(images):
        for metrics, state in family.fit(cfg, data, built_judge, device, state):
            images.write(state)
            with tempfile.TemporaryDirectory() as folder:
                torch.save(state, Path(folder) / STATE_FILE)
                tune.report(metrics | node, checkpoint=tune.Checkpoint.from_directory(folder))


def to_arrays(data: Data) -> dict:
    """Data as numpy arrays, which Ray's object store shares between trials without copies."""
    arrays = {"name": data.name, "notice": data.notice}
    for part in ("train", "val", "test"):
        split = getattr(data, part)
        arrays[part] = (split.images.numpy(), split.labels.numpy())
    return arrays


def from_arrays(arrays: dict) -> Data:
    # Arrays from the object store are read-only: copy them before torch owns them.
    splits = {
        part: Split(torch.from_numpy(np.array(arrays[part][0])), torch.from_numpy(np.array(arrays[part][1])))
        for part in ("train", "val", "test")
    }
    return Data(arrays["name"], notice=arrays["notice"], **splits)
