"""How a sweep searches: Optuna's define-by-run space and study, and the early-stopping scheduler."""

from __future__ import annotations

import dataclasses
import logging
import math
import warnings
from typing import Any

import optuna
from ray import tune
from ray.tune.schedulers import ASHAScheduler, FIFOScheduler, PopulationBasedTraining
from ray.tune.search import BasicVariantGenerator, ConcurrencyLimiter, SearchAlgorithm, Searcher, SearchGenerator
from ray.tune.search.optuna import OptunaSearch

from experiments.experiment import Experiment, driven, open_study_storage
from experiments.spec import SweepSpec, holds
from sweeps import internals

log = logging.getLogger(__name__)


class SearchSpace:
    """Define-by-run: suggest each searched parameter whose `when` holds, and return the fixed values."""

    def __init__(self, spec: SweepSpec, round: int = 1):
        self.search = {name: param.model_dump() for name, param in spec.search.items()}
        self.fixed = dict(spec.fixed) | ({"round": round} if round > 1 else {})  # a label: which round ran it

    def __call__(self, trial: optuna.Trial) -> dict[str, Any]:
        chosen: dict[str, Any] = {}
        for name, p in self.search.items():
            if not holds(p["when"], chosen):
                continue  # the trainable takes the field's default
            if p["type"] == "int":
                chosen[name] = trial.suggest_int(name, p["low"], p["high"], step=p["step"], log=p["log"])
            elif p["type"] == "float":
                chosen[name] = trial.suggest_float(name, p["low"], p["high"], step=p["step"], log=p["log"])
            else:
                chosen[name] = trial.suggest_categorical(name, p["choices"])
        return self.fixed


class StudySearch(OptunaSearch):
    """OptunaSearch that keeps the study a faithful record and survives a restarted driver, here or elsewhere.

    Each Optuna trial names its Tune trial (user attributes `tune_trial_id`, `tune_trial_dir`, `round`), has every
    epoch's value as an intermediate value (Tune passes the last one to `on_trial_complete` only), and ends PRUNED
    where the scheduler stopped it early, as Optuna's own pruners leave trials: TPE then ranks it by its last value
    below the trials that finished. A diverged trial is COMPLETE with its worst values and a `diverged` attribute.

    After `sweeps resume`, Tune may report results of a trial the study already closed (it finished just before the
    driver died) or never knew (an errored trial): Ray's OptunaSearch raises on both, which would end the sweep, so
    such results are left out of the study instead.
    """

    recorded: Experiment | None = None  # None in searchers pickled before it was recorded: `driven` knows
    spec: SweepSpec | None = None  # likewise
    round: int = 1

    def __init__(self, *, experiment: Experiment, spec: SweepSpec, study_name: str, round: int = 1, **kwargs):
        self.recorded, self.spec, self.round = experiment, spec, round
        super().__init__(storage=open_study_storage(experiment.study_journal), study_name=study_name, **kwargs)

    @property
    def experiment(self) -> Experiment:
        """Where the experiment is now: a restored searcher's recorded path is stale after a move or a copy."""
        return driven(self.recorded)

    def restore(self, checkpoint_path: str) -> None:
        super().restore(checkpoint_path)
        # The saved study points at the journal where the last driver kept it; for remote storage this
        # driver keeps its copy in its own cache dir (on a new head, say): reopen the study there.
        saved = internals.study_of(self)
        study = optuna.load_study(study_name=saved.study_name, sampler=saved.sampler,
                                  storage=open_study_storage(self.experiment.study_journal))
        internals.reopen_study(self, study)
        # Trials the study handed out after Tune's last snapshot belong to no Tune trial: close them
        # as failed, as Optuna does with stale trials, so that none stays "running" for ever.
        known = {trial.number for trial in internals.asked_trials(self)}
        for trial in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,)):
            if trial.number not in known:
                study.tell(trial.number, state=optuna.trial.TrialState.FAIL)

    def suggest(self, trial_id: str):
        suggestion = super().suggest(trial_id)
        trial = internals.optuna_trial_of(self, trial_id)
        if trial is not None:
            for key, value in (("tune_trial_id", trial_id), ("round", self.round),
                               ("tune_trial_dir", f"{self.experiment.path}/{trial_id}")):
                trial.set_user_attr(key, value)
        return suggestion

    def on_trial_result(self, trial_id: str, result: dict) -> None:
        if self.is_open(trial_id):
            self.record_epoch(trial_id, result)

    def on_trial_complete(self, trial_id: str, result: dict | None = None, error: bool = False) -> None:
        if not self.is_open(trial_id):
            return
        if result and not error:
            self.record_epoch(trial_id, result)
            if result.get("diverged"):
                internals.optuna_trial_of(self, trial_id).set_user_attr("diverged", True)
            elif self.spec is not None and self.spec.stopped_early(result) and not isinstance(self.metric, list):
                result = None  # OptunaSearch tells a trial without a result as PRUNED
        super().on_trial_complete(trial_id, result, error)
        internals.forget_trial(self, trial_id)
        self.__dict__.get("steps", {}).pop(trial_id, None)

    def save(self, checkpoint_path: str) -> None:
        # Tune saves the searcher with its experiment state: a remote study gets its new records first, so that a
        # new head finds every trial the state names in the study.
        self.experiment.sync_study(up=True)
        super().save(checkpoint_path)

    def record_epoch(self, trial_id: str, result: dict) -> None:
        """The epoch's value as the trial's intermediate value at step `epoch` (Optuna keeps intermediate values
        of single-objective studies only)."""
        if isinstance(self.metric, list):
            return
        value, step = result.get(self.metric), result.get("epoch", result.get("training_iteration"))
        steps = self.__dict__.setdefault("steps", {})  # trial id -> last step reported
        if value is None or not math.isfinite(value) or step is None:
            return
        if steps.get(trial_id, -1) < step:  # once per step: a restored trial may report its last epoch again
            internals.optuna_trial_of(self, trial_id).report(value, int(step))
            steps[trial_id] = step

    def is_open(self, trial_id: str) -> bool:
        trial = internals.optuna_trial_of(self, trial_id)
        if trial is None:
            return False
        running = internals.study_of(self).get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,))
        return any(t.number == trial.number for t in running)


def build_searcher(spec: SweepSpec, experiment: Experiment, study_name: str | None = None, round: int = 1,
                   points: list[dict] | None = None) -> Searcher | SearchAlgorithm:
    """The sweep's search: Optuna's study `study_name` (default: the experiment's name) in the experiment's
    journal, `points` (default: the sweep file's `start_with`) tried first."""
    points = spec.start_with if points is None else points
    if spec.scheduler.type == "pbt":
        # Population-based training mutates trials itself and takes no search algorithm: the first
        # population is drawn at random from the same space.
        return BasicVariantGenerator(points_to_evaluate=spec.start_with or None, random_state=spec.seed,
                                     max_concurrent=spec.max_concurrent or 0)
    if spec.searcher == "random":
        sampler = optuna.samplers.RandomSampler(seed=spec.seed)
    else:
        sampler = internals.WindowedTPE(
            seed=spec.seed,
            # Optuna's default of 10 random trials is most of a short sweep.
            n_startup_trials=min(10, max(3, spec.num_samples // 4)),
            # Trials running side by side: pretend the running ones scored badly, so TPE spreads them out.
            constant_liar=spec.max_concurrent != 1,
        )
    single = len(spec.metric) == 1
    searcher = StudySearch(
        space=SearchSpace(spec, round),
        metric=spec.metric[0] if single else spec.metric,
        mode=spec.mode[0] if single else spec.mode,
        sampler=sampler,
        points_to_evaluate=list(points) or None,  # enqueued in the study: its first trials
        experiment=experiment, spec=spec, study_name=study_name or experiment.name, round=round,
    )
    return ConcurrencyLimiter(searcher, max_concurrent=spec.max_concurrent) if spec.max_concurrent else searcher


def movable(search: Searcher | SearchAlgorithm) -> SearchAlgorithm:
    """A searcher in the trial generator that follows a moved experiment (population-based training's generator,
    which draws from no searcher, does not)."""
    return MovableSearch(search) if isinstance(search, Searcher) else search


class MovableSearch(SearchGenerator):
    """Tune's generator of trials from a searcher, which after a resume creates new trials where the experiment is
    now: Ray 2.60 restores the experiment's location of the time with the generator's pickled state, so a moved or
    copied experiment's new trials would be written into the original folder."""

    def set_state(self, state: dict) -> None:
        super().set_state(state)
        here = driven(None)
        if here is not None and internals.has_experiment(self):
            internals.rebase_generator(self, here.storage, here.name)


def build_scheduler(spec: SweepSpec) -> FIFOScheduler:
    scheduler = spec.scheduler
    if scheduler.type == "asha":
        return ASHAScheduler(
            time_attr=scheduler.time_attr, max_t=scheduler.max_t or spec.epochs,
            grace_period=scheduler.grace_period, reduction_factor=scheduler.reduction_factor,
        )
    if scheduler.type == "pbt":
        return PopulationBasedTraining(
            time_attr="epoch", perturbation_interval=scheduler.perturbation_interval,
            hyperparam_mutations=tune_space(spec), quantile_fraction=scheduler.quantile_fraction,
            resample_probability=scheduler.resample_probability, custom_explore_fn=KeepInBounds(spec),
            # Exploit when the whole population has reached the interval, not whenever a trial reports:
            # the outcome does not depend on which trial happened to report first.
            synch=True,
        )
    return FIFOScheduler()


class KeepInBounds:
    """Population-based training perturbs values by factors of 0.8 and 1.2 regardless of the search
    range (beta1 0.9 becomes 1.08, which Adam rejects): clip them back into it."""

    def __init__(self, spec: SweepSpec):
        self.bounds = {name: (p.low, p.high, p.type) for name, p in spec.search.items() if p.type != "categorical"}

    def __call__(self, config: dict) -> dict:
        for name, (low, high, kind) in self.bounds.items():
            value = min(max(config[name], low), high)
            config[name] = round(value) if kind == "int" else value
        return config


def tune_space(spec: SweepSpec) -> dict[str, Any]:
    """The search space in Tune's own terms, for population-based training."""
    space = {}
    for name, p in spec.search.items():
        if p.type == "categorical":
            space[name] = tune.choice(p.choices)
        elif p.type == "int":
            space[name] = tune.lograndint(p.low, p.high + 1) if p.log else tune.qrandint(p.low, p.high, p.step)
        elif p.log:
            space[name] = tune.loguniform(p.low, p.high)
        else:
            space[name] = tune.quniform(p.low, p.high, p.step) if p.step else tune.uniform(p.low, p.high)
    return space


def param_space(spec: SweepSpec) -> dict[str, Any]:
    """Tuner's param_space: empty for Optuna, which returns the fixed values from its define-by-run space."""
    return {**tune_space(spec), **spec.fixed} if spec.scheduler.type == "pbt" else {}


SEEDED = ("COMPLETE", "PRUNED")  # the states of the earlier trials a new study starts from


def seed_study(study, earlier: list, earlier_spec: SweepSpec, spec: SweepSpec) -> list:
    """Add the finished and pruned trials of an earlier study (`earlier`, its trials) to `study`, in `spec`'s search
    space, with their values, intermediate values and attributes: a parameter they lack takes the value they ran
    with (`earlier_spec`'s fixed value, or the model's default). Trials outside the space (a narrowed range, a
    dropped choice) are left out of the study: TPE cannot place them, and they stay in the trial table. Returns
    the trials added."""
    space, added, outside = SearchSpace(spec), [], 0
    defaults = dataclasses.asdict(earlier_spec.fixed_config())
    for old in earlier:
        if old.state.name not in SEEDED:
            continue
        fixed = optuna.trial.FixedTrial({**defaults, **old.params})
        try:
            with warnings.catch_warnings():  # a number out of range warns here, and is refused by create_trial
                warnings.simplefilter("ignore")
                space(fixed)  # a dropped choice raises
            trial = optuna.trial.create_trial(
                state=old.state, values=old.values if old.state.name == "COMPLETE" else None,
                params=fixed.params, distributions=fixed.distributions, user_attrs=old.user_attrs,
                intermediate_values=old.intermediate_values,
            )
        except ValueError:
            outside += 1
            continue
        study.add_trial(trial)
        added.append(trial)
    log.info("study %s: %d earlier trials added, %d outside the search space left out", study.study_name,
             len(added), outside)
    return added


def best_configs(trials: list, spec: SweepSpec, k: int) -> list[dict]:
    """The searched values of the `k` best finished trials (by the first metric), diverged ones left out."""
    finished = [t for t in trials if t.state.name == "COMPLETE" and not t.user_attrs.get("diverged")]
    finished.sort(key=lambda t: t.values[0], reverse=spec.mode[0] == "max")
    return [dict(t.params) for t in finished[:k]]
