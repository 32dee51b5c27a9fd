"""Sweeps that grow: more rounds of trials in one experiment, and the earlier sweep a new one is warm-started from
(sweeps/search.py seeds its study)."""

from __future__ import annotations

import json
import logging
import shlex

from experiments.errors import SweepError
from experiments.experiment import ENVIRONMENT_FILE, SWEEP_FILE, Experiment, open_experiment, subfolders
from experiments.spec import SweepSpec, check_start_with, dump_spec, read_spec, resolve_raw, validate_spec

log = logging.getLogger(__name__)

ROUNDS = "rounds"  # EXPERIMENT/rounds/K/: round K's resolved sweep file and environment, from the first extension on
# What a round may change: how many trials, where and how to search, and how to run them. Anything else (model,
# metric, data, scheduler, fixed values) would make the new trials' values incomparable with the old ones'.
MAY_CHANGE = {"num_samples", "max_concurrent", "resources", "searcher", "search", "start_with", "seed",
              "time_budget_s", "max_failures", "presets", "description", "warm_start", "loggers"}


def rounds_of(experiment: Experiment) -> int:
    """How many rounds of trials the experiment ran (1 until it is extended)."""
    return max((int(n) for n in subfolders(f"{experiment.path}/{ROUNDS}") if n.isdigit()), default=1)


def round_spec(experiment: Experiment, round: int) -> SweepSpec:
    """Round `round`'s resolved sweep file, its num_samples the trials that round added."""
    if round == 1 and rounds_of(experiment) == 1:
        return open_experiment(experiment.path)[1]
    source = f"{experiment.path}/{ROUNDS}/{round}/{SWEEP_FILE}"
    text = experiment.read(f"{ROUNDS}/{round}/{SWEEP_FILE}")
    if text is None:
        raise SweepError(f"{source} is missing: copy the experiment again from where it ran")
    return read_spec(text, source)


def plan_extension(experiment: Experiment, spec: SweepSpec, num_samples: int | None = None,
                   preset: str | None = None, overrides: list[str] = ()) -> SweepSpec:
    """The next round's sweep file: the experiment's, with a preset and `--set` overrides applied; its num_samples
    the trials it adds (default: as many as the last round's). Refused, with the fix, where the old trials' values
    would not compare with the new ones'."""
    if spec.scheduler.type == "pbt":
        raise SweepError("population-based training's population cannot grow: start a new sweep, or retrain its best "
                         f"configs with `sweeps rerun {shlex.quote(experiment.path)}`")
    raw = resolve_raw(dump_spec(spec, presets=True), f"{experiment.path}/{SWEEP_FILE}", preset, overrides)
    unchanged = raw.get("start_with") == spec.start_with
    if unchanged:  # the first round's first configs: kept in the file where they fit the new space
        raw["start_with"] = []
    new = validate_spec(raw, to_run=True)
    if unchanged:
        new.start_with = [p for p in spec.start_with
                          if not check_start_with(new.model_copy(update={"start_with": [p]}))]
    if num_samples is None:
        changed = new.num_samples != spec.num_samples  # set by the preset or --set: the round's own count
        num_samples = new.num_samples if changed else round_spec(experiment, rounds_of(experiment)).num_samples
    new.num_samples, new.warm_start = num_samples, None
    problems = incomparable(spec, new)
    if problems:
        raise SweepError("these changes would make the new trials incomparable with the old ones:\n"
                         + "\n".join(f"  {p}" for p in problems)
                         + f"\nkeep them as they were, or start a new sweep that starts from this one's trials: "
                         f"`sweeps run FILE --warm-start {shlex.quote(experiment.path)}`")
    return new


def incomparable(old: SweepSpec, new: SweepSpec) -> list[str]:
    """What differs between two rounds' sweep files that a round may not change."""
    problems = []
    for key in SweepSpec.model_fields:
        if key in MAY_CHANGE or key == "fixed" or getattr(old, key) == getattr(new, key):
            continue
        problems.append(f"`{key}`: {shown(getattr(old, key))} -> {shown(getattr(new, key))}")
    missing = object()
    for name in sorted(old.fixed.keys() | new.fixed.keys()):
        before, after = old.fixed.get(name, missing), new.fixed.get(name, missing)
        moved = (after is missing and name in new.search) or (before is missing and name in old.search)
        if before != after and not moved:  # a searched parameter may become fixed, and a fixed one searched
            problems.append(f"`fixed.{name}`: {shown(before, missing)} -> {shown(after, missing)}")
    return problems


def shown(value, missing=None) -> str:
    if value is missing:
        return "(not set)"
    dumped = value.model_dump(mode="json", exclude_none=True) if hasattr(value, "model_dump") else value
    return json.dumps(dumped)


def record_round(experiment: Experiment, round: int, spec: SweepSpec, environment: dict, total: int) -> None:
    """Keep round `round`'s sweep file and environment in rounds/K/; the experiment's own sweep.yaml becomes the
    new round's, its num_samples counting every round's trials (what `status` compares with)."""
    if round == 2:  # the first extension: the first round's files move into rounds/1/ too
        for name in (SWEEP_FILE, ENVIRONMENT_FILE):
            experiment.write(f"{ROUNDS}/1/{name}", experiment.read(name) or "")
    experiment.write(f"{ROUNDS}/{round}/{SWEEP_FILE}", dump_spec(spec, presets=True))
    experiment.write(f"{ROUNDS}/{round}/{ENVIRONMENT_FILE}", json.dumps(environment, indent=2))
    experiment.write(SWEEP_FILE, dump_spec(spec.model_copy(update={"num_samples": total}), presets=True))
    experiment.write(ENVIRONMENT_FILE, json.dumps(environment, indent=2))


def warm_start_source(spec: SweepSpec) -> tuple[Experiment, SweepSpec]:
    """The earlier experiment a new sweep starts from, checked: the same model and metric, and a study to read."""
    try:
        source, earlier = open_experiment(spec.warm_start.experiment)
    except SweepError as e:
        raise SweepError(f"`warm_start` (--warm-start): {e}") from None
    problems = [f"`{key}`: {shown(getattr(earlier, key))} there, {shown(getattr(spec, key))} here"
                for key in ("model", "metric", "mode") if getattr(earlier, key) != getattr(spec, key)]
    if earlier.scheduler.type == "pbt":
        problems.append("it ran population-based training, which keeps no study")
    if problems:
        raise SweepError(f"`warm_start` {source.path}: its trials do not compare with this sweep's:\n"
                         + "\n".join(f"  {p}" for p in problems) + "\nwarm-start from a sweep of the same model and "
                         "metric, or leave warm_start out")
    return source, earlier
