"""One sweep's directory: where it lives (a folder or a URI), the files the project keeps in it."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import socket
import time
from dataclasses import dataclass
from pathlib import Path

from pyarrow import fs

from sweeps.spec import SweepError, SweepSpec, read_spec
from trainables.config import without_labels
from trainables.data import Data, load_data
from trainables.judge import TrainedJudge, default_cache_dir, load_judge
from trainables.registry import MODELS

log = logging.getLogger(__name__)

SWEEP_FILE = "sweep.yaml"  # the validated sweep file, presets and overrides applied
ENVIRONMENT_FILE = "environment.json"  # package versions, git commit, data, command line
DRIVER_FILE = "driver.json"  # which process runs the sweep, so `status` can tell running from interrupted
STUDY_FILE = "optuna.journal"
RERUN_FILE = "rerun.json"  # a rerun's record: the sweep it reruns, which trials, seeds and overrides
RERUNS = "reruns"  # reruns of a sweep live in EXPERIMENT/reruns/NAME


@dataclass
class Experiment:
    """Where one sweep's results live: `storage/name`, a local folder or a URI such as s3://bucket/runs/name."""

    storage: str
    name: str

    @classmethod
    def at(cls, path: str) -> Experiment:
        path = path.rstrip("/")
        storage, _, name = path.rpartition("/")
        if "://" not in path:
            resolved = Path(path).resolve()
            storage, name = str(resolved.parent), resolved.name
        return cls(storage, name)

    @property
    def path(self) -> str:
        return f"{self.storage}/{self.name}"

    @property
    def is_local(self) -> bool:
        return "://" not in self.storage

    @property
    def log_file(self) -> Path:
        """The driver's log (Ray's and Optuna's messages): in the experiment, or beside the local journal."""
        return Path(self.path) / "driver.log" if self.is_local else Path(self.study_journal).with_suffix(".log")

    @property
    def study_journal(self) -> str:
        """A local file: the journal needs file locks, which object stores lack; synced up after each run."""
        if self.is_local:
            return f"{self.path}/{STUDY_FILE}"
        folder = default_cache_dir() / "studies"
        folder.mkdir(parents=True, exist_ok=True)
        # Named by the whole URI: the same name under two storages is two studies.
        return str(folder / f"{self.name}-{hashlib.sha1(self.path.encode()).hexdigest()[:10]}.journal")

    def write(self, filename: str, text: str | bytes) -> None:
        filesystem, path = fs.FileSystem.from_uri(self.path)
        filesystem.create_dir(path, recursive=True)
        with filesystem.open_output_stream(f"{path}/{filename}") as out:
            out.write(text.encode() if isinstance(text, str) else text)

    def read(self, filename: str) -> str | None:
        filesystem, path = fs.FileSystem.from_uri(self.path)
        try:
            with filesystem.open_input_stream(f"{path}/{filename}") as stream:
                return stream.read().decode()
        except FileNotFoundError:
            return None

    def trial_config(self, trial_id: str) -> dict:
        """The config a trial started with (its Tune params), labels such as `rerun_of` left out."""
        text = self.read(f"{trial_id}/params.json")
        if text is None:
            raise SweepError(f"no trial {trial_id} in {self.path}: see `sweeps status {self.path}`")
        return without_labels(json.loads(text))

    def driver_state(self) -> str | None:
        """Whether the process that last ran this sweep lives: "alive", "gone", "elsewhere" (on another
        host, unknown from here), or None if none ever ran it."""
        driver = json.loads(self.read(DRIVER_FILE) or "{}")
        if not driver:
            return None
        if driver["host"] != socket.gethostname():
            return "elsewhere"
        try:
            os.kill(driver["pid"], 0)
        except ProcessLookupError:
            return "gone"
        except PermissionError:
            return "alive"
        cmdline = Path(f"/proc/{driver['pid']}/cmdline")  # after a reboot the pid may be another program's
        return "gone" if cmdline.exists() and b"sweeps" not in cmdline.read_bytes() else "alive"

    def sync_study(self, up: bool) -> None:
        """Copy the local journal into (up) or out of a remote experiment directory."""
        if self.is_local:
            return
        remote = f"{self.path}/{STUDY_FILE}"
        source, target = (self.study_journal, remote) if up else (remote, self.study_journal)
        try:
            fs.copy_files(source, target)
        except FileNotFoundError:
            pass


def subfolders(path: str) -> list[str]:
    """Names of the folders in `path` (a local folder or a URI), sorted; none if it does not exist."""
    filesystem, root = fs.FileSystem.from_uri(path if "://" in path else os.path.abspath(path))
    try:
        entries = filesystem.get_file_info(fs.FileSelector(root))
    except FileNotFoundError:
        return []
    return sorted(e.path.rstrip("/").rsplit("/", 1)[-1] for e in entries if e.type == fs.FileType.Directory)


def load_inputs(spec: SweepSpec, data_dir, cache_dir, offline: bool = False) -> tuple[Data, TrainedJudge | None]:
    """The sweep's (limited) data, its missing files downloaded unless `offline`, and, for GAN and GLO, the judge
    trained on the full training partition."""
    full = load_data(spec.data.dataset, data_dir, offline=offline)
    judge = load_judge(full, cache_dir) if MODELS[spec.model].needs_judge else None
    if judge is not None:
        log.info("judge: test accuracy %.2f%%", 100 * judge.accuracy)
    return full.limit(spec.data.limit), judge


def new_experiment(storage: str, name: str | None, model: str) -> Experiment:
    """A fresh experiment under `storage`: STORAGE/NAME, by default STORAGE/MODEL-DATE-TIME."""
    storage = storage if "://" in storage else str(Path(storage).resolve())
    experiment = Experiment(storage, name or f"{model}-{time.strftime('%Y%m%d-%H%M%S')}")
    if experiment.read(SWEEP_FILE) is not None:
        raise SweepError(f"{experiment.path} already holds a sweep: `sweeps resume {experiment.path}` to go on with"
                         " it, or choose another --name")
    if not experiment.is_local:  # a local copy of a deleted experiment's journal would join the new study
        Path(experiment.study_journal).unlink(missing_ok=True)
    return experiment


def open_experiment(path: str) -> tuple[Experiment, SweepSpec]:
    """An existing experiment and its validated sweep file."""
    experiment = Experiment.at(path)
    text = experiment.read(SWEEP_FILE)
    if text is None:
        raise SweepError(f"no sweep at {path} (no {SWEEP_FILE}): give an experiment directory, see `sweeps list`")
    return experiment, read_spec(text, f"{experiment.path}/{SWEEP_FILE}")
