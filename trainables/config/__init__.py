"""Typed trainable configs: a Tune dict or `--set` values become one at the trainable's edge."""

from __future__ import annotations

import dataclasses
import difflib
from collections.abc import Mapping
from typing import TypeVar

from pydantic import ConfigDict, TypeAdapter, ValidationError

# Unknown keys are errors, and strings from the command line are parsed ("16" -> 16).
STRICT_KEYS = ConfigDict(extra="forbid", defer_build=True)  # schemas built on first use, not on import
MAX_EPOCHS = 100_000  # an epoch count beyond any sweep: larger ones are typos

C = TypeVar("C")
LABELS = ("rerun_of", "round")  # keys of a trial's config that label it and are no model field


def without_labels(config: Mapping) -> dict:
    """A trial's config with its labels (such as `rerun_of`) left out: the model's fields only."""
    return {k: v for k, v in config.items() if k not in LABELS}


class ConfigError(ValueError):
    """Every problem with a config at once, each naming the field and the fix."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("\n".join(f"  - {p}" for p in problems))

    def __reduce__(self):  # keep the list when Ray sends the error from a trial to the driver
        return type(self), (self.problems,)


def parse_config(cls: type[C], values: Mapping[str, object]) -> C:
    """Build the config dataclass `cls` from `values`, or raise one `ConfigError` listing all problems."""
    names = [f.name for f in dataclasses.fields(cls)]
    unknown = [key for key in values if key not in names]
    problems = [unknown_field(key, values[key], names, cls) for key in unknown]
    known = {key: value for key, value in values.items() if key in names}
    try:
        config = TypeAdapter(cls).validate_python(known)
    except ValidationError as error:
        problems += [bad_value(e) for e in error.errors()]
    if problems:
        raise ConfigError(problems)
    return config


def unknown_field(key: str, value: object, names: list[str], cls: type) -> str:
    close = difflib.get_close_matches(key, names, n=1)
    fix = f"did you mean `{close[0]}`?" if close else f"known fields: {', '.join(names)}"
    return f"`{key}` (= {value!r}) is not a field of {cls.__name__}: {fix}"


def bad_value(error: dict) -> str:
    field = ".".join(str(part) for part in error["loc"])
    return f"`{field}` = {error['input']!r}: {error['msg'][0].lower()}{error['msg'][1:]}"


def describe_fields(cls: type) -> list[tuple[str, object, str]]:
    """(name, default, description) of each field of a config dataclass, for help texts."""
    return [(name, info.default, info.description or "") for name, info in cls.__pydantic_fields__.items()]
