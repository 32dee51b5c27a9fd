"""Sweep results as pandas tables."""

from analysis.results import describe_experiment, list_experiments, load_experiment

__all__ = ["describe_experiment", "list_experiments", "load_experiment"]
