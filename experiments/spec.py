"""Sweep files: YAML -> a validated `SweepSpec`, with every problem reported at once, each with its fix."""

from __future__ import annotations

import copy
import difflib
import importlib.util
import re
from pathlib import Path
from typing import Annotated, Any, Literal, Union

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from trainables.config import ConfigError, parse_config
from trainables.data import DATASETS, MIN_IMAGES
from trainables.family import TUNE_METRICS, Family, Metric
from trainables.registry import FAMILIES

Mode = Literal["min", "max"]
# Experiment trackers Ray has a logger callback for (each the name of the extra installing it): the module it imports.
LOGGERS = {"mlflow": "mlflow", "wandb": "wandb"}


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Param(Strict):
    when: dict[str, Any] | None = Field(
        None, description="search this only when earlier categorical parameters take these values"
    )


class IntParam(Param):
    type: Literal["int"]
    low: int
    high: int
    log: bool = False
    step: int = Field(1, ge=1)


class FloatParam(Param):
    type: Literal["float"]
    low: float = Field(allow_inf_nan=False)
    high: float = Field(allow_inf_nan=False)
    log: bool = False
    step: float | None = Field(None, gt=0)


class CategoricalParam(Param):
    type: Literal["categorical"]
    choices: list[Any] = Field(min_length=1)


SearchParam = Annotated[Union[IntParam, FloatParam, CategoricalParam], Field(discriminator="type")]


class Asha(Strict):
    """Asynchronous successive halving: stops the worse trials at each rung of epochs, or of seconds."""

    type: Literal["asha"]
    time_attr: Literal["epoch", "time_total_s"] = Field(
        "epoch", description="what rungs count: epochs, or seconds of training (every trial gets the same time, "
        "so a cheaper network trains for more steps)"
    )
    max_t: int | float | None = Field(None, gt=0, description="the last rung, in time_attr's unit (default: epochs)")
    grace_period: int | float = Field(1, gt=0, description="what every trial runs before it may be stopped")
    reduction_factor: float = Field(3, gt=1, description="1/reduction_factor of the trials go on at each rung")


class NoScheduler(Strict):
    type: Literal["none"]


class PBT(Strict):
    """Population-based training: every `perturbation_interval` epochs, the worse trials copy a better
    trial's checkpoint and perturb its searched parameters."""

    type: Literal["pbt"]
    perturbation_interval: int = Field(2, ge=1, description="epochs between exploits")
    quantile_fraction: float = Field(0.25, gt=0, le=0.5)
    resample_probability: float = Field(0.25, ge=0, le=1)


Scheduler = Annotated[Union[Asha, NoScheduler, PBT], Field(discriminator="type")]


class Resources(Strict):
    cpu: float = Field(1, gt=0, description="CPUs per trial (its torch threads); fractions allowed")
    gpu: float = Field(0, ge=0, description="GPUs per trial; fractions share one GPU")


class DataSpec(Strict):
    dataset: Literal[tuple(DATASETS)] = "mnist"  # type: ignore[valid-type]
    limit: int | None = Field(None, ge=MIN_IMAGES, description="use only the first N images of each partition")


class WarmStart(Strict):
    """An earlier sweep whose trials seed this one's study, its best configs tried first."""

    experiment: str = Field(description="the earlier sweep's experiment directory (a folder or a URI)")
    top: int = Field(3, ge=0, description="its best configs enqueued as this sweep's first trials")


class SweepSpec(Strict):
    """A sweep: which model, what to optimise, where to search, and with which resources."""

    model: Literal[tuple(FAMILIES)]  # type: ignore[valid-type]
    metric: list[str] = Field(min_length=1, description="a key the model reports; two or more for multi-objective")
    mode: list[Mode] = Field([], description="min or max per metric (default: the metric's better direction)")
    num_samples: int = Field(ge=1, le=1_000_000, description="trials to run")
    max_concurrent: int | None = Field(None, ge=1, description="trials at once (default: as many as fit)")
    resources: Resources = Resources()
    scheduler: Scheduler = Asha(type="asha")
    searcher: Literal["tpe", "random"] = Field("tpe", description="Optuna's sampler: tpe, or random as a baseline")
    search: dict[str, SearchParam] = Field(min_length=1)
    start_with: list[dict[str, Any]] = Field(
        [], description="configs of the searched parameters tried first, e.g. the report's own"
    )
    fixed: dict[str, Any] = {}
    warm_start: WarmStart | None = Field(None, description="seed the search with an earlier sweep's trials")
    data: DataSpec = DataSpec()
    seed: int = Field(0, description="seeds the search; trials take `fixed.seed` (default 0)")
    time_budget_s: float | None = Field(None, gt=0, allow_inf_nan=False, description="stop starting trials after this many seconds")
    max_failures: int = Field(2, ge=0, description="retries of a failed trial, from its last checkpoint")
    loggers: list[str] = Field([], description="experiment trackers that get a run per trial: mlflow, wandb")
    presets: dict[str, dict[str, Any]] = {}
    description: str = ""

    @field_validator("metric", "mode", "loggers", mode="before")
    @classmethod
    def listed(cls, value: Any) -> Any:
        return value if isinstance(value, list) else [value]

    @field_validator("warm_start", mode="before")
    @classmethod
    def experiment_only(cls, value: Any) -> Any:
        return {"experiment": value} if isinstance(value, str) else value

    @property
    def family(self) -> Family:
        return FAMILIES[self.model]

    def fixed_config(self):
        """The model's config with the fixed values, searched fields at their defaults."""
        return parse_config(self.family.config, self.fixed)

    def reported_metrics(self) -> dict[str, str]:
        """Every metric a trial of this sweep reports, and its better direction."""
        return {name: m.better for name, m in reported_metrics(self.family, self.fixed_config()).items()}

    @property
    def epochs(self) -> int:
        return self.fixed_config().epochs

    @property
    def time_limit_s(self) -> float | None:
        """Seconds of training after which the scheduler ends every trial, where its rungs count seconds."""
        scheduler = self.scheduler
        return scheduler.max_t if scheduler.type == "asha" and scheduler.time_attr == "time_total_s" else None

    def stopped_early(self, result: dict) -> bool:
        """Whether the scheduler ended a trial whose last result is `result` before its epochs or its time were up
        (population-based training ends none early)."""
        if self.scheduler.type != "asha":
            return False
        epochs = result.get("config/epochs", result.get("config", {}).get("epochs", self.epochs))
        return not reached_end(result, epochs, self.time_limit_s)


def reached_end(result: dict, epochs: int, time_limit_s: float | None) -> bool:
    """A trial's last result is its last epoch, or its time per trial was up."""
    timed_out = time_limit_s is not None and result.get("time_total_s", 0) >= time_limit_s
    return result.get("epoch", 0) >= epochs or timed_out


class FloatLoader(yaml.SafeLoader):
    """YAML 1.1 reads `1e-5` as a string; sweep files are full of such numbers."""


FloatLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?$|^[-+]?\.(?:inf|Inf|INF)$|^\.(?:nan|NaN|NAN)$"),
    list("-+0123456789."),
)


def construct_mapping(loader: yaml.SafeLoader, node: yaml.MappingNode) -> dict:
    keys = [loader.construct_object(key) for key, _ in node.value]
    twice = sorted({str(k) for k in keys if keys.count(k) > 1})
    if twice:
        raise yaml.constructor.ConstructorError(
            None, None, f"key {', '.join(twice)} appears twice in one mapping: keep one", node.start_mark
        )
    return loader.construct_mapping(node)


FloatLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, construct_mapping)


def parse_yaml(text: str, source: str) -> Any:
    try:
        return yaml.load(text, Loader=FloatLoader)  # noqa: S506 (a SafeLoader)
    except yaml.YAMLError as error:
        raise ConfigError([f"{source} is not valid YAML: {error}"]) from None


def load_spec(path: str | Path, preset: str | None = None, overrides: list[str] = ()) -> SweepSpec:
    """Read a sweep file, apply a preset then `--set path=value` overrides, and validate the result."""
    path = Path(path)
    if not path.is_file():
        shipped = ", ".join(str(p) for p in sorted((Path(__file__).parent / "specs").glob("*.yaml")))
        raise ConfigError([f"no sweep file at {path}: give the path of a YAML file, e.g. one of {shipped}"])
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ConfigError([f"{path} is not a text file (not UTF-8): give a YAML sweep file, such as "
                           "sweeps/specs/ae.yaml"]) from None
    return read_spec(text, str(path), preset, overrides, to_run=True)


def read_spec(text: str, source: str, preset: str | None = None, overrides: list[str] = (),
              to_run: bool = False) -> SweepSpec:
    return validate_spec(resolve_raw(text, source, preset, overrides), to_run)


def resolve_raw(text: str, source: str, preset: str | None = None, overrides: list[str] = ()) -> dict:
    """A sweep file's mapping with a preset, then `--set path=value` overrides, applied; not yet validated."""
    raw = parse_yaml(text, source)
    if not isinstance(raw, dict):
        raise ConfigError([f"{source} must be a YAML mapping (model: ..., metric: ..., search: ...), got {raw!r}"])
    if preset is not None:
        presets = raw.get("presets") if isinstance(raw.get("presets"), dict) else {}
        if not isinstance(presets.get(preset), dict):
            known = ", ".join(presets) or "none"
            raise ConfigError([f"`--preset {preset}`: {source} has no such preset (its presets: {known}; each a "
                               "mapping of dotted paths to values)"])
        raw = apply_overrides(raw, presets[preset].items(), f"presets.{preset}")
    return apply_overrides(raw, [split_override(pair) for pair in overrides], "--set")


def split_override(pair: str) -> tuple[str, Any]:
    if "=" not in pair:
        raise ConfigError([f"--set `{pair}`: expected PATH=VALUE, e.g. --set fixed.epochs=3"])
    path, value = pair.split("=", 1)
    return path, parse_yaml(value, f"--set {pair}")


def apply_overrides(raw: dict, pairs, source: str) -> dict:
    """A copy of `raw` with each dotted path set to its value, e.g. ("fixed.epochs", 3)."""
    raw, problems = copy.deepcopy(raw), []
    for path, value in pairs:
        *parents, leaf = str(path).split(".")
        node = raw
        for depth, key in enumerate(parents):
            node = node.setdefault(key, {})
            if not isinstance(node, dict):
                problems.append(f"{source} `{path}`: `{'.'.join(parents[:depth + 1])}` is not a section")
                break
        else:
            node[leaf] = value
    if problems:
        raise ConfigError(problems)
    return raw


def validate_spec(raw: dict, to_run: bool = False) -> SweepSpec:
    """The spec, or one `ConfigError` with every problem: structure first, then what the model accepts; `to_run`
    also checks what running it needs here (its loggers' packages), which reading a finished sweep does not."""
    problems: list[str] = []
    spec = None
    try:
        spec = SweepSpec.model_validate(raw)
    except ValidationError as error:
        problems += [describe(e) for e in error.errors()]
    if isinstance(raw.get("model"), str) and raw["model"] in FAMILIES:
        problems += check_against_model(raw)
    problems += check_loggers(SweepSpec.listed(raw.get("loggers", [])), to_run)
    if spec is not None and not problems:
        problems += check_scheduler(spec) + check_start_with(spec)
        known = spec.reported_metrics()
        spec.mode = spec.mode or [known[m] for m in spec.metric]
    if problems:
        raise ConfigError(problems)
    return spec


TAGS = {"search": ["int", "float", "categorical"], "scheduler": ["asha", "none", "pbt"]}


def describe(error: dict) -> str:
    """One pydantic error as `field` = value: what is wrong (and the fix)."""
    # Drop the union member pydantic tried (search.lr.float.low -> search.lr.low).
    loc = [str(part) for part in error["loc"] if part not in sum(TAGS.values(), [])]
    field = ".".join(loc)
    if error["type"] == "extra_forbidden":
        if loc[0] == "scheduler":
            kind = error["loc"][1]
            return (f"`{field}` is not a setting of the {kind} scheduler: remove it, or replace the whole section,"
                    f" e.g. --set 'scheduler={{type: {kind}}}'")
        return unknown_key(field)
    if error["type"] == "missing":
        return f"`{field}` is missing: add it (see sweeps/specs/*.yaml for examples)"
    message = error["msg"][0].lower() + error["msg"][1:]
    if error["type"] == "union_tag_invalid":
        return f"`{field}.type` = {error['input'].get('type')!r}: use one of {', '.join(TAGS[loc[0]])}"
    if error["type"] == "union_tag_not_found":
        return f"`{field}` has no `type`: add one of {', '.join(TAGS[loc[0]])}"
    return f"`{field}` = {error['input']!r}: {message}"


def unknown_key(field: str) -> str:
    *parents, key = field.split(".")
    section = {
        (): SweepSpec, ("resources",): Resources, ("data",): DataSpec,
    }.get(tuple(parents))
    names = list(section.model_fields) if section else []
    close = difflib.get_close_matches(key, names, n=1)
    fix = f"did you mean `{close[0]}`?" if close else "remove it"
    if names and not close:
        fix += f" (known: {', '.join(names)})"
    return f"`{field}` is not a setting here: {fix}"


def check_against_model(raw: dict) -> list[str]:
    """Search parameters, fixed values and metrics against what the model's config and loop accept."""
    model = raw["model"]
    family = FAMILIES[model]
    config = family.config
    names = list(config.__pydantic_fields__)
    problems = []
    fixed = raw.get("fixed") or {}
    search = raw.get("search") or {}
    if isinstance(fixed, dict):
        problems += ["`fixed." + p[1:] for p in config_problems(config, fixed)]
    for name, param in search.items() if isinstance(search, dict) else ():
        if name not in names:
            close = difflib.get_close_matches(name, names, n=1)
            fix = f"did you mean `{close[0]}`?" if close else f"{model} takes: {', '.join(names)}"
            problems.append(f"`search.{name}`: {model} has no parameter `{name}`: {fix}")
            continue
        if isinstance(fixed, dict) and name in fixed:
            problems.append(f"`search.{name}` is also in `fixed`: keep it in one of them")
        if isinstance(param, dict):
            problems += check_param(config, model, name, param, search, fixed if isinstance(fixed, dict) else {})
    cfg = None
    if isinstance(fixed, dict):
        try:
            cfg = parse_config(config, {k: v for k, v in fixed.items() if k in names})
        except ConfigError:
            pass
    known = reported_metrics(family, cfg)
    for metric in SweepSpec.listed(raw.get("metric")):
        reported = known[metric] if isinstance(metric, str) and metric in known else Metric("min")
        if reported.every > 1:
            problems.append(f"`metric` = {metric!r}: {model} reports it every {reported.every_field} = "
                            f"{reported.every} epochs, and the search and early stopping need it after each: set "
                            f"`fixed.{reported.every_field}: 1`")
    return problems + check_metrics(raw, {name: m.better for name, m in known.items()})


def reported_metrics(family: Family, cfg=None) -> dict[str, Metric]:
    """Everything a trial of `family` with `cfg` (default: the family's defaults) reports, Tune's times included."""
    return {**family.metrics(cfg if cfg is not None else family.config()), **TUNE_METRICS}


def check_metrics(raw: dict, known: dict[str, str]) -> list[str]:
    """Each metric is one the model reports, and each mode its better direction."""
    model, problems = raw["model"], []
    metrics, modes = (SweepSpec.listed(raw.get(key)) for key in ("metric", "mode"))
    for metric in metrics:
        if isinstance(metric, str) and metric not in known:
            close = difflib.get_close_matches(metric, known, n=1)
            hint = f"did you mean `{close[0]}`? " if close else ""
            problems.append(f"`metric` = {metric!r}: {model} never reports it: {hint}choose from {', '.join(known)}")
    if "mode" not in raw:
        return problems
    if len(metrics) != len(modes):
        problems.append(f"`mode` has {len(modes)} entries for {len(metrics)} metrics: give one per metric")
    for metric, mode in zip(metrics, modes):
        better = known.get(metric) if isinstance(metric, str) else None
        if better and mode in ("min", "max") and mode != better:
            problems.append(f"`mode` = {mode!r}: {metric} is better when {'lower' if better == 'min' else 'higher'}:"
                            f" use mode: {better}, or leave mode out")
    return problems


def check_loggers(names: list, to_run: bool) -> list[str]:
    """Each logger is one Ray has a callback for, named once, and (to run) with its package installed."""
    problems = []
    for i, name in enumerate(names):
        if not isinstance(name, str):  # the structure check reports it
            continue
        if name not in LOGGERS:
            close = difflib.get_close_matches(name, LOGGERS, n=1)
            hint = f"did you mean `{close[0]}`? " if close else ""
            problems.append(f"`loggers[{i}]` = {name!r}: not a logger: {hint}choose from {', '.join(LOGGERS)}")
        elif names.index(name) < i:
            problems.append(f"`loggers[{i}]` = {name!r}: named twice: keep one")
        elif to_run and not installed(LOGGERS[name]):
            problems.append(f"`loggers[{i}]` = {name!r}: {LOGGERS[name]} is not installed: "
                            f"pip install 'latent-sweeps[{name}]'")
    return problems


def installed(module: str) -> bool:
    """Whether `module` can be imported, without importing it (validation stays fast)."""
    return importlib.util.find_spec(module) is not None


def config_problems(config: type, values: dict) -> list[str]:
    try:
        parse_config(config, values)
    except ConfigError as error:
        return error.problems
    return []


def check_param(config: type, model: str, name: str, param: dict, search: dict, fixed: dict) -> list[str]:
    field = f"search.{name}"
    problems = []
    low, high = param.get("low"), param.get("high")
    numbers = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (low, high))
    if param.get("type") in ("int", "float") and numbers:
        if low > high:
            problems.append(f"`{field}`: low {low} > high {high}: swap them")
        if param.get("log") and low <= 0:
            problems.append(f"`{field}.low` = {low}: a log scale needs low > 0, e.g. low: 1.0e-5")
        if param.get("log") and param.get("step") not in (None, 1):
            problems.append(f"`{field}`: step and log cannot be combined: drop one")
        # A fractional bound of an int parameter is already reported by the structure check.
        candidates = {"low": low, "high": high} if param["type"] == "float" or type(low) is type(high) is int else {}
    elif param.get("type") == "categorical" and isinstance(param.get("choices"), list):
        candidates = {f"choices[{i}]": choice for i, choice in enumerate(param["choices"])}
        for key, choice in candidates.items():
            if not (choice is None or isinstance(choice, (bool, int, float, str))):
                problems.append(f"`{field}.{key}` = {choice!r}: choices must be numbers, strings or booleans")
    else:
        candidates = {}
    for key, value in candidates.items():
        problems += [
            f"`{field}.{key}` = {value!r}: {model} rejects it: {p.split(': ', 1)[-1]}"
            for p in config_problems(config, {**fixed, name: value}) if p.startswith(f"`{name}`")
        ]
    when = param.get("when")
    earlier = list(search)[: list(search).index(name)]
    for other, values in (when or {}).items() if isinstance(when, dict) else ():
        choices = (search.get(other) or {}).get("choices") if isinstance(search.get(other), dict) else None
        if other not in earlier or choices is None:
            problems.append(f"`{field}.when.{other}`: conditions refer to a categorical parameter searched above "
                            f"{name}: move `{other}` before it, or fix the name")
            continue
        for value in values if isinstance(values, list) else [values]:
            if value not in choices:
                problems.append(f"`{field}.when.{other}` = {value!r}: not one of its choices {choices}")
    return problems


def check_scheduler(spec: SweepSpec) -> list[str]:
    problems = []
    scheduler, epochs = spec.scheduler, spec.epochs
    if len(spec.metric) > 1 and scheduler.type != "none":
        problems.append(f"`scheduler.type` = {scheduler.type!r}: early stopping needs one metric, and this sweep has "
                        f"{len(spec.metric)}: use `scheduler: {{type: none}}` for a multi-objective sweep")
    if spec.metric[0] in TUNE_METRICS and len(spec.metric) == 1:
        problems.append("`metric`: a time alone is not worth optimising: pair it with a quality metric")
    if scheduler.type == "asha" and scheduler.time_attr == "time_total_s" and scheduler.max_t is None:
        problems.append("`scheduler.max_t`: rungs in seconds need the last one: set max_t, e.g. 300")
    elif scheduler.type == "asha":
        max_t = scheduler.max_t or epochs
        if scheduler.time_attr == "epoch" and max_t > epochs and "epochs" not in spec.search:
            problems.append(f"`scheduler.max_t` = {max_t}: trials stop at epochs = {epochs}, so the top rung is never"
                            f" reached: set max_t <= {epochs} or leave it out")
        if scheduler.grace_period > max_t:
            problems.append(f"`scheduler.grace_period` = {scheduler.grace_period}: longer than max_t = {max_t}:"
                            " lower it")
    if scheduler.type == "pbt":
        mutable = spec.family.mutable
        for name, param in spec.search.items():
            if name not in mutable:
                problems.append(f"`search.{name}`: population-based training changes parameters mid-training, and "
                                f"{name} cannot change then: search only {', '.join(mutable)}, or use asha")
            if param.when:
                problems.append(f"`search.{name}.when`: population-based training has no conditional parameters")
        if scheduler.perturbation_interval >= epochs:
            problems.append(f"`scheduler.perturbation_interval` = {scheduler.perturbation_interval}: no exploit"
                            f" happens within epochs = {epochs}: lower it")
        if spec.num_samples < 2:
            problems.append("`num_samples`: population-based training needs a population: at least 2")
        if spec.searcher != "tpe":
            problems.append(f"`searcher` = {spec.searcher!r}: population-based training draws its first "
                            "population at random itself: leave `searcher` out")
        if spec.warm_start is not None:
            problems.append("`warm_start`: population-based training keeps no study to seed: leave it out, or use asha")
    return problems


def check_start_with(spec: SweepSpec) -> list[str]:
    """Each config to try first sets every searched parameter (whose `when` holds), inside its range."""
    problems = []
    for i, point in enumerate(spec.start_with):
        field = f"start_with[{i}]"
        problems += [f"`{field}.{name}`: not a searched parameter: remove it, or search it"
                     for name in point if name not in spec.search]
        for name, param in spec.search.items():
            if not holds(param.when, point):
                continue
            if name not in point:
                problems.append(f"`{field}` has no `{name}`: give every searched parameter a value")
            elif not in_range(param, point[name]):
                allowed = param.choices if param.type == "categorical" else f"[{param.low}, {param.high}]"
                problems.append(f"`{field}.{name}` = {point[name]!r}: outside the searched {allowed}: widen "
                                "the search or change the value")
    if len(spec.start_with) > spec.num_samples:
        problems.append(f"`start_with` has {len(spec.start_with)} configs and `num_samples` is {spec.num_samples}: "
                        "raise num_samples or drop some")
    return problems


def holds(when: dict | None, chosen: dict) -> bool:
    """A parameter's `when` condition, given the values of the parameters above it."""
    return all(chosen.get(name) in (v if isinstance(v, list) else [v]) for name, v in (when or {}).items())


def in_range(param, value: Any) -> bool:
    if param.type == "categorical":
        return value in param.choices
    number = isinstance(value, (int, float)) and not isinstance(value, bool)
    whole = param.type == "float" or isinstance(value, int) or (isinstance(value, float) and value.is_integer())
    return number and whole and param.low <= value <= param.high


def dump_spec(spec: SweepSpec, presets: bool = False) -> str:
    """The validated spec as YAML, which `load_spec` reads back to the same spec; its presets (already applied) only
    where asked, as an experiment keeps them for `sweeps extend --preset`."""
    exclude = set() if presets else {"presets"}
    return yaml.safe_dump(spec.model_dump(mode="json", exclude=exclude, exclude_none=True), sort_keys=False)
