"""Rerunning a sweep's best configs with several seeds, as a Ray Tune experiment of its own."""

from __future__ import annotations

import dataclasses
import json
import logging

from ray import tune
from ray.tune.search import BasicVariantGenerator

from experiments.errors import SweepError
from experiments.experiment import ENVIRONMENT_FILE, RERUN_FILE, RERUNS, SWEEP_FILE, Experiment, new_experiment
from experiments.spec import NoScheduler, SweepSpec, dump_spec
from experiments.trials import best_trials, trial_table
from sweeps.launch import describe_environment, run_config, run_tuner, trainable, trial_dirname
from trainables.config import parse_config
from trainables.data import Data
from trainables.registry import FAMILIES

log = logging.getLogger(__name__)


def plan_rerun(experiment: Experiment, spec: SweepSpec, top: int, seeds: int, epochs: int | None,
               overrides: dict) -> tuple[SweepSpec, dict]:
    """The rerun's sweep file (the sweep's, with no search scheduler) and its record: the `top` best trials'
    configs (as they started), `overrides` and `epochs` applied, each with seeds 0..seeds-1. Where the sweep gave
    each trial a time rather than epochs, each config reruns for the epochs its trial trained."""
    metric, mode = spec.metric[0], spec.mode[0]
    best = best_trials(trial_table(experiment, spec), metric, mode, top)
    if best.empty:
        raise SweepError(f"no trial of {experiment.path} reported {metric}: nothing to rerun")
    config_class, runs = FAMILIES[spec.model].config, []
    for rank, (trial_id, value, trained) in enumerate(zip(best["trial_id"], best[f"best_{metric}"], best["epochs"]),
                                                      start=1):
        config = {**experiment.trial_config(trial_id), **overrides}
        if epochs is not None or spec.time_limit_s is not None:
            config["epochs"] = epochs or int(trained)
        for seed in range(seeds):
            # Every field spelled out: the rerun does not depend on defaults that may change, and every run has
            # the same keys, as Tune's points to evaluate need (a conditional parameter takes its default).
            full = dataclasses.asdict(parse_config(config_class, {**config, "seed": seed}))
            runs.append({"rerun_of": trial_id, "sweep_rank": rank, "sweep_value": float(value), "config": full})
    rerun_spec = spec.model_copy(update={
        "num_samples": len(runs), "scheduler": NoScheduler(type="none"), "time_budget_s": None,
        "fixed": {**spec.fixed, **({"epochs": epochs} if epochs is not None else {})},
    })
    record = {"source": experiment.path, "metric": metric, "mode": mode, "top": top, "seeds": seeds,
              "epochs": epochs, "overrides": overrides, "runs": runs}
    return rerun_spec, record


def version_warnings(source: Experiment, now: dict) -> list[str]:
    """How the code, packages and data of this rerun differ from the sweep's."""
    then = source.read_json(ENVIRONMENT_FILE, {})
    if not then:
        return [f"{source.path} has no {ENVIRONMENT_FILE}: cannot tell whether versions changed"]
    warnings = [f"{package} {old} in the sweep, {now['packages'].get(package)} now"
                for package, old in then.get("packages", {}).items() if old != now["packages"].get(package)]
    old_git, new_git = then.get("git") or {}, now.get("git") or {}
    if old_git.get("commit") != new_git.get("commit"):
        warnings.append(f"code at commit {old_git.get('commit')} in the sweep, {new_git.get('commit')} now")
    if new_git.get("dirty"):
        warnings.append("the code has uncommitted changes now")
    if then.get("data", {}).get("fingerprint") != now["data"]["fingerprint"]:
        warnings.append(f"data {then.get('data', {}).get('fingerprint')} in the sweep, {now['data']['fingerprint']} now")
    return warnings


def start_rerun(source: Experiment, spec: SweepSpec, record: dict, data: Data, judge, name: str | None,
                command: list[str]) -> Experiment:
    """Run the planned configs on the connected Ray, keeping each run's best checkpoint by the sweep's metric: the
    sweep's trials are ranked, and their figures drawn, by their best epoch, and so are the reruns."""
    environment = describe_environment(data, command)
    for warning in version_warnings(source, environment):
        log.warning("warning: %s", warning)
    experiment = new_experiment(f"{source.path}/{RERUNS}", name, f"{spec.model}-rerun")
    experiment.write(SWEEP_FILE, dump_spec(spec))
    experiment.write(ENVIRONMENT_FILE, json.dumps(environment, indent=2))
    experiment.write(RERUN_FILE, json.dumps(record, indent=2))
    points = [{**run["config"], "rerun_of": run["rerun_of"]} for run in record["runs"]]
    tuner = tune.Tuner(
        trainable(spec, data, judge),
        param_space=dict(points[0]),  # every key, which each point then sets
        tune_config=tune.TuneConfig(
            metric=spec.metric[0], mode=spec.mode[0], num_samples=len(points), reuse_actors=True,
            search_alg=BasicVariantGenerator(points_to_evaluate=points, max_concurrent=spec.max_concurrent or 0),
            trial_dirname_creator=trial_dirname,
        ),
        run_config=run_config(experiment, spec, None),  # reruns train epochs, not a time
    )
    run_tuner(experiment, tuner)
    return experiment
