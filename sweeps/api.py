"""The Python API, as the `sweeps` command line uses it: run, resume, extend and open sweeps.

Nothing here prints results or configures logging: messages go through `logging`, and errors are the `ConfigError`,
`DataError` and `SweepError` the command line prints. Heavy libraries load when a function needs them.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from experiments.errors import SweepError

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from experiments.spec import SweepSpec

log = logging.getLogger(__name__)

MAX_SAMPLES = 200_000  # images `sample` draws at once: 0.6 GB of float32

Overrides = Mapping[str, Any] | list[str] | None  # {"fixed.epochs": 3} or ["fixed.epochs=3"]


class Sweep:
    """An experiment directory (a sweep's, or a rerun's), opened: its trial table, curves and best trials, and
    the commands that go on from it. Each call reads the experiment as it is now."""

    def __init__(self, path: str):
        from experiments.experiment import open_experiment

        self.experiment, self.spec = open_experiment(path)

    @property
    def path(self) -> str:
        return self.experiment.path

    def __repr__(self) -> str:
        return f"sweeps.open({self.path!r})"

    def status(self) -> str:
        """What `sweeps status` prints: state, trials by outcome, rounds, the top of the trial table."""
        from analysis.results import describe_experiment

        return describe_experiment(self.path)

    def trials(self) -> pd.DataFrame:
        """One row per trial (see `analysis.load_experiment`), best first."""
        from experiments.trials import load_experiment

        return load_experiment(self.path)

    def curves(self) -> pd.DataFrame:
        """Every metric of every epoch of every trial, long format (see `analysis.learning_curves`)."""
        from analysis.results import learning_curves

        return learning_curves(self.path)

    def best(self, k: int = 1) -> pd.DataFrame:
        """The `k` best trials by the sweep's metric, errored and diverged ones left out."""
        from experiments.trials import best_trials

        return best_trials(self.trials(), self.spec.metric[0], self.spec.mode[0], k)

    def rerun(self, top: int = 3, seeds: int = 3, epochs: int | None = None, overrides: Mapping[str, Any] | None = None,
              name: str | None = None, address: str | None = None, **data: Any) -> Sweep:
        """Retrain the `top` best configs with `seeds` seeds each on Ray (see `sweeps rerun`); returns the rerun."""
        from experiments.experiment import load_inputs
        from sweeps.rerun import plan_rerun, start_rerun
        from sweeps.session import connected

        spec, record = plan_rerun(self.experiment, self.spec, top, seeds, epochs, dict(overrides or {}))
        inputs = load_inputs(self.spec, **data_options(data))
        with connected(address, self.experiment.log_file):
            log.info("rerun of %s: %d configs x %d seeds", self.path, len(record["runs"]) // seeds, seeds)
            rerun = start_rerun(self.experiment, spec, record, *inputs, name, invocation())
        return Sweep(rerun.path)

    def report(self, out: str | Path | None = None, seed: int = 0, **data: Any) -> Path:
        """Write the HTML report of this experiment (default: EXPERIMENT/report); returns index.html's path."""
        from analysis.report import write_report
        from trainables.data import fetch_missing

        options = data_options(data)
        fetch_missing(self.spec.data.dataset, options["data_dir"], options["offline"])
        out = out or default_report_dir([self.path])
        return write_report([self.path], out, options["data_dir"], options["cache_dir"], seed)

    def sample(self, n: int = 2000, trial: str | None = None, seed: int = 0, **data: Any) -> np.ndarray:
        """`n` images (float32, (n, 28, 28), in [0, 1]) of the best checkpoint of the best (or `trial`) trial:
        samples, or an autoencoder's reconstructions of the first `n` test digits."""
        return self.draw(n, trial, seed, **data)[1]

    def draw(self, n: int, trial: str | None = None, seed: int = 0, **data: Any):
        """`sample`'s images, and the trained model (trial, epoch) that drew them."""
        import numpy as np

        from analysis.checkpoints import load_trained
        from trainables.data import load_data

        if n > MAX_SAMPLES:
            raise SweepError(f"--n {n}: at most {MAX_SAMPLES:,} images a call ({MAX_SAMPLES * 28 * 28 * 4 / 1e9:.1f} "
                             "GB of float32); call it again with other --seed values for more")
        test = None
        if not self.spec.family.samples:
            options = data_options(data)
            test = load_data(self.spec.data.dataset, options["data_dir"], offline=options["offline"])
            test = test.limit(self.spec.data.limit)
            if n > len(test.test):
                raise SweepError(f"--n {n}: {self.spec.model} reconstructs the {len(test.test)} test digits of its "
                                 f"sweep's data; ask for at most {len(test.test)}")
        trained = load_trained(self.path, trial)
        return trained, trained.images(n, seed, test).astype(np.float32)


def open(path: str) -> Sweep:  # noqa: A001 (sweeps.open, as in the command line's verbs)
    """The experiment at a folder or URI (a sweep's or a rerun's)."""
    return Sweep(path)


def run(sweep: str | Path | Mapping | SweepSpec, preset: str | None = None, overrides: Overrides = None,
        storage: str = "runs", name: str | None = None, address: str | None = None,
        warm_start: str | None = None, **data: Any) -> Sweep:
    """Run a sweep (a sweep file's path, the same as a dict, or a validated spec) to its end on Ray: a local Ray,
    or the cluster at `address`. `warm_start`: an earlier experiment whose trials seed this sweep's study.
    `data`: data_dir, cache_dir, offline. Returns the experiment, STORAGE/NAME."""
    from experiments.experiment import load_inputs, new_experiment
    from experiments.rounds import warm_start_source
    from sweeps.launch import start_sweep
    from sweeps.session import connected

    spec = resolve_spec(sweep, preset, overrides, warm_start)
    if spec.warm_start is not None:
        warm_start_source(spec)  # refused now, before the data loads
    experiment = new_experiment(storage, name, spec.model)
    inputs = load_inputs(spec, **data_options(data))
    try:
        with connected(address, experiment.log_file):
            start_sweep(experiment, spec, *inputs, invocation(), autoscaling=address is not None)
    except KeyboardInterrupt:  # before Tune took over Ctrl-C (it stops the sweep and returns)
        if experiment.read_bytes("tuner.pkl") is None:
            log.warning("interrupted before the sweep started: nothing ran (run it again; %s holds no trial and may "
                        "be deleted)", experiment.path)
        raise
    return Sweep(experiment.path)


def resume(path: str, address: str | None = None, trust: bool = False, **data: Any) -> Sweep:
    """Go on with an interrupted sweep (see `sweeps resume`); `trust` one this user's sweeps here did not write."""
    from experiments.experiment import load_inputs, open_experiment
    from experiments.trials import is_complete, trial_table
    from experiments.trust import check_resumable
    from sweeps.launch import check_restorable, resume_sweep
    from sweeps.session import connected

    experiment, spec = open_experiment(path)
    experiment.check_unlocked()  # both before the data loads
    check_resumable(experiment, trust)
    if is_complete(trial_table(experiment, spec), spec.num_samples):  # Tune would restore every trial to see it
        log.info("%s: every trial has ended, nothing to resume", experiment.path)
        return Sweep(experiment.path)
    check_restorable(experiment)
    inputs = load_inputs(spec, **data_options(data))
    with connected(address, experiment.log_file):
        resume_sweep(experiment, spec, *inputs, trust)
    return Sweep(experiment.path)


def extend(path: str, num_samples: int | None = None, preset: str | None = None, overrides: Overrides = None,
           address: str | None = None, **data: Any) -> Sweep:
    """Run `num_samples` more trials (default: as many as the last round) of a finished or interrupted sweep, in
    its experiment, with the search space changed by `preset` and `overrides` (e.g. {"search.lr.high": 0.1}):
    its study starts from every earlier trial that fits the new space (see `sweeps extend`)."""
    from experiments.experiment import load_inputs, open_experiment
    from experiments.rounds import plan_extension
    from sweeps.launch import check_same_data, extend_sweep
    from sweeps.session import connected

    experiment, spec = open_experiment(path)
    experiment.check_unlocked()
    new = plan_extension(experiment, spec, num_samples, preset, override_pairs(overrides))
    data, judge = load_inputs(new, **data_options(data))
    check_same_data(experiment, data)
    with connected(address, experiment.log_file):
        extend_sweep(experiment, new, data, judge, invocation(), autoscaling=address is not None)
    return Sweep(experiment.path)


def resolve_spec(sweep: str | Path | Mapping | SweepSpec, preset: str | None = None, overrides: Overrides = None,
                 warm_start: str | None = None) -> SweepSpec:
    """A validated sweep file from a path, a dict or a spec, with a preset, overrides and a warm start applied."""
    import yaml

    from experiments.spec import SweepSpec, dump_spec, load_spec, read_spec

    pairs = override_pairs(overrides)
    if warm_start is not None:  # as a path string in YAML, whatever its characters
        pairs.append(f"warm_start.experiment={json.dumps(str(warm_start))}")
    if isinstance(sweep, SweepSpec):
        if preset is None and not pairs:
            return sweep
        sweep = yaml.safe_load(dump_spec(sweep, presets=True))
    if isinstance(sweep, Mapping):
        spec = read_spec(yaml.safe_dump(dict(sweep)), "the sweep given", preset, pairs, to_run=True)
    else:
        spec = load_spec(sweep, preset, pairs)
    if spec.warm_start is not None and "://" not in spec.warm_start.experiment:  # kept resolved in sweep.yaml
        spec.warm_start.experiment = str(Path(spec.warm_start.experiment).resolve())
    return spec


def default_report_dir(experiments: list[str]) -> Path:
    """EXPERIMENT/report for one local experiment; else report/ beside the first local one, or here."""
    if len(experiments) == 1 and "://" not in experiments[0]:
        return Path(experiments[0]) / "report"
    local = [Path(e).resolve().parent for e in experiments if "://" not in e]
    return (local[0] if local else Path.cwd()) / "report"


def override_pairs(overrides: Overrides) -> list[str]:
    """`--set` strings from a mapping of dotted paths to values, or the strings themselves."""
    if isinstance(overrides, Mapping):
        return [f"{path}={json.dumps(value)}" for path, value in overrides.items()]
    return list(overrides or [])


def data_options(data: Mapping[str, Any]) -> dict[str, Any]:
    """Where data and the judge come from: data_dir, cache_dir and offline, as the command line's options."""
    unknown = set(data) - {"data_dir", "cache_dir", "offline"}
    if unknown:
        raise TypeError(f"unexpected arguments {', '.join(sorted(unknown))}: data_dir, cache_dir and offline are known")
    return {"data_dir": data.get("data_dir"), "cache_dir": data.get("cache_dir"), "offline": data.get("offline", False)}


def invocation() -> list[str]:
    """The command line recorded in environment.json: the `sweeps` command's, or the Python program's."""
    return ["sweeps", *sys.argv[1:]] if Path(sys.argv[0]).name == "sweeps" else list(sys.argv)
