"""Trial tables -> what people ask of them: learning curves, parameter importance, reruns' mean ± std, Pareto
fronts, and what `sweeps status` and `sweeps list` print (experiments/trials.py reads the tables)."""

from __future__ import annotations

import logging
import math
import random

import pandas as pd

from experiments.errors import SweepError
from experiments.experiment import RERUN_FILE, RERUNS, SWEEP_FILE, Experiment, subfolders
from experiments.spec import SweepSpec
from experiments.trials import Results, open_results, sweep_state
from trainables.config import ConfigError

log = logging.getLogger(__name__)

IMPORTANCE_TRIALS = 1000  # fANOVA of two parameters: 20 s on 1,000 trials, 56 s on 3,000 (2 cores)


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

    from experiments.experiment import load_latest_study

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


def shown_columns(spec: SweepSpec, table: pd.DataFrame) -> list[str]:
    """The trial table's columns people look at: outcome, the best value and its epoch, other objectives, time,
    the searched parameters, and a rerun's source trial and seed."""
    metric = spec.metric[0]
    rounds = ["round"] if "round" in table and table["round"].max() > 1 else []  # an extended sweep's
    columns = ["trial_id", *rounds, "status", "epochs", f"best_{metric}", "best_epoch", *spec.metric[1:], "time_total_s"]
    labels = ("rerun_of", "seed") if "config/rerun_of" in table else ()
    columns += [f"config/{k}" for k in (*labels, *spec.search)]
    return [c for c in dict.fromkeys(columns) if c in table]


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
