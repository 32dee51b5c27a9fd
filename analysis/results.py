"""Experiment directories -> pandas: the one module that reads Ray Tune's result files."""

from __future__ import annotations

import json
import math
import os

import pandas as pd
from pyarrow import fs

from sweeps.experiment import DRIVER_FILE, SWEEP_FILE, Experiment, open_experiment
from sweeps.spec import SweepSpec

FINAL = ("finished", "stopped", "diverged", "errored")  # outcomes a resumed sweep does not run again


def trial_outcome(status: str, result: dict, epochs: int) -> str:
    """What became of a trial: running, pending, finished, stopped (early), diverged, errored or paused."""
    if status == "ERROR":
        return "errored"
    if status == "TERMINATED":
        if result.get("diverged"):
            return "diverged"
        return "finished" if result.get("epoch", 0) >= epochs else "stopped"
    return status.lower()


def load_experiment(path: str) -> pd.DataFrame:
    """One row per trial: trial_id, status, epochs, wall time, the last epoch's metrics, the best value of
    the sweep's metric and its epoch, and `config/<name>` columns. Works while the sweep runs, too."""
    return trial_table(*open_experiment(path))


def trial_table(experiment: Experiment, spec: SweepSpec) -> pd.DataFrame:
    from ray.tune import ExperimentAnalysis

    metric, mode = spec.metric[0], spec.mode[0]
    analysis = ExperimentAnalysis(experiment.path)
    histories = analysis.trial_dataframes
    reported, rows = spec.reported_metrics(), []
    for trial in analysis.trials:
        result = trial.last_result or {}
        row = {
            "trial_id": trial.trial_id,
            "status": trial_outcome(trial.status, result, trial.config.get("epochs", spec.epochs)),
            "epochs": result.get("epoch", 0),
            "time_total_s": result.get("time_total_s", math.nan),
        }
        row.update({k: result[k] for k in reported if k in result})
        history = histories.get(trial.trial_id)
        if history is not None and metric in history and history[metric].notna().any():
            best = history[metric].idxmin() if mode == "min" else history[metric].idxmax()
            row[f"best_{metric}"], row["best_epoch"] = history.loc[best, metric], history.loc[best, "epoch"]
        row.update({f"config/{k}": v for k, v in trial.config.items()})
        rows.append(row)
    table = pd.DataFrame(rows)
    if f"best_{metric}" in table:
        table = table.sort_values(f"best_{metric}", ascending=mode == "min", na_position="last")
    return table.reset_index(drop=True)


def pareto_front(trials: pd.DataFrame, metrics: list[str], modes: list[str]) -> pd.DataFrame:
    """The trials no other trial beats on every metric at once (each metric by its mode)."""
    signs = [1 if mode == "min" else -1 for mode in modes]
    scores = trials[metrics].to_numpy() * signs  # lower is better in every column now
    dominated = [
        any((other <= row).all() and (other < row).any() for other in scores) for row in scores
    ]
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
        return f"running or interrupted (its driver ran on another host: {json.loads(experiment.read(DRIVER_FILE))['host']})"
    return f"interrupted: `sweeps resume {experiment.path}` goes on with it"


def describe_experiment(path: str, rows: int = 20) -> str:
    """`sweeps status`: the sweep's state, trials by outcome, the best trial and the top of the trial table."""
    experiment, spec = open_experiment(path)
    table = trial_table(experiment, spec)
    metric = spec.metric[0]
    lines = [f"{experiment.path}: {spec.model}, {metric} ({spec.mode[0]}), {len(table)} of {spec.num_samples} trials"]
    if table.empty:
        return "\n".join(lines + ["no trial has started yet"])
    lines.append(f"state: {sweep_state(experiment, table, spec.num_samples)}")
    counts = table["status"].value_counts()
    lines.append("trials: " + ", ".join(f"{n} {status}" for status, n in counts.items()))
    shown = ["trial_id", "status", "epochs", f"best_{metric}", "best_epoch", "time_total_s"]
    shown += [f"config/{name}" for name in spec.search if f"config/{name}" in table]
    view = table[[c for c in shown if c in table]].head(rows)
    view.columns = [c.removeprefix("config/") for c in view.columns]
    lines.append(view.to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    return "\n".join(lines)


def list_experiments(storage: str) -> pd.DataFrame:
    """`sweeps list`: one row per experiment under `storage` (a folder or a URI)."""
    filesystem, root = fs.FileSystem.from_uri(storage if "://" in storage else os.path.abspath(storage))
    try:
        entries = filesystem.get_file_info(fs.FileSelector(root))
    except FileNotFoundError:
        return pd.DataFrame()
    rows = []
    for entry in sorted(entries, key=lambda e: e.path):
        name = entry.path.rstrip("/").rsplit("/", 1)[-1]
        path = f"{storage.rstrip('/')}/{name}"
        if entry.type != fs.FileType.Directory or Experiment.at(path).read(SWEEP_FILE) is None:
            continue
        experiment, spec = open_experiment(path)
        table = trial_table(experiment, spec)
        best = table[f"best_{spec.metric[0]}"].iloc[0] if f"best_{spec.metric[0]}" in table else math.nan
        rows.append({
            "experiment": name, "model": spec.model, "metric": f"{spec.metric[0]} ({spec.mode[0]})",
            "trials": f"{len(table)}/{spec.num_samples}", "best": best,
            "state": sweep_state(experiment, table, spec.num_samples).split(":")[0] if len(table) else "starting",
        })
    return pd.DataFrame(rows)
