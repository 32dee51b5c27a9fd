"""Report time against the number of trials: `sweeps report` of AE sweeps of 8, 32 and 128 cheap trials (one epoch
on 20 images each), so that what grows with the trials shows. Each experiment is read once, so the time should grow
linearly: the marginal seconds per trial (from one size to the next) stay flat where it does.

    python -m bench.report [--trials 8 32 128] [--repeats 1] [--compare-with CHECKOUT]

`--compare-with` times another checkout's `sweeps report` on the same experiments, side by side (e.g. a
`git worktree` of an earlier commit). Each report runs in its own process, as a user runs it.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from statistics import median

from bench.common import build_parser, emit, quiet_tune, ratio, run, run_sweep
from experiments.spec import load_spec

SPECS = Path(__file__).resolve().parents[1] / "sweeps" / "specs"
CHEAP = ["fixed.epochs=1", "data.limit=20", "scheduler={type: none}", "start_with=[]", "max_concurrent=2"]


def report_seconds(checkout: Path, experiment: str, out: str) -> float:
    env = {**os.environ, "PYTHONPATH": str(checkout)}
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "sweeps.cli", "report", experiment, "--out", out], check=True, env=env,
                   cwd=checkout, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> None:
    parser = build_parser(__doc__)
    parser.add_argument("--trials", nargs="+", type=int, default=[8, 32, 128])
    parser.add_argument("--compare-with", type=Path, help="another checkout whose report is timed side by side")
    parser.set_defaults(repeats=1)
    args = parser.parse_args()
    quiet_tune()
    checkouts = {"this": Path(__file__).resolve().parents[1]}
    if args.compare_with:
        checkouts["compared"] = args.compare_with.resolve()
    results, summary = {"trials": {}}, ["sweeps report of AE sweeps of N one-epoch trials (seconds; per added trial):"]
    previous: tuple[int, dict] | None = None
    with tempfile.TemporaryDirectory() as storage:
        for n in args.trials:
            spec = load_spec(SPECS / "ae.yaml", None, [f"num_samples={n}", *CHEAP])
            experiment, _ = run_sweep(spec, storage, args.data_dir)
            times: dict[str, list[float]] = {}
            for _ in range(args.repeats):  # in turns
                for name, checkout in checkouts.items():
                    out = f"{storage}/report-{n}-{name}"
                    times.setdefault(name, []).append(report_seconds(checkout, experiment.path, out))
            row = {f"{name}_s": round(median(measured), 2) for name, measured in times.items()}
            if previous is not None:  # the seconds each trial added since the last size
                m, before = previous
                row |= {f"{name}_per_added_trial_s": round((row[f"{name}_s"] - before[f"{name}_s"]) / (n - m), 3)
                        for name in times}
            previous = n, row
            if "compared_s" in row:
                row["compared_over_this"] = ratio(row["compared_s"], row["this_s"])
            results["trials"][n] = row
            summary.append(f"  {n:4} trials: " + "  ".join(f"{k} {v}" for k, v in row.items()))
    emit(results, summary)


if __name__ == "__main__":
    run(main)
