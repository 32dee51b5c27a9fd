"""An experiment's trials as Ray Tune left them -> one pandas table: the one module that reads Tune's experiment
states, the driver's trial index and each trial's result.json, as plain JSON."""

from __future__ import annotations

import functools
import json
import logging
import math
import shlex
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import pandas as pd

from experiments.errors import SweepError
from experiments.experiment import DRIVER_FILE, Experiment, open_experiment, subfolders, trial_index_name
from experiments.rounds import rounds_of
from experiments.spec import SweepSpec, reached_end

log = logging.getLogger(__name__)

FINAL = ("finished", "stopped", "diverged", "errored", "interrupted")  # outcomes a resumed sweep does not run again


READERS = 32  # files read from an object store at once: it answers each read slowly, but many at a time


def trial_outcome(status: str, result: dict, epochs: int, time_limit_s: float | None = None,
                  stops_early: bool = True) -> str:
    """What became of a trial: running, pending, finished (its epochs, or the sweep's time per trial), stopped
    (early, by a scheduler that `stops_early`), diverged, errored, paused, or interrupted (left unfinished by a
    round that a later one followed)."""
    if status == "ERROR":
        return "errored"
    if status == "TERMINATED":
        if result.get("diverged"):
            return "diverged"
        if not stops_early:  # population-based training ends no trial early
            return "finished"
        return "finished" if reached_end(result, epochs, time_limit_s) else "stopped"
    return status.lower()



@dataclass
class Results:
    """An experiment read once: where it is, its sweep file, its trials as Tune left them and the trial table.
    Analysis functions take one (or a path, which they open)."""

    experiment: Experiment
    spec: SweepSpec
    trials: list[TrialRecord]
    table: pd.DataFrame  # load_experiment's

    @property
    def path(self) -> str:
        return self.experiment.path

    def trial(self, trial_id: str) -> TrialRecord:
        found = next((t for t in self.trials if t.trial_id == trial_id), None)
        if found is None:
            raise SweepError(f"no trial {trial_id} in {self.path}: see `sweeps status {self.path}`")
        return found


def open_results(source: str | Results) -> Results:
    """The experiment at a path or URI (an experiment's or a rerun's folder), read once; a Results as it is."""
    if isinstance(source, Results):
        return source
    experiment, spec = open_experiment(source)
    trials = read_trials(experiment)
    return Results(experiment, spec, trials, table_of(trials, spec))


def load_experiment(path: str) -> pd.DataFrame:
    """One row per trial: trial_id, status, round (of `sweeps extend`), epochs, wall time, the last epoch's metrics,
    the best value of the sweep's metric and its epoch, and `config/<name>` columns. Works while the sweep runs."""
    return open_results(path).table


def trial_table(experiment: Experiment, spec: SweepSpec) -> pd.DataFrame:
    """load_experiment's table of an opened experiment."""
    return table_of(read_trials(experiment), spec)


def table_of(trials: list[TrialRecord], spec: SweepSpec) -> pd.DataFrame:
    metric, mode = spec.metric[0], spec.mode[0]
    cpus, gpus = spec.resources.cpu, spec.resources.gpu
    epochs = spec.epochs  # parses the model's config: once, not once a trial
    time_limit_s, stops_early = spec.time_limit_s, spec.scheduler.type == "asha"
    reported, rows = spec.reported_metrics(), []
    for trial in trials:
        reports = trial.reports
        result = {k: v for k, v in reports[-1].items() if present(v)} if reports else {}
        row = {
            "trial_id": trial.trial_id,
            "status": trial_outcome(trial.status, result, trial.config.get("epochs", epochs), time_limit_s,
                                    stops_early),
            "round": trial.config.get("round", 1),
            "epochs": result.get("epoch", 0),
            "time_total_s": result.get("time_total_s", math.nan),
        }
        row["cpu_s"], row["gpu_s"] = row["time_total_s"] * cpus, row["time_total_s"] * gpus
        row.update({k: result[k] for k in reported if k in result})
        if reports and "timestamp" in reports[0]:  # when the trial started, for plots in start order
            row["started"] = reports[0]["timestamp"] - reports[0].get("time_total_s", math.nan)
        scored = [r for r in reports if present(r.get(metric))]
        if scored:  # the first of the best, as idxmin and idxmax pick
            best = (min if mode == "min" else max)(scored, key=lambda r: r[metric])
            row[f"best_{metric}"], row["best_epoch"] = best[metric], best.get("epoch", math.nan)
        row.update({f"config/{k}": v for k, v in trial.config.items() if k != "round"})
        rows.append(row)
    table = pd.DataFrame(rows)
    if f"best_{metric}" in table:
        table = table.sort_values(f"best_{metric}", ascending=mode == "min", na_position="last")
    return table.reset_index(drop=True)


def present(value) -> bool:
    """Neither None nor NaN: a value pandas' dropna keeps."""
    return value is not None and not (isinstance(value, float) and math.isnan(value))



@dataclass
class TrialRecord:
    """One trial as Tune left it on disk."""

    trial_id: str
    status: str  # Tune's: PENDING, RUNNING, PAUSED, TERMINATED or ERROR
    folder: str  # the trial's folder in the experiment
    config: dict
    reports: list[dict]  # what it reported (result.json's objects, without their config), in order

    @functools.cached_property
    def history(self) -> pd.DataFrame:
        """One row per report, in order; built when first asked for: a DataFrame per trial costs seconds per
        thousand trials, and the trial table needs none."""
        return pd.DataFrame(self.reports)


def read_trials(experiment: Experiment) -> list[TrialRecord]:
    """Every trial of an experiment, from Tune's newest experiment state and each trial's result.json, read as plain
    JSON: Tune's own loaders unpickle parts of them, which must never run on a folder that came from elsewhere."""
    states = trial_states(experiment)
    texts = read_files(experiment, [f"{folder}/result.json" for _, _, folder, _ in states])
    return [TrialRecord(*state, parse_reports(text)) for state, text in zip(states, texts)]


def read_files(experiment: Experiment, names: list[str]) -> list[str | None]:
    """The texts of the experiment's files `names` (None where one is missing), from an object store many at once:
    one by one, each would wait a round trip. A local file reads faster than a thread is handed it."""
    if experiment.is_local:
        return [experiment.read(name) for name in names]
    with ThreadPoolExecutor(READERS) as pool:
        return list(pool.map(experiment.read, names))


def trial_states(experiment: Experiment) -> list[tuple[str, str, str, dict]]:
    """Each trial's id, Tune status, folder and config, as the newest of Tune's experiment states that holds it says:
    each run of Tune (a sweep, its resumes, each round an extension added) leaves one; a resume's holds every trial
    of the state it resumed, a round's only its own trials. A trial an earlier round left unfinished, and that no
    later state holds, is INTERRUPTED: an extension does not run it again."""
    names = experiment.state_files()
    if not names:
        if any(experiment.read(f"{folder}/params.json") is not None for folder in subfolders(experiment.path)):
            raise SweepError(f"{experiment.path} holds trials but no experiment_state-*.json, Tune's record of them: "
                             "copy the experiment again from where it ran")
        return []
    if rounds_of(experiment) == 1:  # the older states of a resumed sweep hold nothing the newest lacks
        damaged = None  # (file, error) of the newest state
        for state_file in reversed(names):  # a driver killed as it wrote its state leaves it empty or cut short
            try:
                found = read_state(experiment, state_file)
            except SweepError as e:
                damaged = damaged or (state_file, e)
                continue
            if damaged:
                log.warning("warning: %s/%s is damaged: showing the trials as %s, the newest state that reads, left "
                            "them", experiment.path, damaged[0], state_file)
            return [tuple(trial) for trial in found.values()]
        raise damaged[1]
    trials = {}
    for state_file in names:  # oldest first: a newer state's record of a trial replaces an older one's
        found = read_state(experiment, state_file)
        if state_file != names[-1]:
            for trial in found.values():
                trial[1] = trial[1] if trial[1] in ("TERMINATED", "ERROR") else "INTERRUPTED"
        trials.update(found)
    return [tuple(trial) for trial in trials.values()]


def read_state(experiment: Experiment, state_file: str) -> dict[str, list]:
    """The trials a Tune experiment state holds, by id: [id, Tune status, folder, config]; from the driver's index
    of that state where it wrote one (a hundredth of the size), else from the state itself."""
    index = experiment.read(trial_index_name(state_file))
    try:  # none where an older version ran the sweep; one cut short or damaged is passed over
        trials = json.loads(index) if index is not None else None
        if isinstance(trials, list) and all(isinstance(t, list) and len(t) == 4 and isinstance(t[3], dict)
                                            for t in trials):
            return {trial[0]: trial for trial in trials}
    except ValueError:
        pass
    try:
        states = [json.loads(state) for state, _ in json.loads(experiment.read(state_file))["trial_data"]]
        return {s["trial_id"]: [s["trial_id"], s["status"], s["relative_logdir"], s["config"]] for s in states}
    except (ValueError, KeyError, TypeError) as e:
        raise SweepError(f"{experiment.path}/{state_file} is damaged ({e}): copy the experiment again from where "
                         "it ran") from None


def parse_reports(text: str | None) -> list[dict]:
    """A trial's reports (its result.json, one JSON object a line) without their config; a line cut short by a crash
    is left out."""
    reports = []
    for line in (text or "").splitlines():
        try:
            report = json.loads(line)
        except ValueError:
            continue
        if isinstance(report, dict):
            report.pop("config", None)
            reports.append(report)
    return reports


def best_trials(trials: pd.DataFrame, metric: str, mode: str, k: int = 5) -> pd.DataFrame:
    """The k trials with the best value of `metric` (their best epoch's, where the table has `best_<metric>`),
    leaving out trials that errored, diverged or never reported it."""
    column = f"best_{metric}" if f"best_{metric}" in trials else metric
    scored = trials[~trials["status"].isin(["errored", "diverged"])].dropna(subset=[column])
    return scored.sort_values(column, ascending=mode == "min").head(k)


def is_complete(trials: pd.DataFrame, num_samples: int) -> bool:
    """Every trial ran and reached an outcome a resumed sweep would not run again."""
    return len(trials) >= num_samples and trials["status"].isin(FINAL).all()


def sweep_state(experiment: Experiment, trials: pd.DataFrame, num_samples: int) -> str:
    """done, running (its driver is alive) or interrupted (resume it)."""
    if is_complete(trials, num_samples):
        return "done"
    driver = experiment.driver_state()
    if driver == "alive":
        return "running"
    if driver == "elsewhere":
        return f"running or interrupted (its driver ran on another host: {experiment.read_json(DRIVER_FILE)['host']})"
    return f"interrupted: `sweeps resume {shlex.quote(experiment.path)}` goes on with it"


def format_value(value: object) -> str:
    """A config value or metric as people read it: floats to four significant digits."""
    return f"{value:.4g}" if isinstance(value, float) else str(value)
