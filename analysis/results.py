"""Experiment directories -> pandas: the one module that reads Ray Tune's result files."""

from __future__ import annotations

import functools
import json
import logging
import math
import random
import shlex
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import pandas as pd

from sweeps.errors import SweepError
from sweeps.experiment import (
    DRIVER_FILE, RERUN_FILE, RERUNS, SWEEP_FILE, Experiment, open_experiment, subfolders, trial_index_name,
)
from sweeps.rounds import rounds_of
from sweeps.spec import SweepSpec, reached_end
from trainables.config import ConfigError

log = logging.getLogger(__name__)

FINAL = ("finished", "stopped", "diverged", "errored", "interrupted")  # outcomes a resumed sweep does not run again
READERS = 32  # files read from an object store at once: it answers each read slowly, but many at a time
IMPORTANCE_TRIALS = 1000  # fANOVA of two parameters: 20 s on 1,000 trials, 56 s on 3,000 (2 cores)


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


def best_checkpoint(results: Results, trial_id: str):
    """A trial's best kept checkpoint by the sweep's metric, else its latest; None if it kept none."""
    experiment, metric, trial = results.experiment, results.spec.metric[0], results.trial(trial_id)
    history, folder = trial.history, trial.folder
    if "checkpoint_dir_name" not in history:
        return None
    kept = history[history["checkpoint_dir_name"].isin(subfolders(f"{experiment.path}/{folder}"))]
    if kept.empty:
        return None
    scored = kept.dropna(subset=[metric]) if metric in kept else kept.iloc[:0]
    if len(scored):
        kept = scored.sort_values(metric, ascending=results.spec.mode[0] == "min", kind="stable")
        return checkpoint_at(experiment, folder, kept["checkpoint_dir_name"].iloc[0])
    return checkpoint_at(experiment, folder, kept["checkpoint_dir_name"].iloc[-1])


def checkpoint_at(experiment: Experiment, folder: str, name: str):
    from ray import tune

    return tune.Checkpoint(f"{experiment.path}/{folder}/{name}")


def learning_curves(source: str | Results) -> pd.DataFrame:
    """Every reported metric of every epoch of every trial, long format: trial_id, epoch, time_total_s,
    metric, value (`.pivot_table(index=["trial_id", "epoch"], columns="metric")` makes it wide)."""
    results = open_results(source)
    reported = [k for k in results.spec.reported_metrics() if k not in ("time_total_s", "time_this_iter_s")]
    keys = [set().union(*t.reports) for t in results.trials]  # what each trial reported
    trials = [(t, k) for t, k in zip(results.trials, keys) if "epoch" in k]
    if not trials:
        return pd.DataFrame(columns=["trial_id", "epoch", "time_total_s", "metric", "value"])
    metrics = dict.fromkeys(m for _, k in trials for m in reported if m in k)  # the first trial's first
    reports = [{**report, "trial_id": t.trial_id} for t, _ in trials for report in t.reports]
    wide = pd.DataFrame(reports, columns=["trial_id", "epoch", "time_total_s", *metrics])
    return wide.melt(["trial_id", "epoch", "time_total_s"], var_name="metric").dropna(subset=["value"])


def best_trials(trials: pd.DataFrame, metric: str, mode: str, k: int = 5) -> pd.DataFrame:
    """The k trials with the best value of `metric` (their best epoch's, where the table has `best_<metric>`),
    leaving out trials that errored, diverged or never reported it."""
    column = f"best_{metric}" if f"best_{metric}" in trials else metric
    scored = trials[~trials["status"].isin(["errored", "diverged"])].dropna(subset=[column])
    return scored.sort_values(column, ascending=mode == "min").head(k)


def start_trial(trials: pd.DataFrame, spec: SweepSpec) -> pd.Series | None:
    """The trial of the sweep file's first `start_with` config (the report's own, in the shipped files), if any."""
    if not spec.start_with or trials.empty:
        return None
    point = spec.start_with[0]
    columns = [f"config/{k}" for k in point]
    if not all(c in trials for c in columns):
        return None
    match = trials[(trials[columns] == pd.Series(point.values(), index=columns)).all(axis=1)]
    return match.iloc[0] if len(match) else None


def sweep_cost(trials: pd.DataFrame) -> dict[str, float]:
    """CPU- and GPU-seconds of the whole sweep, and the share spent on trials early stopping cut."""
    cpu_s, gpu_s = trials["cpu_s"].sum(), trials["gpu_s"].sum()
    stopped = trials.loc[trials["status"] == "stopped", "cpu_s"].sum()
    return {
        "trials": len(trials), "cpu_s": cpu_s, "gpu_s": gpu_s,
        "stopped_share": stopped / cpu_s if cpu_s else 0.0,
    }


def parameter_importance(source: str | Results, metric: str | None = None) -> pd.Series:
    """How much each searched parameter explains `metric` (default: the sweep's first), by Optuna's fANOVA
    evaluator on the stored study (on IMPORTANCE_TRIALS of its completed trials drawn at random, where it has more);
    empty for a study too small to tell (fewer than two completed trials)."""
    import optuna

    from sweeps.experiment import load_latest_study

    results = open_results(source)
    experiment, spec = results.experiment, results.spec
    metric = metric or spec.metric[0]
    if spec.scheduler.type == "pbt":  # population-based training keeps no study
        return pd.Series(dtype=float, name=metric)
    try:
        study = load_latest_study(experiment)
    except SweepError as e:
        raise SweepError(f"no parameter importance: {e}; the trial table does not need it") from None
    complete = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
    if len(complete) < 2:
        return pd.Series(dtype=float, name=metric)
    if len(complete) > IMPORTANCE_TRIALS:
        study = study_of(random.Random(0).sample(complete, IMPORTANCE_TRIALS), study.directions)
    index = spec.metric.index(metric)
    target = (lambda t: t.values[index]) if len(spec.metric) > 1 else None
    evaluator = optuna.importance.FanovaImportanceEvaluator(seed=0)
    try:
        importance = optuna.importance.get_param_importances(study, evaluator=evaluator, target=target)
    except (RuntimeError, ValueError):  # e.g. no parameter took two values
        return pd.Series(dtype=float, name=metric)
    importance = pd.Series(importance, name=metric, dtype=float)
    # for captions, "(fANOVA{note})": a study can hold fewer trials than the table
    importance.attrs["note"] = (f", {IMPORTANCE_TRIALS} of {len(complete)} trials drawn at random"
                                if len(complete) > IMPORTANCE_TRIALS else "")
    return importance


def study_of(trials: list, directions: list):
    """A study in memory holding `trials` (Optuna's FrozenTrials), without Optuna's message that it made one."""
    import optuna

    verbosity = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        study = optuna.create_study(directions=directions)
    finally:
        optuna.logging.set_verbosity(verbosity)
    study.add_trials(trials)
    return study


def rerun_summary(source: str | Results) -> pd.DataFrame:
    """One row per rerun config: the trial it came from, its sweep rank and value, and the mean, std and count
    of the metric's best epoch over the rerun's seeds (the sweep's value is its trial's best epoch too), with its
    rank among the reruns."""
    results = open_results(source)
    record = results.experiment.read_json(RERUN_FILE)
    if record is None:
        raise SweepError(f"{results.path} is no rerun (no {RERUN_FILE}): give a folder under EXPERIMENT/{RERUNS}/")
    metric, mode, table = results.spec.metric[0], results.spec.mode[0], results.table
    sweep = pd.DataFrame(record["runs"]).drop_duplicates("rerun_of")[["rerun_of", "sweep_rank", "sweep_value"]]
    if f"best_{metric}" in table:
        finished = table[table["status"] == "finished"]
        runs = finished.groupby("config/rerun_of")[f"best_{metric}"].agg(["mean", "std", "count"])
    else:
        runs = pd.DataFrame(columns=["mean", "std", "count"])
    summary = sweep.merge(runs, left_on="rerun_of", right_index=True, how="left")
    summary["rerun_rank"] = summary["mean"].rank(ascending=mode == "min")
    return summary.reset_index(drop=True)


def rank_correlation(summary: pd.DataFrame) -> float:
    """Spearman correlation of sweep rank and rerun rank: 1 when the rerun kept the sweep's order."""
    ranked = summary.dropna(subset=["rerun_rank"])
    return ranked["sweep_rank"].corr(ranked["rerun_rank"], method="spearman") if len(ranked) > 1 else math.nan


def latest_rerun(path: str) -> str | None:
    """The newest rerun of the experiment at `path`, or None."""
    folder = f"{Experiment.at(path).path}/{RERUNS}"
    reruns = [f"{folder}/{name}" for name in subfolders(folder)]
    reruns = [r for r in reruns if Experiment.at(r).read(RERUN_FILE) is not None]
    return reruns[-1] if reruns else None


def pareto_front(trials: pd.DataFrame, metrics: list[str], modes: list[str]) -> pd.DataFrame:
    """The trials no other trial beats on every metric at once (each metric by its mode)."""
    signs = [1 if mode == "min" else -1 for mode in modes]
    scores = trials[metrics].to_numpy() * signs  # lower is better in every column now
    dominated = [((scores <= row).all(axis=1) & (scores < row).any(axis=1)).any() for row in scores]
    return trials[[not d for d in dominated]]


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


def shown_columns(spec: SweepSpec, table: pd.DataFrame) -> list[str]:
    """The trial table's columns people look at: outcome, the best value and its epoch, other objectives, time,
    the searched parameters, and a rerun's source trial and seed."""
    metric = spec.metric[0]
    rounds = ["round"] if "round" in table and table["round"].max() > 1 else []  # an extended sweep's
    columns = ["trial_id", *rounds, "status", "epochs", f"best_{metric}", "best_epoch", *spec.metric[1:], "time_total_s"]
    labels = ("rerun_of", "seed") if "config/rerun_of" in table else ()
    columns += [f"config/{k}" for k in (*labels, *spec.search)]
    return [c for c in dict.fromkeys(columns) if c in table]


def format_value(value: object) -> str:
    """A config value or metric as people read it: floats to four significant digits."""
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def mean_std_text(mean: float, std: float, count: float) -> str:
    """`mean ± std (n=count)` of a rerun config's runs; a dash where none finished."""
    if math.isnan(mean):
        return "—"
    return f"{mean:.4g} ± {0 if math.isnan(std) else std:.2g} (n={count:.0f})"


def describe_experiment(path: str, rows: int = 20) -> str:
    """`sweeps status`: the sweep's state, trials by outcome, the best trial and the top of the trial table."""
    results = open_results(path)
    experiment, spec, table = results.experiment, results.spec, results.table
    metric = spec.metric[0]
    lines = [f"{experiment.path}: {spec.model}, {metric} ({spec.mode[0]}), {len(table)} of {spec.num_samples} trials"]
    if table.empty:
        return "\n".join(lines + ["no trial has started yet"])
    lines.append(f"state: {sweep_state(experiment, table, spec.num_samples)}")
    if table["round"].max() > 1:
        per_round = table["round"].value_counts().sort_index()
        lines.append(f"rounds: {len(per_round)} (" + ", ".join(f"{n} trials in round {r}" for r, n in per_round.items())
                     + "): `sweeps extend` added them")
    counts = table["status"].value_counts()
    lines.append("trials: " + ", ".join(f"{n} {status}" for status, n in counts.items()))
    view = table[shown_columns(spec, table)].head(rows)
    view.columns = [c.removeprefix("config/") for c in view.columns]
    lines.append(view.to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    return "\n".join(lines)


def list_experiments(storage: str) -> pd.DataFrame:
    """`sweeps list`: one row per experiment under `storage` (a folder or a URI)."""
    rows = []
    for name in subfolders(storage):
        path = f"{storage.rstrip('/')}/{name}"
        if Experiment.at(path).read(SWEEP_FILE) is None:
            continue
        try:
            results = open_results(path)
            experiment, spec, table = results.experiment, results.spec, results.table
        except (SweepError, ConfigError):  # one damaged experiment hides none of the others
            rows.append({"experiment": name, "state": f"unreadable (`sweeps status {name}` says why)"})
            continue
        best = table[f"best_{spec.metric[0]}"].iloc[0] if f"best_{spec.metric[0]}" in table else math.nan
        rows.append({
            "experiment": name, "model": spec.model, "metric": f"{spec.metric[0]} ({spec.mode[0]})",
            "trials": f"{len(table)}/{spec.num_samples}", "best": best,
            "state": sweep_state(experiment, table, spec.num_samples).split(":")[0] if len(table) else "starting",
        })
    return pd.DataFrame(rows, columns=["experiment", "model", "metric", "trials", "best", "state"])
