"""Packing trials on this machine's cores: two 1-CPU trials side by side against one 2-CPU trial at a time,
in total training images per second of the sweep.

    python -m bench.packing [--models ae gan] [--trials 4] [--epochs 2] [--limit 3000] [--repeats 3]

Each side runs the model's shipped sweep file through `sweeps run`'s own path, changed to `--trials` trials
of the report's settings (only the seed searched, so every trial costs the same) without early stopping,
on a local Ray with every core. Images per second = trials x epochs x training images / the wall time of
the trials (Ray's start and stop left out), medians of the repeats, the two packings taking turns. The
sweep files' defaults (resources.cpu 1, as many trials at once as fit) are the first side.
"""

from __future__ import annotations

import json
import os
import tempfile
from statistics import median

from bench.common import build_parser, emit, quiet_tune, ratio, run, run_sweep
from experiments.experiment import ENVIRONMENT_FILE
from experiments.spec import load_spec
from trainables.registry import FAMILIES


def main() -> None:
    parser = build_parser(__doc__)
    parser.add_argument("--models", nargs="+", default=["ae", "gan"], choices=list(FAMILIES))
    parser.add_argument("--trials", type=int, default=4)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--limit", type=int, default=3000, help="images per partition (default: 3000)")
    args = parser.parse_args()
    quiet_tune()
    cores = os.cpu_count()
    packings = {f"{cores}x1cpu": (1, cores), f"1x{cores}cpu": (cores, 1)}
    results = {"cores": cores, "trials": args.trials, "epochs": args.epochs, "limit": args.limit,
               "repeats": args.repeats}
    summary = [f"total training images/s of a sweep on {cores} cores (median of {args.repeats}):"]
    for model in args.models:
        seconds = {name: [] for name in packings}
        for _ in range(args.repeats):
            for name, (cpu, concurrent) in packings.items():
                spec = load_spec(f"sweeps/specs/{model}.yaml", None, [
                    f"num_samples={args.trials}", f"resources.cpu={cpu}", f"max_concurrent={concurrent}",
                    "scheduler={type: none}", "search={seed: {type: int, low: 0, high: 1000000}}", "start_with=[]",
                    f"fixed={{epochs: {args.epochs}}}", f"data.limit={args.limit}"])
                with tempfile.TemporaryDirectory() as storage:
                    experiment, phases = run_sweep(spec, storage, args.data_dir)
                    train_images = json.loads(experiment.read(ENVIRONMENT_FILE))["data"]["train"]
                seconds[name].append(phases["trials_s"])
        images = args.trials * args.epochs * train_images
        rate = {name: round(images / median(s), 1) for name, s in seconds.items()}
        first, second = packings
        results[model] = {**{f"{name}_images_per_s": r for name, r in rate.items()},
                          **{f"{name}_trials_s": [round(s, 2) for s in v] for name, v in seconds.items()},
                          "ratio": ratio(rate[first], rate[second])}
        summary.append(f"  {model}: {first} {rate[first]:.0f}, {second} {rate[second]:.0f} "
                       f"({results[model]['ratio']:.2f}x)")
    emit(results, summary)


if __name__ == "__main__":
    run(main)
