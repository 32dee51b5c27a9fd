"""The report's figures of each model family: analysis/panels/NAME.py for the family `model: NAME`, whose
`panels(trained, data, judge, seed)` chooses and captions them from analysis/gallery.py's shared ones."""

from __future__ import annotations

import importlib
from collections.abc import Callable

from trainables.family import Family


def panels_of(family: Family) -> Callable:
    """The family's `panels`: imported when a report draws it, so that nothing else loads figure code."""
    name = f"{__name__}.{family.name}"
    try:
        return importlib.import_module(name).panels
    except ModuleNotFoundError as e:
        if e.name != name:
            raise
        raise LookupError(f"no figures for model {family.name}: add analysis/panels/{family.name}.py with "
                          "panels(trained, data, judge, seed) -> list[Panel] (README: Adding a model)") from None
