"""Running a sweep on a connected Ray: data sent once, the Tuner, resuming it, and the environment it ran in."""

from __future__ import annotations

import json
import logging
import os
import platform
import shutil
import socket
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path

from ray import tune

from experiments.errors import SweepError
from experiments.experiment import (
    DRIVER_FILE,
    ENVIRONMENT_FILE,
    SWEEP_FILE,
    Experiment,
    driving,
    load_latest_study,
    open_experiment,
    open_study_storage,
)
from experiments.rounds import record_round, rounds_of, warm_start_source
from experiments.spec import SweepSpec, dump_spec
from experiments.trust import check_resumable, sign
from sweeps.internals import (
    EndWandbRuns,
    KeptResults,
    delete_unnamed_checkpoints,
    keep_starting_actors,
    save_experiment_state_adaptively,
    upload_changes_whole,
)
from sweeps.progress import Progress
from sweeps.search import best_configs, build_scheduler, build_searcher, movable, param_space, seed_study
from trainables.data import Data
from trainables.tune import build_trainable

log = logging.getLogger(__name__)

PACKAGES = ("latent-sweeps", "ray", "optuna", "torch", "torchvision", "scikit-learn", "numpy", "pandas", "pydantic")


def start_sweep(experiment: Experiment, spec: SweepSpec, data: Data, judge, command: list[str],
                autoscaling: bool = False):
    """Record the sweep file and environment, then run the sweep on the connected Ray; returns Tune's ResultGrid.
    Only a cluster that may grow (`autoscaling`) takes trials bigger than it is now. A sweep that `warm_start`s
    seeds its study with the earlier sweep's trials and tries its best configs first."""
    check_resources(spec, autoscaling)
    check_wandb_login(spec)
    log.info("sweep %s: %d trials of %s, optimising %s; Ray's log: %s",
             experiment.path, spec.num_samples, spec.model, ", ".join(spec.metric), experiment.log_file)
    with experiment.lock():
        if experiment.read(SWEEP_FILE) is not None:  # another run of the same name got here first
            raise SweepError(f"{experiment.path} already holds a sweep: choose another --name")
        experiment.write(SWEEP_FILE, dump_spec(spec, presets=True))
        experiment.write(ENVIRONMENT_FILE, json.dumps(describe_environment(data, command), indent=2))
        points = list(spec.start_with)
        if spec.warm_start is not None:
            source, earlier = warm_start_source(spec)
            trials = load_latest_study(source).get_trials(deepcopy=False)
            seeded = seed_study(new_study(experiment, spec, experiment.name), trials, earlier, spec)
            best = best_configs(seeded, spec, spec.warm_start.top)
            points = best + [p for p in points if p not in best]  # the earlier sweep's best first
        return run_round(experiment, spec, data, judge, experiment.name, 1, points[:spec.num_samples])


def extend_sweep(experiment: Experiment, spec: SweepSpec, data: Data, judge, command: list[str],
                 autoscaling: bool = False):
    """Run one more round of `spec.num_samples` trials (`plan_extension`'s spec) in the experiment, its study
    seeded with every earlier trial that fits the round's search space."""
    check_resources(spec, autoscaling)
    check_wandb_login(spec)
    with experiment.lock():
        previous = open_experiment(experiment.path)[1]
        round = rounds_of(experiment) + 1
        total = previous.num_samples + spec.num_samples
        log.info("sweep %s, round %d: %d more trials (%d in all)", experiment.path, round, spec.num_samples, total)
        name = f"round-{round}"
        trials = load_latest_study(experiment).get_trials(deepcopy=False)  # before the round's own is made
        seed_study(new_study(experiment, spec, name), trials, previous, spec)
        record_round(experiment, round, spec, describe_environment(data, command), total)
        points = [p for p in spec.start_with if p not in previous.start_with]  # the earlier ones ran already
        return run_round(experiment, spec, data, judge, name, round, points[:spec.num_samples])


def new_study(experiment: Experiment, spec: SweepSpec, name: str):
    """An empty study in the experiment's journal, which the sweep's searcher then opens. One of that name is the
    leftover of an extension stopped before its round was recorded, which ran no trial: it is replaced."""
    import optuna

    directions = ["minimize" if mode == "min" else "maximize" for mode in spec.mode]
    experiment.sync_study(up=False)
    storage = open_study_storage(experiment.study_journal)
    if name in optuna.get_all_study_names(storage):
        optuna.delete_study(study_name=name, storage=storage)
    return optuna.create_study(storage=storage, study_name=name, directions=directions)


def run_round(experiment: Experiment, spec: SweepSpec, data: Data, judge, study_name: str, round: int,
              points: list[dict]):
    """Tune's run of `spec.num_samples` trials, searched by the study `study_name`, `points` first."""
    single = len(spec.metric) == 1
    tuner = tune.Tuner(
        trainable(spec, data, judge),
        param_space=param_space(spec),
        tune_config=tune.TuneConfig(
            metric=spec.metric[0] if single else None,
            mode=spec.mode[0] if single else None,
            search_alg=movable(build_searcher(spec, experiment, study_name, round, points)),
            scheduler=build_scheduler(spec),
            num_samples=spec.num_samples,
            time_budget_s=spec.time_budget_s,
            reuse_actors=True,
            trial_dirname_creator=trial_dirname,
        ),
        run_config=run_config(experiment, spec, spec.time_limit_s),
    )
    return run_tuner(experiment, tuner)


def resume_sweep(experiment: Experiment, spec: SweepSpec, data: Data, judge, trust: bool = False):
    """Go on with an interrupted sweep: finished trials stay, unfinished ones restart from their last checkpoints.

    Errored trials already used their retries: they are reported, not rerun (and Ray 2.60's
    restart_errored=True with OptunaSearch crashes the driver)."""
    with experiment.lock():
        check_resumable(experiment, trust)
        return resume_unlocked(experiment, spec, data, judge)


def resume_unlocked(experiment: Experiment, spec: SweepSpec, data: Data, judge):
    check_same_data(experiment, data)
    experiment.sync_study(up=False)
    tuner = tune.Tuner.restore(experiment.path, trainable(spec, data, judge), resume_unfinished=True,
                               resume_errored=False, restart_errored=False)
    return run_tuner(experiment, tuner)


def check_restorable(experiment: Experiment) -> None:
    """Tune's restore reads the newest experiment state, and where it cannot, logs why and starts the sweep over in
    the same folder, every trial it held forgotten (a 10,000-trial sweep whose state a kill had cut short ran one
    trial more and ended): refuse instead, before anything starts."""
    names = experiment.state_files()
    if not names:
        raise SweepError(f"{experiment.path} has no experiment_state-*.json, Tune's record of its trials: it cannot "
                         "be resumed (its driver stopped before Tune first saved it, or the file was not copied)")
    try:
        json.loads(experiment.read(names[-1]))
    except ValueError as e:
        earlier = f", or move it out of the folder to resume from {names[-2]}, the state before it" if names[1:] else ""
        raise SweepError(f"{experiment.path}/{names[-1]} is damaged ({e}): resuming from it would start the sweep "
                         f"over: copy the experiment again from where it ran{earlier}") from None


def check_same_data(experiment: Experiment, data: Data) -> None:
    """The data is the sweep's, as its fingerprint says: new trials' values compare with the old ones'."""
    recorded = experiment.read_json(ENVIRONMENT_FILE, {}).get("data", {})
    if recorded.get("fingerprint") not in (None, data.fingerprint):
        raise SweepError(f"the data differs from the sweep's ({recorded['fingerprint']} when it started, "
                         f"{data.fingerprint} now): give the --data-dir it started with")


def check_resources(spec: SweepSpec, autoscaling: bool) -> None:
    """A trial asking for more than the connected Ray has would wait for ever: say so now."""
    import ray

    available = ray.cluster_resources()
    for key, need in (("CPU", spec.resources.cpu), ("GPU", spec.resources.gpu)):
        have = available.get(key, 0)
        if need > have:
            problem = f"each trial asks for resources.{key.lower()}: {need:g}, and this Ray cluster has {have:g} {key}s"
            if not autoscaling:
                raise SweepError(f"{problem}: lower it (--set resources.{key.lower()}={have:g}), or run on a "
                                 "cluster that has them (--address)")
            log.warning("%s: trials wait until the cluster adds nodes that have them", problem)


def checkpoint_config(spec: SweepSpec) -> tune.CheckpointConfig:
    if spec.scheduler.type == "pbt":
        # Keep every checkpoint: with Ray 2.60, PBT's extra saves make Tune's retention delete
        # checkpoints twice, and the exploits that should copy them fail.
        return tune.CheckpointConfig(num_to_keep=None)
    # The best checkpoint by the sweep's metric; Tune keeps the latest one besides.
    return tune.CheckpointConfig(
        num_to_keep=1, checkpoint_score_attribute=spec.metric[0], checkpoint_score_order=spec.mode[0]
    )


def run_config(experiment: Experiment, spec: SweepSpec, time_limit_s: float | None) -> tune.RunConfig:
    """Where trials go, what they keep, how often they are retried, and what the driver prints and writes."""
    return tune.RunConfig(
        name=experiment.name,
        storage_path=experiment.storage,
        checkpoint_config=checkpoint_config(spec),
        failure_config=tune.FailureConfig(max_failures=spec.max_failures),
        callbacks=[Progress(spec.metric[0], spec.mode[0], spec.epochs, time_limit_s), KeptResults(),
                   *build_loggers(spec, experiment)],
        verbose=0,
    )


def build_loggers(spec: SweepSpec, experiment: Experiment) -> list:
    """Ray's callbacks for the sweep file's `loggers`: a run per trial with its config and each epoch's metrics,
    under the experiment's name; no checkpoint or file goes to the tracker."""
    callbacks, pbt = [], spec.scheduler.type == "pbt"
    if "mlflow" in spec.loggers:
        from ray.air.integrations.mlflow import MLflowLoggerCallback

        # Unset, MLflow's own default: sqlite:///mlflow.db where the sweep starts (MLflow 3). Population-based
        # training changes a trial's config after each exploit, and MLflow refuses a param that changes (the driver
        # crashed): such a run's params are its final config.
        callbacks.append(MLflowLoggerCallback(os.environ.get("MLFLOW_TRACKING_URI"), experiment_name=experiment.name,
                                              log_params_on_trial_end=pbt))
    if "wandb" in spec.loggers:
        from ray.air.integrations.wandb import WandbLoggerCallback

        # Each trial's W&B run lives in a Ray worker, which has the environment Ray started with (on a cluster,
        # not this shell's) and works in Ray's temporary folder: the driver's W&B settings go with it, and its
        # folder is W&B's usual one. Under population-based training each result's config updates the run's, as
        # exploits change it.
        wandb = WandbLoggerCallback(
            project=os.environ.get("WANDB_PROJECT", "latent-sweeps"), group=experiment.name, log_config=pbt,
            mode=os.environ.get("WANDB_MODE"), dir=os.environ.get("WANDB_DIR", os.getcwd()),
        )
        callbacks += [EndWandbRuns(wandb), wandb]
    return callbacks


def check_wandb_login(spec: SweepSpec) -> None:
    """W&B needs a login, or offline mode: say so before the sweep is recorded, not as Tune's traceback once it has
    started. The check is Ray's own, which its callback runs again when the sweep starts."""
    if "wandb" not in spec.loggers:
        return
    from ray.air.integrations.wandb import WandbLoggerCallback

    try:
        WandbLoggerCallback(project="latent-sweeps").setup()
    except ValueError:
        raise SweepError("`loggers` has wandb, and W&B has no login here: run `wandb login`, set WANDB_API_KEY, or "
                         "set WANDB_MODE=offline to keep the runs on this machine (`wandb sync` uploads them)"
                         ) from None


def trainable(spec: SweepSpec, data: Data, judge):
    resources = {"cpu": spec.resources.cpu, "gpu": spec.resources.gpu}
    return tune.with_resources(build_trainable(spec.model, data, judge), resources)


def run_tuner(experiment: Experiment, tuner: tune.Tuner):
    """Run a set-up Tuner with the experiment marked as being driven from here; the study and signatures after."""
    # Tune's experiment state is saved every second, or less often where saving it takes over 5% of the time or
    # sending it over 1.5 MB/s (a sweep of thousands of trials), and only what changed is sent, each file whole;
    # Tune's own progress table gives way to the one-line `Progress`.
    os.environ.setdefault("TUNE_GLOBAL_CHECKPOINT_S", "auto")
    save_experiment_state_adaptively()
    upload_changes_whole()
    keep_starting_actors()
    os.environ.setdefault("TUNE_WARN_EXCESSIVE_EXPERIMENT_CHECKPOINT_SYNC_THRESHOLD_S", "0")
    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
    driver = {"pid": os.getpid(), "host": socket.gethostname(), "started": time.time()}
    experiment.write(DRIVER_FILE, json.dumps(driver))
    try:
        with driving(experiment):
            results = tuner.fit()
        delete_unnamed_checkpoints()  # Tune's last state, uploaded, names none of them
        return results
    finally:
        experiment.sync_study(up=True, whole=True)
        sign(experiment)  # after Tune's last save


def trial_dirname(trial) -> str:
    return trial.trial_id


def describe_environment(data: Data, command: list[str]) -> dict:
    """What a rerun needs to reproduce this sweep: versions, code commit, data and the command."""
    versions = {}
    for package in PACKAGES:
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    return {
        "command": command,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "host": socket.gethostname(),
        "packages": versions,
        "git": git_state(),
        "data": {
            "name": data.name, "fingerprint": data.fingerprint, "notice": data.notice,
            "train": len(data.train), "val": len(data.val), "test": len(data.test),
        },
    }


def git_state() -> dict | None:
    """Commit and whether the working tree had changes, where the code runs from a git checkout."""
    root = Path(__file__).resolve().parents[1]
    if shutil.which("git") is None or not (root / ".git").exists():
        return None
    run = lambda *args: subprocess.run(["git", *args], cwd=root, capture_output=True, text=True).stdout.strip()  # noqa: E731
    return {"commit": run("rev-parse", "HEAD"), "dirty": bool(run("status", "--porcelain"))}
