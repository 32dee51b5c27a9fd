"""How fast the command line answers: `sweeps --help`, every verb's `--help`, and `sweeps status` / `list` of a
small finished sweep, each the median wall time of a fresh process, as a user types it.

    python -m bench.cli [--repeats 5]

Also the modules `import sweeps.cli` loads that a help text or a status does not need (torch, scikit-learn,
matplotlib, Ray, Optuna): none, so that neither waits for them.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path
from statistics import median

from bench.common import build_parser, emit, quiet_tune, run, run_sweep
from experiments.spec import load_spec

SPECS = Path(__file__).resolve().parents[1] / "sweeps" / "specs"
VERBS = ("train", "run", "resume", "status", "list", "analyze", "rerun", "sample", "report", "demo")
HEAVY = ("torch", "sklearn", "matplotlib", "ray", "optuna")


def seconds(args: list[str], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "sweeps.cli", *args], check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    return round(median(times), 3)


def main() -> None:
    args = build_parser(__doc__).parse_args()
    quiet_tune()
    loaded = subprocess.run([sys.executable, "-c", f"import sys, sweeps.cli; print([m for m in {HEAVY!r} if m in "
                             "sys.modules])"], capture_output=True, text=True, check=True).stdout.strip()
    seconds(["--help"], 1)  # warms the file cache
    results = {"heavy_modules_loaded_by_import_sweeps_cli": loaded, "help_s": seconds(["--help"], args.repeats)}
    results |= {f"{verb}_help_s": seconds([verb, "--help"], args.repeats) for verb in VERBS}
    with tempfile.TemporaryDirectory() as storage:
        spec = load_spec(SPECS / "ae.yaml", "smoke", ["data.limit=100", "scheduler={type: none}"])
        experiment, _ = run_sweep(spec, storage, args.data_dir)
        results["status_s"] = seconds(["status", experiment.path], args.repeats)
        results["list_s"] = seconds(["list", storage], args.repeats)
    summary = [f"sweeps --help {results['help_s']} s; slowest verb help "
               f"{max(v for k, v in results.items() if k.endswith('_help_s'))} s; status {results['status_s']} s; "
               f"list {results['list_s']} s; heavy modules on import: {loaded}"]
    emit(results, summary)


if __name__ == "__main__":
    run(main)
