"""Scale: sweeps of N trials of a synthetic trainable (bench/synthetic.py: it sleeps each epoch) through the real launch
path (`start_sweep`: the same StudySearch, scheduler, callbacks, checkpoint and failure config, experiment folder and
journal) on a local Ray with many logical CPUs: what the driver costs as N grows.

    python -m bench.scale [--sizes 100 1000] [--cpus 64] [--epoch-s 1] [--epochs 1] [--searcher tpe]
                          [--storage remote] [--kill-at K] [--keep DIR]

For each N, as JSON: wall time of the trials against the theoretical minimum (N x trial length / concurrency), the
driver's CPU seconds per trial, searcher ask and tell latency (median, p99) by how many trials had finished, Tune's
experiment-state saves (count, time, size), the journal's size, the bytes the driver copied to the experiment's
storage (`--storage remote`: a file:// URI, the code path of s3://), the driver's peak memory, and the time of
`sweeps status`, `sweeps analyze`, `load_experiment`, the study's replay (what `resume` reads), `sweeps resume` of
the finished sweep and `sweeps report` on it. `--kill-at K` instead SIGKILLs the driver once K trials finished, runs
`sweeps resume --trust`, checks that every trial ran exactly once, each epoch once, and times the user's commands
on the resumed experiment. Beside each N (not with `--kill-at`), the same synthetic trials through Ray Tune alone
(`ray_tune_alone`: its defaults, random search, actors reused, no project code): what Ray Tune gives on the same
machine.

10,000 trials of one second at 64 CPUs: theoretically 156 s; each size is its own process, its own Ray.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import io
import json
import os
import resource
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from bench.common import build_parser, emit, quiet_tune, run

SPEC = {
    "model": "ae", "metric": "val_mse", "resources": {"cpu": 1, "gpu": 0},
    "scheduler": {"type": "asha", "grace_period": 1, "reduction_factor": 3},
    "search": {"lr": {"type": "float", "low": 1e-4, "high": 3e-2, "log": True},
               "batch_size": {"type": "categorical", "choices": [16, 32, 64, 128]}},
    "fixed": {"latent_dim": 8, "channels": 2},  # the synthetic checkpoint's network: a report can load it
    "data": {"dataset": "mnist", "limit": 100},
    "seed": 0,
}


def spec_of(n: int, args):
    from sweeps.api import resolve_spec

    return resolve_spec(SPEC | {"num_samples": n, "max_concurrent": args.cpus, "searcher": args.searcher,
                                "fixed": SPEC["fixed"] | {"epochs": args.epochs}})


def model_state() -> bytes:
    """A real AE checkpoint of the spec's network, what each synthetic trial saves."""
    import torch

    from trainables.autoencoder import build_autoencoder
    from trainables.config import parse_config
    from trainables.registry import FAMILIES
    from trainables.state import snapshot

    torch.manual_seed(0)  # the same network in every run
    cfg = parse_config(FAMILIES["ae"].config, SPEC["fixed"])
    network = build_autoencoder(cfg)
    buffer = io.BytesIO()
    torch.save(snapshot(0, model=network, optimizer=torch.optim.Adam(network.parameters())), buffer)
    return buffer.getvalue()


def use_synthetic_trainable(epoch_s: float) -> None:
    """The launch path's trainable, replaced by the synthetic one (its data goes nowhere)."""
    from ray import tune

    from bench.synthetic import synthetic_trial
    from sweeps import launch

    state = model_state()
    launch.trainable = lambda spec, data, judge: tune.with_resources(
        tune.with_parameters(synthetic_trial, epoch_s=epoch_s, state=state), {"cpu": spec.resources.cpu})


class Probes:
    """Timers around the driver's searcher, Tune's state saves and every copy to the experiment's storage."""

    def __init__(self):
        from ray.train._internal import storage
        from ray.tune.execution.tune_controller import TuneController

        from experiments.experiment import Experiment
        from sweeps.search import StudySearch

        self.asks, self.tells, self.saves, self.uploaded, self.finished = [], [], [], 0, 0
        self.wrap(StudySearch, "suggest", lambda s, *a: self.asks.append((self.finished, s)))
        self.wrap(StudySearch, "on_trial_complete", self.told)
        self.wrap(TuneController, "save_to_dir", lambda s, *a: self.saves.append(s))
        self.wrap(Experiment, "write", self.written)
        self.wrap(storage, "_upload_to_fs_path", self.tune_upload)

    @staticmethod
    def wrap(owner, name: str, record) -> None:
        original = getattr(owner, name)

        @functools.wraps(original)
        def timed(*args, **kwargs):
            start = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                record(time.perf_counter() - start, *args, **kwargs)

        setattr(owner, name, timed)

    def told(self, seconds: float, *args, **kwargs) -> None:
        self.tells.append((self.finished, seconds))
        self.finished += 1

    def written(self, seconds: float, experiment, filename: str, text: str | bytes) -> None:
        if not experiment.is_local:  # the study's journal, the sweep file and such
            self.uploaded += len(text)

    def tune_upload(self, seconds: float, local_path: str, *args, **kwargs) -> None:
        path = Path(local_path)
        files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
        self.uploaded += sum(p.stat().st_size for p in files)


def latency(samples: list[tuple[int, float]], n: int) -> list[dict]:
    """Median and p99 in ms of the calls made while each tenth of the trials finished."""
    rows = []
    for tenth in range(10):
        low, high = n * tenth // 10, n * (tenth + 1) // 10
        seconds = [s for finished, s in samples if low <= finished < high]
        if seconds:
            rows.append({"finished": f"{low}-{high}", "calls": len(seconds),
                         "median_ms": round(1000 * float(np.median(seconds)), 2),
                         "p99_ms": round(1000 * float(np.percentile(seconds, 99)), 2)})
    return rows


def storage_root(folder: str, args) -> str:
    return f"file://{folder}" if args.storage == "remote" else folder


def drive(n: int, path: str, args, resume: bool = False) -> dict:
    """Run (or resume) the sweep of n synthetic trials at `path` in this process; what the probes saw."""
    import sweeps
    from experiments.experiment import Experiment, new_experiment, open_experiment
    from sweeps.launch import start_sweep
    from sweeps.session import connected
    from trainables.data import load_data

    use_synthetic_trainable(args.epoch_s)
    probes = Probes()
    if resume:
        experiment, spec = open_experiment(path)
    else:
        experiment, spec = Experiment.at(path), spec_of(n, args)
        experiment = new_experiment(experiment.storage, experiment.name, "ae")
        data = load_data(spec.data.dataset, args.data_dir).limit(spec.data.limit)

    def sweep() -> None:
        if resume:  # as `sweeps resume --trust` does it: the trials' data loaded anew
            sweeps.resume(path, trust=True, data_dir=args.data_dir)
        else:
            with connected(None, experiment.log_file):
                start_sweep(experiment, spec, data, None, ["bench.scale"])

    ran = on_ray(sweep, n, args)
    states = [f for f in Path(local_path(experiment.path)).glob("experiment_state-*.json")]
    journal = experiment.study_journal  # a URI's local copy: none where a resume found nothing to do
    return {
        "trials": n, "concurrency": args.cpus, "searcher": args.searcher, "storage": args.storage, **ran,
        "ask": latency(probes.asks, n), "tell": latency(probes.tells, n),
        "state_saves": {"count": len(probes.saves), "total_s": round(sum(probes.saves), 1),
                        "median_ms": round(1000 * float(np.median(probes.saves or [0])), 1),
                        "max_ms": round(1000 * max(probes.saves or [0]), 1),
                        "size_mb": round(max((s.stat().st_size for s in states), default=0) / 1e6, 2)},
        "journal_mb": round(os.path.getsize(journal) / 1e6, 2) if os.path.exists(journal) else None,
        "uploaded_mb": round(probes.uploaded / 1e6, 1),
        "driver_peak_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }


def ray_tune_alone(n: int, path: str, args) -> dict:
    """The same synthetic trials through Ray Tune alone, at the same concurrency, with its defaults (random search,
    FIFO, every checkpoint kept) but for reusing actors, as a sweep does (without, each trial starts a process)."""
    from ray import tune

    from bench.synthetic import synthetic_trial

    trainable = tune.with_resources(tune.with_parameters(synthetic_trial, epoch_s=args.epoch_s, state=model_state()),
                                    {"cpu": 1})
    lr, batch_size = SPEC["search"]["lr"], SPEC["search"]["batch_size"]
    space = {"lr": tune.loguniform(lr["low"], lr["high"]), "batch_size": tune.choice(batch_size["choices"]),
             "epochs": args.epochs}
    storage, name = path.rsplit("/", 1)
    tuner = tune.Tuner(trainable, param_space=space,
                       tune_config=tune.TuneConfig(num_samples=n, max_concurrent_trials=args.cpus, reuse_actors=True),
                       run_config=tune.RunConfig(storage_path=storage, name=name, verbose=0))
    return on_ray(tuner.fit, n, args)


def on_ray(fit, n: int, args) -> dict:
    """Wall time and driver CPU of `fit` on a fresh local Ray of `args.cpus` logical CPUs, and how many trials ran at
    once on average (the trials' own seconds over the wall time)."""
    import ray

    with contextlib.redirect_stdout(sys.stderr):  # Ray's and Tune's messages: stdout holds the JSON alone
        ray.init(num_cpus=args.cpus, include_dashboard=False, log_to_driver=False, configure_logging=False)
        cpu, start = time.process_time(), time.perf_counter()
        try:
            fit()
        finally:
            wall, cpu = time.perf_counter() - start, time.process_time() - cpu
            ray.shutdown()
    theoretical = n * args.epochs * args.epoch_s / args.cpus
    return {"wall_s": round(wall, 1), "theoretical_s": round(theoretical, 1), "overhead": round(wall / theoretical, 2),
            "mean_running": round(n * args.epochs * args.epoch_s / wall, 1),
            "driver_cpu_ms_per_trial": round(1000 * cpu / n, 1)}


def local_path(path: str) -> str:
    return path.removeprefix("file://")


def timed(command: list[str], timeout: float, env: dict | None = None) -> float | str:
    """Wall seconds of a command, or why it gave none."""
    start = time.perf_counter()
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=env)
    except subprocess.TimeoutExpired:
        return f"over {timeout:.0f} s"
    if done.returncode:
        return f"exit {done.returncode}: {(done.stderr or done.stdout).strip().splitlines()[-1:]}"
    return round(time.perf_counter() - start, 2)


def reading(n: int, path: str, folder: str, args) -> dict:
    """How long the user's commands take on the finished experiment."""
    from experiments.experiment import Experiment, load_latest_study
    from experiments.trials import load_experiment

    sweeps = [sys.executable, "-m", "sweeps.cli"]
    times = {"status_s": timed([*sweeps, "status", path], 600), "analyze_s": timed([*sweeps, "analyze", path], 600)}
    start = time.perf_counter()
    load_experiment(path)
    times["load_experiment_s"] = round(time.perf_counter() - start, 2)
    start = time.perf_counter()
    load_latest_study(Experiment.at(path)).get_trials(deepcopy=False)
    times["study_replay_s"] = round(time.perf_counter() - start, 2)
    start = time.perf_counter()  # the trials' own trainable: Ray refuses another on resume
    resumed = child(n, path, args, resume=True, env=os.environ | {"SWEEPS_CACHE_DIR": f"{folder}/new-head"})
    resumed.communicate()  # a URI's journal read anew, as on a new head
    times["resume_s"] = round(time.perf_counter() - start, 2) if resumed.returncode == 0 else "failed"
    times["report_s"] = timed([*sweeps, "report", path, "--out", f"{folder}/report"], args.report_timeout)
    return times


def child(n: int, path: str, args, resume: bool = False, env: dict | None = None,
          alone: bool = False) -> subprocess.Popen:
    """This script driving one sweep in a process of its own (a session: SIGKILL takes Ray with it)."""
    argv = [sys.executable, "-m", "bench.scale", "--drive", str(n), path, "--cpus", str(args.cpus),
            "--epoch-s", str(args.epoch_s), "--epochs", str(args.epochs), "--searcher", args.searcher,
            *(["--resume"] if resume else []), *(["--alone"] if alone else [])]
    return subprocess.Popen(argv, stdout=subprocess.PIPE, text=True, start_new_session=True, env=env)


def finished_trials(folder: Path, epochs: int) -> int:
    return sum(1 for result in folder.glob("*/result.json") if f'"epoch": {epochs},' in result.read_text())


def workdir(args) -> contextlib.AbstractContextManager[str]:
    """Where the experiments go: `--keep DIR`, where they stay to be looked at, or a folder deleted after."""
    if args.keep:
        Path(args.keep).mkdir(parents=True, exist_ok=True)
        return contextlib.nullcontext(str(Path(args.keep).resolve()))
    return tempfile.TemporaryDirectory()


def kill_and_resume(n: int, args) -> dict:
    """SIGKILL the driver once `args.kill_at` trials finished, resume, and count what ran."""
    with workdir(args) as folder:
        path = f"{storage_root(folder, args)}/scale-{n}"
        driver = child(n, path, args, resume=False)
        start = time.perf_counter()
        while finished_trials(Path(folder) / f"scale-{n}", args.epochs) < args.kill_at:
            assert driver.poll() is None, "the driver ended before the kill"
            time.sleep(1)
        os.killpg(driver.pid, signal.SIGKILL)
        driver.wait()
        killed_after_s = time.perf_counter() - start
        killed_at = finished_trials(Path(folder) / f"scale-{n}", args.epochs)
        resumed = child(n, path, args, resume=True)
        out, _ = resumed.communicate()
        epochs = {}
        for result in (Path(folder) / f"scale-{n}").glob("*/result.json"):
            epochs[result.parent.name] = [json.loads(line)["epoch"] for line in result.read_text().splitlines()]
        full = list(range(1, args.epochs + 1))
        return {"trials": n, "killed_after_s": round(killed_after_s, 1), "finished_at_kill": killed_at,
                "wall_s": round(time.perf_counter() - start, 1),  # the first driver's time, and the resumed one's
                "resume": json.loads(out) if resumed.returncode == 0 else f"exit {resumed.returncode}",
                "trials_after": len(epochs), "lost": n - len(epochs),
                "repeated_or_missing_epochs": sum(e != full for e in epochs.values()),
                **reading(n, path, folder, args)}


def main() -> None:
    parser = build_parser(__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 1000], help="trials per sweep")
    parser.add_argument("--cpus", type=int, default=64, help="Ray's logical CPUs, and the sweep's concurrency")
    parser.add_argument("--epoch-s", type=float, default=1.0, help="seconds a synthetic epoch sleeps")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--searcher", choices=["tpe", "random"], default="tpe")
    parser.add_argument("--storage", choices=["local", "remote"], default="remote",
                        help="remote: a file:// URI, which takes the code path of s3:// (default)")
    parser.add_argument("--report-timeout", type=float, default=900)
    parser.add_argument("--kill-at", type=int, help="SIGKILL the driver once this many trials finished, resume")
    parser.add_argument("--keep", metavar="DIR", help="put the experiments in DIR and keep them (default: deleted)")
    parser.add_argument("--drive", nargs=2, metavar=("N", "PATH"), help=argparse.SUPPRESS)
    parser.add_argument("--resume", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--alone", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    quiet_tune()
    if args.drive:  # a child: one sweep, its probes' JSON on stdout
        n, path = int(args.drive[0]), args.drive[1]
        print(json.dumps(ray_tune_alone(n, path, args) if args.alone else drive(n, path, args, args.resume)))
        return
    results, summary = {"sizes": []}, []
    for n in args.sizes:
        if args.kill_at:
            result = kill_and_resume(n, args)
            summary.append(f"{n} trials, killed at {result['finished_at_kill']} finished: {result['lost']} lost, "
                           f"{result['repeated_or_missing_epochs']} with repeated or missing epochs")
            results["sizes"].append(result)
            continue
        with workdir(args) as folder:
            path = f"{storage_root(folder, args)}/scale-{n}"
            driver = child(n, path, args, resume=False)
            out, _ = driver.communicate()
            print(out.strip(), file=sys.stderr, flush=True)  # each part as it ends: a long run stopped keeps it
            if driver.returncode:
                results["sizes"].append({"trials": n, "error": f"exit {driver.returncode}"})
                continue
            times = reading(n, path, folder, args)
            print(json.dumps(times), file=sys.stderr, flush=True)
            alone = child(n, f"{folder}/alone-{n}", args, alone=True)  # right after, side by side
            out_alone, _ = alone.communicate()
            baseline = json.loads(out_alone) if alone.returncode == 0 else {"error": f"exit {alone.returncode}"}
            result = json.loads(out) | times | {"ray_tune_alone": baseline}
        results["sizes"].append(result)
        summary.append(f"{n} trials: {result['wall_s']} s against {result['theoretical_s']} s ({result['overhead']}x; "
                       f"Ray Tune alone {result['ray_tune_alone'].get('wall_s')} s); status {result['status_s']} s, "
                       f"load_experiment {result['load_experiment_s']} s, report {result['report_s']} s")
        print(json.dumps(result["ray_tune_alone"]), file=sys.stderr, flush=True)
    emit(results, summary)


if __name__ == "__main__":
    run(main)
