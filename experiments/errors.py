"""The error every `sweeps` verb turns into a message and exit status 2 (besides config and data errors)."""


class SweepError(RuntimeError):
    """A sweep, experiment or request that cannot go on, with the reason and what to do."""
