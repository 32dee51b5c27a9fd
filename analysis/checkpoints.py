"""A trial's checkpoint back as a trained model: its config and network."""

from __future__ import annotations

import pickle
from pathlib import Path

from experiments.errors import SweepError
from experiments.experiment import Experiment, subfolders
from experiments.trials import Results, best_trials, open_results
from trainables.config import parse_config
from trainables.family import TrainedModel
from trainables.state import STATE_FILE, load_state


def pick_trial(results: Results, trial_id: str | None = None) -> str:
    """`trial_id` if given, else the sweep's best trial by its first metric."""
    if trial_id is not None:
        return trial_id
    spec = results.spec
    best = best_trials(results.table, spec.metric[0], spec.mode[0], k=1)
    if best.empty:
        raise SweepError(f"no trial of {results.path} reported {spec.metric[0]} yet: nothing to load")
    return best["trial_id"].iloc[0]


def best_checkpoint(results: Results, trial_id: str):
    """A trial's best kept checkpoint by the sweep's metric, else its latest; None if it kept none."""
    experiment, metric, trial = results.experiment, results.spec.metric[0], results.trial(trial_id)
    history, folder = trial.history, trial.folder
    if "checkpoint_dir_name" not in history:
        return None
    kept = history[history["checkpoint_dir_name"].isin(subfolders(f"{experiment.path}/{folder}"))]
    if kept.empty:
        return None
    scored = kept.dropna(subset=[metric]) if metric in kept else kept.iloc[:0]
    if len(scored):
        kept = scored.sort_values(metric, ascending=results.spec.mode[0] == "min", kind="stable")
        return checkpoint_at(experiment, folder, kept["checkpoint_dir_name"].iloc[0])
    return checkpoint_at(experiment, folder, kept["checkpoint_dir_name"].iloc[-1])


def checkpoint_at(experiment: Experiment, folder: str, name: str):
    from ray import tune

    return tune.Checkpoint(f"{experiment.path}/{folder}/{name}")


def load_trained(source: str | Results, trial_id: str | None = None, device: str = "cpu") -> TrainedModel:
    """The best checkpoint (by the sweep's metric) of trial `trial_id`, or of the sweep's best trial."""
    results = open_results(source)
    experiment, spec = results.experiment, results.spec
    trial_id = pick_trial(results, trial_id)
    checkpoint = best_checkpoint(results, trial_id)
    if checkpoint is None:
        raise SweepError(f"trial {trial_id} of {experiment.path} kept no checkpoint (it stopped before its first "
                         "epoch ended): choose another with --trial")
    with checkpoint.as_directory() as folder:
        state = read_state(Path(folder) / STATE_FILE, device)
    cfg = parse_config(spec.family.config, experiment.trial_config(trial_id))
    return TrainedModel(spec.family, cfg, spec.family.build(cfg, state).to(device).eval(), trial_id, state["epoch"])


def read_state(path: Path, device: str = "cpu") -> dict:
    """A checkpoint's tensors and plain values, or a clear error: `weights_only` unpickling runs no code."""
    try:
        return load_state(path, device)
    except pickle.UnpicklingError as e:
        raise SweepError(f"{path} holds more than tensors and plain values ({str(e).splitlines()[0]}): it was not "
                         "written by a sweep of this version, or was changed since; it is not loaded") from None
    except (OSError, RuntimeError, EOFError) as e:
        raise SweepError(f"{path} is unreadable ({e}): the checkpoint is damaged or incomplete; choose another "
                         "trial with --trial, or copy the experiment again") from None
