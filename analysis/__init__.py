"""Sweep results as pandas tables, best trials and reruns, the report's figures and the HTML report."""

from analysis.results import (
    describe_experiment,
    learning_curves,
    list_experiments,
    parameter_importance,
    pareto_front,
    rerun_summary,
    sweep_cost,
)
from experiments.trials import Results, best_trials, load_experiment, open_results

__all__ = [
    "Results", "best_trials", "describe_experiment", "learning_curves", "list_experiments", "load_experiment",
    "open_results", "parameter_importance", "pareto_front", "rerun_summary", "sweep_cost",
]
