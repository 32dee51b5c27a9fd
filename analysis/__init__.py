"""Sweep results as pandas tables, best trials and reruns, the report's figures and the HTML report."""

from analysis.results import (
    best_trials, describe_experiment, learning_curves, list_experiments, load_experiment, parameter_importance,
    pareto_front, rerun_summary, sweep_cost,
)

__all__ = [
    "best_trials", "describe_experiment", "learning_curves", "list_experiments", "load_experiment",
    "parameter_importance", "pareto_front", "rerun_summary", "sweep_cost",
]
