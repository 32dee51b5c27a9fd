"""End to end: `sweeps run` of the AE smoke sweep, its wall time split into data load, Ray start, trials and
shutdown, and the trials' share into training and the rest.

    python -m bench.end_to_end [--file sweeps/specs/ae.yaml] [--preset smoke] [--repeats 3]

Each repeat runs the command itself (`sweeps run FILE --preset PRESET`, a fresh process: Python and
package imports included) and then the same sweep in this process through the command's own functions,
timed phase by phase: loading the data (and the judge), starting Ray, the trials (`Tuner.fit`: Tune's
set-up, the trial actors, training and the final sync), shutting Ray down. Inside the trials phase, the
epochs' own time (Tune's `time_this_iter_s`, summed over trials and divided by the trials run at once) is
split off as training; the rest is start-up of the actors and Tune's bookkeeping. Medians of the repeats.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from statistics import median

from bench.common import build_parser, emit, quiet_tune, ratio, run, run_sweep
from experiments.spec import load_spec
from experiments.trials import load_experiment


def main() -> None:
    parser = build_parser(__doc__)
    parser.add_argument("--file", default="sweeps/specs/ae.yaml")
    parser.add_argument("--preset", default="smoke")
    args = parser.parse_args()
    quiet_tune()
    spec = load_spec(args.file, args.preset)
    env = {**os.environ, **({"SWEEPS_DATA_DIR": args.data_dir} if args.data_dir else {})}
    command_s, phases, training = [], [], []
    for _ in range(args.repeats):
        with tempfile.TemporaryDirectory() as storage:
            start = time.perf_counter()
            subprocess.run([sys.executable, "-m", "sweeps.cli", "run", args.file, "--preset", args.preset,
                            "--storage", storage], env=env, check=True, capture_output=True)
            command_s.append(time.perf_counter() - start)
        with tempfile.TemporaryDirectory() as storage:
            experiment, timed = run_sweep(spec, storage, args.data_dir)
            epochs = load_experiment(experiment.path)["time_total_s"].sum()
            at_once = min(spec.max_concurrent or os.cpu_count(), spec.num_samples)
            phases.append(timed)
            training.append(epochs / at_once)
    driver_cpu_s = median([p.pop("driver_cpu_s") for p in phases])
    split = {phase: round(median([p[phase] for p in phases]), 3) for phase in phases[0]}
    trials_s = split["trials_s"]
    results = {
        "sweep": f"{args.file} --preset {args.preset}", "trials": spec.num_samples, "repeats": args.repeats,
        "command_s": round(median(command_s), 3), **split,
        "training_s": round(median(training), 3),
        "trials_other_s": round(trials_s - median(training), 3),
        "in_process_total_s": round(sum(split.values()), 3),
        "training_share_of_command": ratio(median(training), median(command_s)),
        "driver_cpu_during_trials_s": round(driver_cpu_s, 3),
    }
    results["imports_and_exit_s"] = round(results["command_s"] - results["in_process_total_s"], 3)
    emit(results, [
        f"`sweeps run {args.file} --preset {args.preset}`: {results['command_s']:.1f} s (median of {args.repeats}):",
        *(f"  {phase[:-2].replace('_', ' '):>14} {split[phase]:6.2f} s" for phase in split),
        f"  {'imports, exit':>14} {results['imports_and_exit_s']:6.2f} s",
        f"  of the trials' {trials_s:.2f} s, training took {results['training_s']:.2f} s "
        f"({results['training_share_of_command']:.0%} of the command); the driver used {driver_cpu_s:.2f} CPU s",
    ])


if __name__ == "__main__":
    run(main)
