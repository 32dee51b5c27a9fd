"""A trainable that costs the driver what a real trial does and the machine nothing: it sleeps for each epoch and
reports a value computed from its config (so a search has something to find), with a real checkpoint each epoch.

Light imports only: each Ray worker imports this module to run it.
"""

from __future__ import annotations

import math
import tempfile
import time
from pathlib import Path

from ray import tune


STATE_FILE = "state.pt"  # trainables.state's: a report of the sweep can load the model


def objective(config: dict, epoch: int) -> float:
    """A val_mse-like value: best at lr 0.003 and batch 32, better with each epoch."""
    lr, batch = config.get("lr", 0.01), config.get("batch_size", 32)
    return 0.01 + 0.01 * (math.log10(lr) - math.log10(0.003)) ** 2 + 0.001 * abs(math.log2(batch / 32)) + 0.01 / epoch


def synthetic_trial(config: dict, epoch_s: float, state: bytes) -> None:
    """Sleep `epoch_s` an epoch; report `objective` and a checkpoint holding `state` (a real model's bytes)."""
    start = 0
    checkpoint = tune.get_checkpoint()
    if checkpoint is not None:
        with checkpoint.as_directory() as folder:
            start = int((Path(folder) / "epoch").read_text())
    for epoch in range(start + 1, config["epochs"] + 1):
        time.sleep(epoch_s)
        with tempfile.TemporaryDirectory() as folder:
            (Path(folder) / STATE_FILE).write_bytes(state)
            (Path(folder) / "epoch").write_text(str(epoch))
            value = objective(config, epoch)
            tune.report({"epoch": epoch, "val_mse": value, "train_loss": value},
                        checkpoint=tune.Checkpoint.from_directory(folder))
