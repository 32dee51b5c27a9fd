"""Warm against cold TPE: does a sweep seeded with a short earlier sweep (`--warm-start`) reach a target sooner?

    python -m bench.warm_start [--target 0.009] [--trials 8] [--epochs 6] [--short-trials 12] [--short-epochs 2]
                               [--limit 3000] [--repeats 2]

The AE sweep (`sweeps/specs/ae.yaml`, `start_with` emptied: the search alone), through `sweeps run`'s own path.
Per repeat r (search seed r): a short sweep (`--short-trials` trials of `--short-epochs` epochs), then the long
sweep (`--trials` x `--epochs`) twice, cold and warm-started from the short one (its trials in the study, its best
3 configs first). Time to target is measured from the start of the long sweep's trials, as in bench/search.py; the
short sweep's own time is reported beside it, since a warm start is only worth what it costs.
"""

from __future__ import annotations

import tempfile
import time
from statistics import median

from bench.common import build_parser, emit, quiet_tune, ratio, run, run_sweep
from bench.search import best_by, epoch_times
from experiments.spec import load_spec


def sweep(overrides: list[str], storage: str, data_dir: str | None) -> dict:
    spec = load_spec("sweeps/specs/ae.yaml", None, ["start_with=[]", *overrides])
    start = time.time()
    experiment, phases = run_sweep(spec, storage, data_dir)
    rows = epoch_times(experiment.path, start + phases["data_s"] + phases["ray_start_s"])
    return {"path": experiment.path, "trials_s": phases["trials_s"], "rows": rows}


def main() -> None:
    parser = build_parser(__doc__)
    parser.add_argument("--target", type=float, default=0.009, help="validation MSE to reach (default: 0.009)")
    parser.add_argument("--trials", type=int, default=8)
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--short-trials", type=int, default=12)
    parser.add_argument("--short-epochs", type=int, default=2)
    parser.add_argument("--limit", type=int, default=3000, help="images per partition (default: 3000)")
    parser.set_defaults(repeats=2)
    args = parser.parse_args()
    quiet_tune()
    runs = {"cold": [], "warm": []}
    short_s = []
    for repeat in range(args.repeats):
        with tempfile.TemporaryDirectory() as storage:
            common = [f"data.limit={args.limit}", f"seed={repeat}"]
            short = sweep([f"num_samples={args.short_trials}", f"fixed.epochs={args.short_epochs}", *common],
                          storage, args.data_dir)
            short_s.append(short["trials_s"])
            long = [f"num_samples={args.trials}", f"fixed.epochs={args.epochs}", *common]
            sides = {"cold": sweep(long, storage, args.data_dir),
                     "warm": sweep([*long, f"warm_start.experiment={short['path']}"], storage, args.data_dir)}
        shorter = min(side["trials_s"] for side in sides.values())
        for name, side in sides.items():
            reached = [t for t, v in side["rows"] if v <= args.target]
            runs[name].append({
                "seed": repeat, "trials_s": side["trials_s"], "reached": bool(reached),
                "time_to_target_s": reached[0] if reached else side["trials_s"],
                "best": min(v for _, v in side["rows"]), "best_at_equal_time": best_by(side["rows"], shorter),
            })
    results = {"target_val_mse": args.target, "trials": args.trials, "epochs": args.epochs,
               "short_trials": args.short_trials, "short_epochs": args.short_epochs, "limit": args.limit,
               "repeats": args.repeats, "median_short_sweep_s": median(short_s)}
    for name, side_runs in runs.items():
        results[name] = {
            "median_time_to_target_s": median(r["time_to_target_s"] for r in side_runs),
            "median_best": median(r["best"] for r in side_runs),
            "median_best_at_equal_time": median(r["best_at_equal_time"] for r in side_runs),
            "runs": side_runs,
        }
    cold, warm = results["cold"], results["warm"]
    results["speedup_to_target"] = ratio(cold["median_time_to_target_s"], warm["median_time_to_target_s"])
    emit(results, [
        f"AE, {args.trials} trials x {args.epochs} epochs on {args.limit} images, target val_mse {args.target}, "
        f"median of {args.repeats} seeds; the short sweep ({args.short_trials} x {args.short_epochs}) took "
        f"{results['median_short_sweep_s']:.0f} s:",
        *(f"  {name}: target after {r['median_time_to_target_s']:.0f} s (reached in "
          f"{sum(x['reached'] for x in r['runs'])}/{args.repeats}), best {r['median_best']:.4f}, best at equal time "
          f"{r['median_best_at_equal_time']:.4f}" for name, r in ((n, results[n]) for n in runs)),
        f"  warm reaches the target {results['speedup_to_target']:.2f}x sooner (the short sweep's time not counted)",
    ])


if __name__ == "__main__":
    run(main)
