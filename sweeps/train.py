"""`sweeps train`: one configuration of a model trained without Ray, its metrics printed after each epoch."""

from __future__ import annotations

import logging
import time

import torch

from experiments.trials import format_value
from trainables.data import load_data
from trainables.family import Family
from trainables.judge import load_judge
from trainables.state import pick_device

log = logging.getLogger(__name__)


def train(family: Family, cfg, dataset: str, limit: int | None, data_dir=None, cache_dir=None,
          offline: bool = False) -> None:
    """Train `cfg` of `family` on the first `limit` images of each partition of `dataset`, printing each epoch."""
    full = load_data(dataset, data_dir, offline=offline)
    data = full.limit(limit)
    device = pick_device()
    log.info("%s on %s: %d train / %d validation / %d test images, %s, %d threads",
             family.name, data.name, len(data.train), len(data.val), len(data.test), device, torch.get_num_threads())
    judge = None
    if family.needs_judge:
        trained = load_judge(full, cache_dir, device=str(device))
        log.info("judge: test accuracy %.2f%% (%s)", 100 * trained.accuracy, trained.fingerprint)
        judge = trained.build(device)
    start = time.perf_counter()
    for metrics, _ in family.fit(cfg, data, judge, device, None):
        elapsed, start = time.perf_counter() - start, time.perf_counter()
        shown = "  ".join(f"{k} {format_value(v)}" for k, v in metrics.items() if k != "epoch")
        print(f"epoch {metrics['epoch']}/{cfg.epochs}  {shown}  ({elapsed:.1f} s)", flush=True)
