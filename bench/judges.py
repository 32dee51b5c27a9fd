"""Configurations of one sampling model scored by both judges, each trained as a demo trial is: for a time on one CPU.

    python -m bench.judges gan --seconds 100 --limit 7000 --config '{}' --config '{"dropout": 0.3}'

Each --config (JSON) is laid over the sweep file's fixed settings and its best known configuration
(its last `start_with`), trains for --seconds on one thread, and keeps its epoch with the best judge FID (as ASHA
ranks trials). 1,000 of that epoch's samples are then scored by the judge, which sweeps are tuned to, and by the
second judge, which no trial sees, as the report's calibration table scores them, with their median distance to
the nearest of 2,000 training digits over real held-out digits' (near 0 for copies).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from bench.common import build_parser, emit, limit_threads, run
from experiments.spec import load_spec
from trainables.config import ConfigError, parse_config
from trainables.data import load_data
from trainables.family import TrainedModel
from trainables.judge import load_judge, partitions
from trainables.metrics import SampleScorer, median_nearest_distance
from trainables.registry import FAMILIES

SPECS = Path(__file__).resolve().parents[1] / "sweeps" / "specs"
SIZE, POOL = 1000, 2000
SHOWN = ("fid", "inception_score", "class_coverage")


def json_object(text: str) -> dict:
    """A --config value: a JSON object of config values."""
    try:
        values = json.loads(text)
    except json.JSONDecodeError as error:
        raise argparse.ArgumentTypeError(f"{text!r} is not JSON ({error}): e.g. '{{\"dropout\": 0.3}}'") from None
    if not isinstance(values, dict):
        raise argparse.ArgumentTypeError(f"{text!r} is not a JSON object: e.g. '{{\"dropout\": 0.3}}'")
    return values


def train_for(model: str, values: dict, data, judge, seconds: float) -> TrainedModel:
    """Train `values` for `seconds`; the model at its epoch with the best judge FID."""
    family = FAMILIES[model]
    cfg = parse_config(family.config, {**values, "epochs": 100_000})
    best, start = None, time.perf_counter()
    for metrics, state in family.fit(cfg, data, judge, "cpu", None):
        if best is None or metrics["fid"] < best[0]["fid"]:
            best = metrics, state
        if time.perf_counter() - start > seconds:
            break
    metrics, state = best
    return TrainedModel(family, cfg, family.build(cfg, state).eval(), "bench", metrics["epoch"])


def main() -> None:
    parser = build_parser(__doc__)
    parser.add_argument("model", choices=[name for name, family in FAMILIES.items() if family.samples])
    parser.add_argument("--config", action="append", type=json_object, default=[], help="JSON values over the best known config; "
                        "repeat for several (default: the best known config alone)")
    parser.add_argument("--seconds", type=float, default=100, help="training time of each (default: 100)")
    parser.add_argument("--limit", type=int, help="train on the first N training digits (default: the demo's)")
    args = parser.parse_args()
    limit_threads(1)
    import torch

    spec = load_spec(SPECS / f"{args.model}.yaml", "demo")
    configs = [{**spec.fixed, **spec.start_with[-1], **extra} for extra in args.config or [{}]]
    for values in configs:  # every mistake before minutes of training
        try:
            parse_config(FAMILIES[args.model].config, values)
        except ConfigError as error:
            parser.error(f"--config: {values}:\n{error}")
    limit = args.limit or spec.data.limit
    full = load_data(spec.data.dataset, args.data_dir)
    data = full.limit(limit)
    judges = [load_judge(full, second=second) for second in (False, True)]
    scorers = {}
    for trained in judges:
        split = partitions(full, trained.second)
        scorers["second_judge" if trained.second else "judge"] = SampleScorer(trained.build(),
                                                                              split.reference.images[:SIZE])
    pool = full.train.images[:POOL]
    real_distance = median_nearest_distance(full.test.images[:SIZE], pool)
    results, summary = {"model": args.model, "seconds": args.seconds, "limit": limit, "runs": []}, []
    for extra, values in zip(args.config or [{}], configs):
        trained = train_for(args.model, values, data, judges[0].build(), args.seconds)
        images = torch.from_numpy(trained.images(SIZE, 0)).unsqueeze(1)
        scores = {name: {k: v if isinstance(v, int) else round(v, 3)
                         for k, v in scorer.score(images).items() if k in SHOWN} for name, scorer in scorers.items()}
        nearest = round(median_nearest_distance(images, pool) / real_distance, 3)
        results["runs"].append({"config": extra, "epoch": trained.epoch, **scores,
                                "nearest_training_digit": nearest})
        summary.append(f"{json.dumps(extra):60} epoch {trained.epoch:3}  " + "  ".join(
            f"{name} fid {s['fid']:.3g} is {s['inception_score']:.2f} classes {s['class_coverage']}"
            for name, s in scores.items()) + f"  nearest {nearest}")
    emit(results, summary)


if __name__ == "__main__":
    run(main)
