"""What the sweeps find: each shipped sweep file's configurations trained for the same number of steps.

    python -m bench.quality [--models ae dae gan glo] [--budget STEPS] [--dataset mnist] [--limit N]

Each sweep file starts with the report's own configuration (`start_with[0]`) and the best one its sweeps have
found (`start_with[1]`); each trains here with the file's fixed settings for `--budget` optimiser steps
(epochs rounded up), on one CPU thread (what a 1-CPU trial gets), and is scored on the metrics its trials
report, at its best epoch by the sweep's metric, as the sweeps rank trials. For calibration, the judge also
scores real held-out digits and each autoencoder's reconstructions of them: a generative model draws
readable digits where it covers all 10 classes, with an inception score near the reconstructions' and a
Fréchet distance within about twice theirs.
"""

from __future__ import annotations

import math
import time
from pathlib import Path

import torch

from bench.common import build_parser, emit, limit_threads, run
from experiments.spec import load_spec
from trainables.config import parse_config
from trainables.data import DATASETS, load_data
from trainables.judge import load_judge
from trainables.metrics import SampleScorer
from trainables.registry import FAMILIES

SPECS = Path(__file__).resolve().parents[1] / "sweeps" / "specs"
SHOWN = ("val_mse", "val_psnr", "knn_acc", "psnr_sigma_0.25", "fid", "inception_score", "class_coverage")
CALIBRATION_SIZE = 1000


def train(model: str, values: dict, data, judge, budget: int) -> dict:
    """Train one configuration for `budget` steps; its metrics at the best epoch by the sweep's metric."""
    spec = load_spec(SPECS / f"{model}.yaml")
    metric, mode = spec.metric[0], spec.mode[0]
    cfg = parse_config(FAMILIES[model].config, {**spec.fixed, **values})
    steps_per_epoch = math.ceil(len(data.train) / cfg.batch_size)
    epochs = math.ceil(budget / steps_per_epoch)
    cfg = parse_config(FAMILIES[model].config, {**spec.fixed, **values, "epochs": epochs})
    best, start = None, time.perf_counter()
    for metrics, state in FAMILIES[model].fit(cfg, data, judge, "cpu", None):
        better = best is None or (metrics[metric] < best[metric] if mode == "min" else metrics[metric] > best[metric])
        if metric in metrics and better:
            best, best_state = metrics, state
    shown = {k: round(float(v), 4) for k, v in best.items() if k in SHOWN}
    return {**shown, "epoch": best["epoch"], "epochs": epochs, "steps": epochs * steps_per_epoch,
            "seconds": round(time.perf_counter() - start, 1), "config": values,
            "network": FAMILIES[model].build(cfg, best_state).eval()}


def calibration(data, judge, autoencoders: dict[str, torch.nn.Module]) -> dict[str, dict]:
    """The judge's scores of real held-out digits and of each autoencoder's reconstructions of them."""
    scorer = SampleScorer(judge, data.val.images[:CALIBRATION_SIZE])
    real = data.test.images[:CALIBRATION_SIZE]
    rows = {"real held-out digits": scorer.score(real)}
    with torch.no_grad():
        rows |= {f"{name}: reconstructions": scorer.score(net(real)) for name, net in autoencoders.items()}
    return {name: {k: round(v, 4) for k, v in row.items() if k in SHOWN} for name, row in rows.items()}


def main() -> None:
    parser = build_parser(__doc__)
    parser.add_argument("--models", nargs="+", choices=list(FAMILIES), default=list(FAMILIES))
    parser.add_argument("--budget", type=int, default=2000, help="optimiser steps per configuration (default: 2000)")
    parser.add_argument("--dataset", choices=list(DATASETS), default="mnist")
    parser.add_argument("--limit", type=int, help="use only the first N images of each partition")
    args = parser.parse_args()
    limit_threads(1)
    full = load_data(args.dataset, args.data_dir)
    data, judge = full.limit(args.limit), load_judge(full).build()
    results, summary, autoencoders = {"budget_steps": args.budget, "data": data.fingerprint, "models": {}}, [], {}
    for model in args.models:
        points = load_spec(SPECS / f"{model}.yaml").start_with
        runs = {}
        for name, values in zip(("report", "best_known"), points):
            runs[name] = train(model, values, data, judge if FAMILIES[model].needs_judge else None, args.budget)
            network = runs[name].pop("network")
            if not FAMILIES[model].samples:  # an autoencoder: its reconstructions calibrate the judge
                autoencoders[f"{model} {name}"] = network
            summary.append(f"{model:4} {name:10} " + "  ".join(
                f"{k} {v}" for k, v in runs[name].items() if k in SHOWN or k in ("steps", "seconds")))
        results["models"][model] = runs
    results["calibration"] = calibration(data, judge, autoencoders)
    summary += [f"calibration: {name}: " + "  ".join(f"{k} {v}" for k, v in row.items())
                for name, row in results["calibration"].items()]
    emit(results, summary)


if __name__ == "__main__":
    run(main)
