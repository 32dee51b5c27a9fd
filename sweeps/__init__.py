"""Hyperparameter sweeps of generative models of handwritten digits, from Python as from the `sweeps` command:

    import sweeps
    sweep = sweeps.run("sweeps/specs/ae.yaml", preset="smoke")
    sweep.trials()                       # a DataFrame, a row per trial
    sweeps.extend(sweep.path, num_samples=8, overrides={"search.lr.high": 0.1})

See `sweeps.api` and the README's "From Python".
"""

from sweeps.api import Sweep, extend, open, resume, run  # noqa: A004 (sweeps.open)

__all__ = ["Sweep", "extend", "open", "resume", "run"]
