"""Search efficiency on the AE sweep: Optuna's TPE with ASHA early stopping against random search without
early stopping, the same trial budget and seeds, in wall time to a target validation MSE.

    python -m bench.search [--target 0.007] [--trials 16] [--epochs 8] [--limit 3000] [--repeats 3]

Both run `sweeps/specs/ae.yaml` through `sweeps run`'s own path, shrunk to `--trials` trials of `--epochs`
epochs on `--limit` images; side A as shipped (searcher tpe, its ASHA scheduler), side B with
`searcher: random` and `scheduler: {type: none}`. Repeat r gives both sides search seed r. An epoch's wall
time is its end (Tune's timestamp, whole seconds) less the start of the trials phase; "time to target" is
the first epoch of any trial at or below `--target` (a side that never gets there counts its whole
sweep, and says so). "Best at equal time": each side's best val_mse when the shorter sweep ended.
"""

from __future__ import annotations

import math
import tempfile
import time
from statistics import median

from analysis.results import learning_curves
from bench.common import build_parser, emit, quiet_tune, ratio, run, run_sweep
from experiments.spec import load_spec
from experiments.trials import load_experiment

SIDES = {
    "tpe_asha": [],
    "random_no_stopping": ["searcher=random", "scheduler={type: none}"],
}


def epoch_times(experiment_path: str, start: float) -> list[tuple[float, float]]:
    """(seconds since `start`, val_mse) of every epoch of every trial, in time order."""
    curves = learning_curves(experiment_path)
    curves = curves[curves["metric"] == "val_mse"]
    started = load_experiment(experiment_path).set_index("trial_id")["started"]
    ends = curves["trial_id"].map(started) + curves["time_total_s"] - start
    return sorted(zip(ends, curves["value"]))


def best_by(rows: list[tuple[float, float]], seconds: float) -> float:
    return min((v for t, v in rows if t <= seconds), default=math.nan)


def main() -> None:
    parser = build_parser(__doc__)
    parser.add_argument("--target", type=float, default=0.007, help="validation MSE to reach (default: 0.007)")
    parser.add_argument("--trials", type=int, default=16)
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--limit", type=int, default=3000, help="images per partition (default: 3000)")
    args = parser.parse_args()
    quiet_tune()
    runs = {side: [] for side in SIDES}
    for repeat in range(args.repeats):
        for side, overrides in SIDES.items():
            spec = load_spec("sweeps/specs/ae.yaml", None, [
                f"num_samples={args.trials}", f"fixed.epochs={args.epochs}", f"data.limit={args.limit}",
                f"seed={repeat}", "start_with=[]", *overrides])  # the search alone, from nothing known
            with tempfile.TemporaryDirectory() as storage:
                # The trials phase starts after Ray does: measured from the phases of run_sweep.
                start = time.time()
                experiment, phases = run_sweep(spec, storage, args.data_dir)
                rows = epoch_times(experiment.path, start + phases["data_s"] + phases["ray_start_s"])
            reached = [t for t, v in rows if v <= args.target]
            runs[side].append({
                "seed": repeat, "trials_s": phases["trials_s"], "epochs_run": len(rows),
                "reached": bool(reached), "time_to_target_s": reached[0] if reached else phases["trials_s"],
                "best": min(v for _, v in rows), "rows": rows,
            })
    for r in range(args.repeats):
        shorter = min(runs[side][r]["trials_s"] for side in SIDES)
        for side in SIDES:
            runs[side][r]["best_at_equal_time"] = best_by(runs[side][r].pop("rows"), shorter)
    results = {"target_val_mse": args.target, "trials": args.trials, "epochs": args.epochs, "limit": args.limit,
               "repeats": args.repeats}
    for side, side_runs in runs.items():
        results[side] = {
            "median_time_to_target_s": median([run["time_to_target_s"] for run in side_runs]),
            "median_trials_s": round(median([run["trials_s"] for run in side_runs]), 2),
            "median_best_at_equal_time": median([run["best_at_equal_time"] for run in side_runs]),
            "runs": side_runs,
        }
    a, b = results["tpe_asha"], results["random_no_stopping"]
    results["speedup_to_target"] = ratio(b["median_time_to_target_s"], a["median_time_to_target_s"])
    emit(results, [
        f"AE sweep, {args.trials} trials x {args.epochs} epochs on {args.limit} images, target val_mse "
        f"{args.target} (median of {args.repeats} seeds):",
        *(f"  {side:>18}: target after {r['median_time_to_target_s']:.0f} s "
          f"(reached in {sum(run['reached'] for run in r['runs'])}/{args.repeats}), sweep "
          f"{r['median_trials_s']:.0f} s, best at equal time {r['median_best_at_equal_time']:.4f}"
          for side, r in ((s, results[s]) for s in SIDES)),
        f"  TPE + ASHA reaches the target {results['speedup_to_target']:.2f}x sooner",
    ])


if __name__ == "__main__":
    run(main)
