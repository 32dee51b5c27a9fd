"""A trial's checkpoint back as a trained model: its config and network."""

from __future__ import annotations

import pickle
from dataclasses import dataclass
from pathlib import Path

from torch import nn

from analysis.results import best_checkpoint, best_trials, trial_table
from sweeps.experiment import Experiment, open_experiment
from sweeps.spec import SweepError, SweepSpec
from trainables.config import parse_config
from trainables.models.ae import Autoencoder
from trainables.models.gan import Generator
from trainables.models.glo import GLO
from trainables.registry import MODELS
from trainables.state import load_state
from trainables.tune import STATE_FILE


@dataclass
class TrainedModel:
    model: str  # ae | dae | gan | glo
    cfg: object  # the model's typed config
    network: nn.Module  # Autoencoder, the GAN's Generator, or GLO (generator + training latents), in eval mode
    trial_id: str
    epoch: int  # the epoch the checkpoint was taken after


def pick_trial(experiment: Experiment, spec: SweepSpec, trial_id: str | None = None) -> str:
    """`trial_id` if given, else the sweep's best trial by its first metric."""
    if trial_id is not None:
        return trial_id
    best = best_trials(trial_table(experiment, spec), spec.metric[0], spec.mode[0], k=1)
    if best.empty:
        raise SweepError(f"no trial of {experiment.path} reported {spec.metric[0]} yet: nothing to load")
    return best["trial_id"].iloc[0]


def load_trained(path: str, trial_id: str | None = None, device: str = "cpu") -> TrainedModel:
    """The best checkpoint (by the sweep's metric) of trial `trial_id`, or of the sweep's best trial."""
    experiment, spec = open_experiment(path)
    trial_id = pick_trial(experiment, spec, trial_id)
    checkpoint = best_checkpoint(experiment, spec, trial_id)
    if checkpoint is None:
        raise SweepError(f"trial {trial_id} of {experiment.path} kept no checkpoint (it stopped before its first "
                         "epoch ended): choose another with --trial")
    with checkpoint.as_directory() as folder:
        state = read_state(Path(folder) / STATE_FILE, device)
    cfg = parse_config(MODELS[spec.model].config, experiment.trial_config(trial_id))
    return TrainedModel(spec.model, cfg, build_network(spec.model, cfg, state).to(device).eval(), trial_id,
                        state["epoch"])


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


def build_network(model: str, cfg, state: dict) -> nn.Module:
    """The network a checkpoint's state holds, weights loaded."""
    if model in ("ae", "dae"):
        network = Autoencoder(cfg.latent_dim, cfg.activation, cfg.channels)
        network.load_state_dict(state["model"])
    elif model == "gan":
        network = Generator(cfg.latent_dim, cfg.width)
        if cfg.ema > 0:  # samples come from the average of the generator's weights (the module inside it)
            network.load_state_dict({k.removeprefix("module."): v for k, v in state["ema"].items()
                                     if k.startswith("module.")})
        else:
            network.load_state_dict(state["generator"])
    else:
        num_images = state["model"]["latents.weight"].shape[0]
        network = GLO(num_images, cfg.latent_dim, cfg.latent_norm, cfg.width)
        network.load_state_dict(state["model"])
    return network
