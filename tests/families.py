"""Every registered model family, with small but real settings for tests: a new family needs nothing here unless
its defaults are slow."""

from trainables.config import parse_config
from trainables.registry import FAMILIES

NAMES = list(FAMILIES)


SMALL = {"batch_size": 16, "eval_size": 100}  # every family's, where it has the field
FAST = {  # more, where a family's defaults are slow for a test
    "dae": {"noise_std": 0.25},
    "gan": {"latent_dim": 16},
    "glo": {"latent_dim": 16, "encode_size": 32, "encode_steps": 5, "encode_every": 1},
}


def fast_values(model: str) -> dict:
    """Small but real settings of a family's config for tests."""
    fields = FAMILIES[model].config.__pydantic_fields__
    return {**{k: v for k, v in SMALL.items() if k in fields}, **FAST.get(model, {})}


def fast_config(model: str, **values):
    return parse_config(FAMILIES[model].config, {**fast_values(model), **values})


def reports(model: str, metric: str) -> bool:
    """Whether a family reports `metric` (at its default settings)."""
    family = FAMILIES[model]
    return metric in family.metrics(family.config())
