"""What a finished command prints: trials by outcome, the best trial and what to run next; a rerun's mean ± std."""

from __future__ import annotations

import io
import math
import shlex
import sys

import pandas as pd

from analysis.results import (
    mean_std_text,
    parameter_importance,
    pareto_front,
    rank_correlation,
    rerun_summary,
    shown_columns,
    sweep_cost,
)
from experiments.errors import SweepError
from experiments.experiment import RERUN_FILE
from experiments.trials import best_trials, format_value, is_complete, open_results, trial_table


def report_results(experiment, spec) -> int:
    """Trials by outcome, errored trials, the best trial, and what to run next."""
    path, metric = experiment.path, spec.metric[0]
    table = trial_table(experiment, spec)
    for trial_id in table.loc[table["status"] == "errored", "trial_id"]:
        error = experiment.read(f"{trial_id}/error.txt") or "no error.txt"
        print(f"errored: trial {trial_id}: {error.strip().splitlines()[-1]} (see {path}/{trial_id}/error.txt)",
              file=sys.stderr)
    counts = table["status"].value_counts() if len(table) else {}
    print(f"\n{len(table)} of {spec.num_samples} trials: " + ", ".join(f"{n} {k}" for k, n in counts.items()))
    scored = table.dropna(subset=[f"best_{metric}"]) if f"best_{metric}" in table else table.iloc[:0]
    quoted = shlex.quote(path)
    resume_hint = (f"\nstopped before every trial finished (Ctrl-C, or the time budget): `sweeps resume {quoted}` "
                   "goes on with it")
    if scored.empty:
        complete = is_complete(table, spec.num_samples)
        print(f"no trial reported {metric}: see the errors above, and {experiment.log_file}" if complete
              else resume_hint, file=sys.stderr)
        return 1 if complete else 130
    best = scored.iloc[0]
    config = experiment.trial_config(best["trial_id"])
    if spec.time_limit_s is not None:  # the trial trained for a time, not its epochs: rerun the epochs it trained
        config["epochs"] = int(best["epochs"])
    print(f"best trial {best['trial_id']} ({best['status']}): {metric} {best[f'best_{metric}']:.4g} at epoch "
          f"{int(best['best_epoch'])}")
    print("  " + "  ".join(f"{k}={format_value(config[k])}" for k in spec.search if k in config))
    shown = [k for k in spec.reported_metrics()  # a metric its last epoch did not report (GLO's held-out) is left out
             if k in best and k not in (metric, "time_this_iter_s") and not pd.isna(best[k])]
    print("  last epoch: " + "  ".join(f"{k} {format_value(best[k])}" for k in shown))
    if len(spec.metric) > 1:
        front = pareto_front(table.dropna(subset=spec.metric), spec.metric, spec.mode)
        columns = ["trial_id", *spec.metric, *(f"config/{k}" for k in spec.search if f"config/{k}" in front)]
        print(f"Pareto front of {' and '.join(spec.metric)} ({len(front)} trials, last epochs):")
        print(front[columns].to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    rerun = " ".join(f"--set {shlex.quote(f'{k}={v}')}" for k, v in config.items())
    rerun += f" --dataset {spec.data.dataset}" if spec.data.dataset != "mnist" else ""
    rerun += f" --limit {spec.data.limit}" if spec.data.limit else ""
    load = shlex.quote(f"import analysis; print(analysis.load_experiment({path!r}))")
    print(f"\nresults: {path}\n  sweeps status {quoted}\n  python -c {load}\n"
          f"rerun the best config:\n  sweeps train {spec.model} {rerun}")
    if not is_complete(table, spec.num_samples):
        print(resume_hint, file=sys.stderr)
        return 130
    return 0


def print_rerun(summary) -> None:
    for row in summary.itertuples():
        print(f"  sweep #{row.sweep_rank} trial {row.rerun_of}: sweep {row.sweep_value:.4g}, rerun "
              + mean_std_text(row.mean, row.std, row.count))
    rho = rank_correlation(summary)
    print("  rank correlation of sweep and rerun (Spearman): " + ("needs 2+ configs" if math.isnan(rho) else
                                                                   f"{rho:.2f}"))


def summarise_rerun(path: str, metric: str) -> pd.DataFrame:
    """Print a finished rerun's mean ± std per config, and how well the sweep's ranking held; returns them."""
    summary = rerun_summary(path)
    print(f"\nrerun {path}: {metric} at each run's best epoch (as the sweep's), mean ± std over seeds:")
    print_rerun(summary)
    return summary


def analyze(path: str, top: int = 10) -> int:
    """`sweeps analyze`: print the best trials, the cost, and parameter importance (or a rerun's mean ± std); write
    the trial table as trials.csv and trials.parquet."""
    results = open_results(path)
    experiment, spec, table = results.experiment, results.spec, results.table
    metric, mode = spec.metric[0], spec.mode[0]
    if table.empty:
        print(f"{experiment.path}: no trial has started yet")
        return 1
    experiment.write("trials.csv", table.to_csv(index=False))
    parquet = io.BytesIO()
    table.to_parquet(parquet, index=False)
    experiment.write("trials.parquet", parquet.getvalue())
    counts = table["status"].value_counts()
    print(f"{experiment.path}: {spec.model}, {len(table)} trials (" + ", ".join(f"{n} {k}" for k, n in counts.items())
          + f"), {metric} ({mode})")
    view = best_trials(table, metric, mode, top)[shown_columns(spec, table)]
    print(f"\nbest {len(view)} trials by {metric}:")
    print(view.rename(columns=lambda c: c.removeprefix("config/")).to_string(index=False, float_format="{:.4g}".format))
    if len(spec.metric) > 1:
        front = pareto_front(table.dropna(subset=spec.metric), spec.metric, spec.mode)
        print(f"\nPareto front of {' and '.join(spec.metric)}: trials " + ", ".join(front["trial_id"]))
    cost = sweep_cost(table)
    print(f"\ncost: {cost['cpu_s']:.0f} CPU-seconds, {cost['gpu_s']:.0f} GPU-seconds over {cost['trials']} trials; "
          f"{cost['stopped_share']:.0%} on trials stopped early")
    if experiment.read(RERUN_FILE) is not None:
        summary = rerun_summary(results)
        print(f"\nrerun: {metric} at each run's best epoch (as the sweep's), mean ± std over seeds, per config:")
        print_rerun(summary)
    else:
        try:
            importance = parameter_importance(results)
        except SweepError as e:  # the table above stands without it
            print(f"\n{e}", file=sys.stderr)
            importance = ()
        if len(importance):
            print(f"\nparameter importance for {metric} (fANOVA{importance.attrs['note']}):")
            print(importance.to_string(float_format="{:.3f}".format))
    print(f"\nwrote {experiment.path}/trials.csv and trials.parquet")
    return 0
