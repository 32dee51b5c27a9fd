"""What the bench scripts share: arguments, medians, timed sweeps, output (JSON to stdout, a summary to stderr)."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import time
from pathlib import Path


def build_parser(doc: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=f"python -m bench.{Path(sys.argv[0]).stem}", description=doc,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", default=os.environ.get("SWEEPS_DATA_DIR"),
                        help="folder holding MNIST/raw/ (default: $SWEEPS_DATA_DIR)")
    parser.add_argument("--repeats", type=int, default=3, help="each measurement's repeats; medians are reported")
    return parser


def ratio(a: float, b: float) -> float:
    return round(a / b, 3)


def run(main) -> None:
    """Run a script's main; missing data is the user's to fix: its message, not a traceback (exit 2)."""
    from trainables.data import DataError

    try:
        main()
    except DataError as error:
        print(f"python -m bench.{Path(sys.argv[0]).stem}: {error}", file=sys.stderr)
        sys.exit(2)


def limit_threads(n: int) -> None:
    """What Ray gives a trial of n CPUs: n torch threads and n in every OpenMP and BLAS pool, those loaded
    already (scikit-learn's take every core unless told) and those loaded later (through the variables
    they read when they start, which Ray sets in a trial too)."""
    import torch
    from threadpoolctl import threadpool_limits

    for variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[variable] = str(n)
    torch.set_num_threads(n)
    threadpool_limits(n)


def quiet_tune() -> None:
    """Tune's progress table would go to stdout, which holds the JSON."""
    os.environ["RAY_AIR_NEW_OUTPUT"] = "0"


def emit(results: dict, summary: list[str]) -> None:
    print(json.dumps(results, indent=2))
    print("\n".join(summary), file=sys.stderr)


def run_sweep(spec, storage: str, data_dir: str | None) -> tuple[object, dict[str, float]]:
    """Run a sweep as `sweeps run` does (a local Ray started and stopped), timing each phase in seconds, and
    the CPU seconds the driver spent during the trials."""
    from experiments.experiment import load_inputs, new_experiment
    from sweeps.launch import start_sweep
    from sweeps.session import connected

    phases, start = {}, time.perf_counter()

    def lap(phase: str) -> None:
        nonlocal start
        phases[phase] = round(time.perf_counter() - start, 3)
        start = time.perf_counter()

    experiment = new_experiment(storage, None, spec.model)
    data, judge = load_inputs(spec, data_dir, None)
    lap("data_s")
    with connected(None, experiment.log_file), contextlib.redirect_stdout(sys.stderr):  # progress lines
        lap("ray_start_s")
        cpu = time.process_time()
        start_sweep(experiment, spec, data, judge, ["bench"])
        phases["driver_cpu_s"] = round(time.process_time() - cpu, 3)  # this process's, threads included
        lap("trials_s")
    lap("shutdown_s")
    return experiment, phases
