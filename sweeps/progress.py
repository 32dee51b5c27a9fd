"""A one-line view of a running sweep, in place of Tune's full trial table."""

from __future__ import annotations

import math
import time
from collections import Counter

from ray import tune

from experiments.trials import trial_outcome


class Progress(tune.Callback):
    """Prints trials by outcome, the best value so far and the elapsed time, when something changes."""

    def __init__(self, metric: str, mode: str, epochs: int, time_limit_s: float | None = None, every_s: float = 30.0):
        self.metric, self.mode, self.epochs, self.every_s = metric, mode, epochs, every_s
        self.time_limit_s = time_limit_s
        self.best: tuple[float, str, int] | None = None

    def setup(self, **info) -> None:
        self.start, self.last_counts, self.last_line, self.last_time = time.monotonic(), "", "", 0.0
        # Only the trials that have not ended are looked at each step: at 10,000 trials, reading each one's last
        # result every step was most of the driver's time, and walking them all still a sixth of it.
        self.ended: Counter = Counter()  # outcomes of the trials that ended
        self.live: dict = {}  # the others, by id
        self.seen = 0  # how many of Tune's trials (a list it only appends to) were looked at

    def on_trial_result(self, iteration, trials, trial, result, **info) -> None:
        self.consider(trial.trial_id, result)

    def consider(self, trial_id: str, result: dict) -> None:
        """A trial's result, for the best value so far."""
        value = result.get(self.metric)
        if not isinstance(value, (int, float)) or math.isnan(value):
            return
        sign = 1 if self.mode == "min" else -1
        if self.best is None or sign * value < sign * self.best[0]:
            self.best = (value, trial_id, result.get("epoch", 0))

    def on_step_end(self, iteration, trials, **info) -> None:
        counts, line = self.summary(trials)
        now = time.monotonic()
        # A trial changing state prints at once; a new best value at most every 5 s; nothing new every 30 s.
        since = now - self.last_time
        if counts != self.last_counts or (line != self.last_line and since >= 5) or since >= self.every_s:
            print(f"[{format_duration(now - self.start)}] {line}", flush=True)
            self.last_counts, self.last_line, self.last_time = counts, line, now

    def summary(self, trials) -> tuple[str, str]:
        """(trials by outcome, that line with the best value so far)"""
        for trial in trials[self.seen:]:  # new, or restored by a resume with the results they had
            self.live[trial.trial_id] = trial
            self.consider(trial.trial_id, trial.last_result or {})
        self.seen = len(trials)
        counts = Counter(self.ended)
        for trial in list(self.live.values()):
            epochs = trial.config.get("epochs", self.epochs)
            outcome = trial_outcome(trial.status, trial.last_result or {}, epochs, self.time_limit_s)
            if trial.status in ("TERMINATED", "ERROR"):
                self.ended[outcome] += 1
                del self.live[trial.trial_id]
            counts[outcome] += 1
        order = ["running", "pending", "paused", "finished", "stopped", "diverged", "errored"]
        shown = " · ".join(f"{counts[k]} {k}" for k in order if counts.get(k)) or "starting"
        if self.best is None:
            return shown, shown
        value, trial_id, epoch = self.best
        return shown, f"{shown} | best {self.metric} {value:.4g} (trial {trial_id}, epoch {epoch})"


def format_duration(seconds: float) -> str:
    minutes, seconds = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{seconds:02d}" if hours else f"{minutes:02d}:{seconds:02d}"
