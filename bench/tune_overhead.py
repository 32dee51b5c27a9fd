"""What Tune adds to a trial: the same loop, data and epochs standalone and as a one-trial sweep.

    python bench/tune_overhead.py [--model ae] [--epochs 3] [--limit 2000] [--repeats 3]

Prints one JSON object: median seconds standalone, inside the trial (Tune's time_total_s: training,
reports and checkpoints), and for the whole `Tuner.fit` (plus actor start and shutdown), with the
overheads per trial. Both sides use one CPU thread.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time

import ray
import torch
from ray import tune

from trainables.config import parse_config
from trainables.data import load_data
from trainables.judge import load_judge
from trainables.registry import MODELS, fit_model
from trainables.tune import build_trainable


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="ae", choices=list(MODELS))
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--limit", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--data-dir", default=os.environ.get("SWEEPS_DATA_DIR"))
    args = parser.parse_args()

    full = load_data("mnist", args.data_dir)
    data = full.limit(args.limit)
    trained = load_judge(full) if MODELS[args.model].needs_judge else None
    config = {"epochs": args.epochs}
    cfg = parse_config(MODELS[args.model].config, config)

    torch.set_num_threads(1)
    standalone = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        for _ in fit_model(args.model, cfg, data, trained.build() if trained else None, "cpu"):
            pass
        standalone.append(time.perf_counter() - start)

    os.environ["RAY_AIR_NEW_OUTPUT"] = "0"  # no progress table on stdout: it holds the JSON
    ray.init(num_cpus=1, include_dashboard=False, log_to_driver=False, configure_logging=False)
    trainable = tune.with_resources(build_trainable(args.model, data, trained), {"cpu": 1})
    in_trial, fit_wall = [], []
    for _ in range(args.repeats):
        with tempfile.TemporaryDirectory() as storage:
            tuner = tune.Tuner(trainable, param_space=config, run_config=tune.RunConfig(storage_path=storage, verbose=0))
            start = time.perf_counter()
            [result] = tuner.fit()
            fit_wall.append(time.perf_counter() - start)
            in_trial.append(result.metrics["time_total_s"])
    ray.shutdown()

    seconds = {name: statistics.median(v) for name, v in
               {"standalone_s": standalone, "trial_s": in_trial, "tuner_fit_s": fit_wall}.items()}
    print(json.dumps({
        "model": args.model, "epochs": args.epochs, "train_images": len(data.train), "repeats": args.repeats,
        **{k: round(v, 3) for k, v in seconds.items()},
        "in_trial_overhead_s": round(seconds["trial_s"] - seconds["standalone_s"], 3),
        "per_trial_overhead_s": round(seconds["tuner_fit_s"] - seconds["standalone_s"], 3),
        "trial_throughput_vs_standalone": round(seconds["standalone_s"] / seconds["trial_s"], 3),
    }))


if __name__ == "__main__":
    main()
