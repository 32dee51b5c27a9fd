"""What Tune adds to a trial: the same model, data and epochs trained standalone and as a Tune trial, and each
trial's start-up cost with and without actor reuse.

    python -m bench.tune_overhead [--models ae gan] [--epochs 4] [--limit 2000] [--repeats 3]

Throughput: the training loop (the family's `fit`) run standalone, then as a one-trial sweep (the trainable the
sweeps run: data from Ray's object store, a report and a checkpoint every epoch); compared by the median
epoch after the first (`time_this_iter_s` inside the trial). Start-up: sweeps of 2 and of 8 one-epoch
trials on 200 images, one at a time, with Tune's `reuse_actors` on (as sweeps run) and off; each extra
trial's wall time, less the same epoch trained standalone, is its start-up (actor, data, judge, reports,
checkpoints and Tune's bookkeeping). Everything on one CPU thread, in every thread pool.
"""

from __future__ import annotations

import tempfile
import time
from statistics import median

import ray
from ray import tune

from bench.common import build_parser, emit, limit_threads, quiet_tune, ratio, run
from trainables.config import parse_config
from trainables.data import load_data
from trainables.judge import load_judge
from trainables.registry import FAMILIES
from trainables.tune import build_trainable

STARTUP_LIMIT = 200
FEW, MANY = 2, 8


def standalone_epochs(model: str, cfg, data, judge) -> list[float]:
    """Seconds of each epoch of the training loop without Ray."""
    seconds, start = [], time.perf_counter()
    for _ in FAMILIES[model].fit(cfg, data, judge.build() if judge else None, "cpu", None):
        seconds.append(time.perf_counter() - start)
        start = time.perf_counter()
    return seconds


def fit_trials(model: str, data, judge, config: dict, trials: int, reuse_actors: bool) -> tuple[float, list]:
    """Wall seconds of a sweep of `trials` one-at-a-time trials of `config` (seeds 0..trials-1), and its results."""
    trainable = tune.with_resources(build_trainable(model, data, judge), {"cpu": 1})
    with tempfile.TemporaryDirectory() as storage:
        tuner = tune.Tuner(
            trainable, param_space={**config, "seed": tune.grid_search(list(range(trials)))},
            tune_config=tune.TuneConfig(reuse_actors=reuse_actors, max_concurrent_trials=1),
            run_config=tune.RunConfig(storage_path=storage, verbose=0),
        )
        start = time.perf_counter()
        grid = tuner.fit()
        wall = time.perf_counter() - start
        return wall, [result.metrics_dataframe for result in grid]


def main() -> None:
    parser = build_parser(__doc__)
    parser.add_argument("--models", nargs="+", default=["ae", "gan"], choices=list(FAMILIES))
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--limit", type=int, default=2000, help="images per partition for the throughput runs")
    args = parser.parse_args()
    quiet_tune()
    full = load_data("mnist", args.data_dir)
    limit_threads(1)  # as Ray sets a 1-CPU trial's
    ray.init(num_cpus=1, include_dashboard=False, log_to_driver=False, configure_logging=False)
    results = {"epochs": args.epochs, "limit": args.limit, "repeats": args.repeats, "ray": ray.__version__}
    summary = []
    for model in args.models:
        judge = load_judge(full) if FAMILIES[model].needs_judge else None
        data = full.limit(args.limit)
        config = {"epochs": args.epochs}
        cfg = parse_config(FAMILIES[model].config, config)
        alone, in_trial, trial_totals = [], [], []
        for _ in range(args.repeats):  # standalone and trial take turns
            alone += standalone_epochs(model, cfg, data, judge)[1:]
            _, [history] = fit_trials(model, data, judge, config, 1, reuse_actors=True)
            in_trial += history["time_this_iter_s"].iloc[1:].tolist()
            trial_totals.append(history["time_total_s"].iloc[-1])
        epoch = {"standalone_s": median(alone), "trial_s": median(in_trial)}

        small = full.limit(STARTUP_LIMIT)
        one_epoch = parse_config(FAMILIES[model].config, {"epochs": 1})
        startup = {}
        for reuse in (True, False):
            per_trial = []
            for _ in range(args.repeats):
                alone_s = median([sum(standalone_epochs(model, one_epoch, small, judge)) for _ in range(3)])
                few, _ = fit_trials(model, small, judge, {"epochs": 1}, FEW, reuse)
                many, _ = fit_trials(model, small, judge, {"epochs": 1}, MANY, reuse)
                per_trial.append((many - few) / (MANY - FEW) - alone_s)
            startup["reuse" if reuse else "no_reuse"] = round(median(per_trial), 3)
        results[model] = {
            "epoch_standalone_s": round(epoch["standalone_s"], 3),
            "epoch_in_trial_s": round(epoch["trial_s"], 3),
            "trial_throughput_vs_standalone": ratio(epoch["standalone_s"], epoch["trial_s"]),
            "trial_total_s": round(median(trial_totals), 3),
            "startup_per_trial_s": startup,
        }
        r = results[model]
        summary += [
            f"{model}: an epoch of {len(data.train)} images takes {r['epoch_standalone_s']:.2f} s standalone, "
            f"{r['epoch_in_trial_s']:.2f} s in a trial: throughput {r['trial_throughput_vs_standalone']:.3f}x",
            f"{model}: start-up per trial {startup['reuse']:.2f} s with actor reuse, "
            f"{startup['no_reuse']:.2f} s without",
        ]
    ray.shutdown()
    emit(results, summary)


if __name__ == "__main__":
    run(main)
