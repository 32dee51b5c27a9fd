"""Seeding, and the state a training loop needs to resume exactly where it stopped."""

from __future__ import annotations

import random

import numpy as np
import torch


STATE_FILE = "state.pt"  # a checkpoint's file


def pick_device() -> torch.device:
    """CUDA where this process may see a GPU (Ray hides GPUs from trials that were given none)."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)  # CUDA generators too


def snapshot(epoch: int, **parts) -> dict:
    """Epoch, every RNG state and the state_dict of each part (models, optimisers): tensors and plain types only, so
    that it loads with `torch.load(weights_only=True)`, which runs no code from the file."""
    numpy = np.random.get_state(legacy=False)
    numpy["state"]["key"] = torch.from_numpy(numpy["state"]["key"].astype(np.int64))
    rng = {"python": random.getstate(), "numpy": numpy, "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        rng["cuda"] = torch.cuda.get_rng_state_all()
    return {"epoch": epoch, "rng": rng, **{name: part.state_dict() for name, part in parts.items()}}


# Checkpoints of earlier versions hold numpy's RNG state as an array: these rebuild plain arrays, and nothing else.
EARLIER_ARRAYS = [np._core.multiarray._reconstruct, np.ndarray, np.dtype, np.dtypes.UInt32DType]


def load_state(path, device: torch.device | str = "cpu") -> dict:
    """A `snapshot` from a file: tensors and plain values only (`weights_only`), so that loading runs no code."""
    with torch.serialization.safe_globals(EARLIER_ARRAYS):
        return torch.load(path, map_location=device, weights_only=True)


def restore(state: dict, **parts) -> int:
    """Load a `snapshot` into the parts and the RNGs; returns the epoch it was taken after."""
    for name, part in parts.items():
        if isinstance(part, torch.optim.Optimizer):
            # The config's lr and betas win over the checkpoint's, so that population-based
            # training's mutations (or a resumed run with a new lr) take effect.
            settings = [{k: v for k, v in group.items() if k != "params"} for group in part.param_groups]
            part.load_state_dict(state[name])
            for group, setting in zip(part.param_groups, settings):
                group.update(setting)
        else:
            part.load_state_dict(state[name])
    rng = state["rng"]
    random.setstate(rng["python"])
    numpy = rng["numpy"]
    if isinstance(numpy, dict):  # else a checkpoint of an earlier version: numpy's own tuple
        numpy = {**numpy, "state": {**numpy["state"], "key": numpy["state"]["key"].numpy().astype(np.uint32)}}
    np.random.set_state(numpy)
    torch.set_rng_state(rng["torch"])
    if "cuda" in rng and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(rng["cuda"])
    return state["epoch"]


def batches(n: int, batch_size: int) -> list[torch.Tensor]:
    """A fresh random order of range(n), cut into batches (from the global, checkpointed RNG); a last batch of one
    image is left out, as batch normalisation cannot train on it."""
    cut = list(torch.randperm(n).split(batch_size))
    return cut[:-1] if len(cut) > 1 and len(cut[-1]) == 1 else cut
