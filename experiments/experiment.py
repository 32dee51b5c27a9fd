"""One sweep's directory: where it lives (a folder or a URI), the files the project keeps in it."""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import re
import shlex
import socket
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from pyarrow import fs

from experiments.errors import SweepError
from experiments.spec import SweepSpec, read_spec
from trainables.config import without_labels
from trainables.data import default_cache_dir

if TYPE_CHECKING:
    from trainables.data import Data
    from trainables.judge import TrainedJudge

log = logging.getLogger(__name__)

SWEEP_FILE = "sweep.yaml"  # the validated sweep file, presets and overrides applied
ENVIRONMENT_FILE = "environment.json"  # package versions, git commit, data, command line
DRIVER_FILE = "driver.json"  # which process runs the sweep, so `status` can tell running from interrupted
STUDY_FILE = "optuna.journal"
STUDY_PARTS = "optuna.journal.parts"  # a remote journal's records appended since STUDY_FILE was last written
RERUN_FILE = "rerun.json"  # a rerun's record: the sweep it reruns, which trials, seeds and overrides
RERUNS = "reruns"  # reruns of a sweep live in EXPERIMENT/reruns/NAME
LOCK_FILE = "driver.lock"  # held by the one process that writes the sweep (run or resume)


def trial_index_name(state_file: str) -> str:
    """trial_index-SESSION.json, which the driver writes beside Tune's experiment_state-SESSION.json: each trial's
    id, status, folder and config (sweeps.internals.write_trial_index)."""
    return state_file.replace("experiment_state-", "trial_index-", 1)


_driving: list[Experiment] = []  # the experiment this process runs a sweep of, innermost last


@contextlib.contextmanager
def driving(experiment: Experiment):
    """Run a sweep of `experiment` in this block. Ray pickles the searcher and callbacks with the experiment's path
    of the time; after a move or a copy, `driven` says where the experiment is now."""
    _driving.append(experiment)
    try:
        yield
    finally:
        _driving.pop()


def driven(recorded: Experiment | None) -> Experiment | None:
    """The experiment this process runs now, else `recorded`."""
    return _driving[-1] if _driving else recorded


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
        target = f"{path}/{filename}"
        filesystem.create_dir(target.rsplit("/", 1)[0], recursive=True)
        with filesystem.open_output_stream(target) as out:
            out.write(text.encode() if isinstance(text, str) else text)

    def read(self, filename: str) -> str | None:
        raw = self.read_bytes(filename)
        if raw is None:
            return None
        try:
            return raw.decode()
        except UnicodeDecodeError:
            raise SweepError(f"{self.path}/{filename} is not text: it is damaged; copy the experiment again from "
                             "where it ran") from None

    def read_json(self, filename: str, default=None):
        """A JSON file of the experiment's (`default` where there is none), or a clear error where it is damaged."""
        text = self.read(filename)
        if text is None:
            return default
        try:
            return json.loads(text)
        except ValueError as e:
            raise SweepError(f"{self.path}/{filename} is damaged ({e}): copy the experiment again from where it ran"
                             ) from None

    def read_bytes(self, filename: str) -> bytes | None:
        filesystem, path = fs.FileSystem.from_uri(self.path)
        try:
            with filesystem.open_input_stream(f"{path}/{filename}") as stream:
                return stream.read()
        except FileNotFoundError:
            return None

    def files(self) -> list[str]:
        """Names of the files in the experiment's folder."""
        return entries(self.path, fs.FileType.File)

    def state_files(self) -> list[str]:
        """Tune's experiment states, oldest first: each run of Tune (a sweep, each resume, each round) leaves one."""
        return sorted(n for n in self.files() if n.startswith("experiment_state-") and n.endswith(".json"))

    def trial_config(self, trial_id: str) -> dict:
        """The config a trial started with (its Tune params), labels such as `rerun_of` left out."""
        config = self.read_json(f"{trial_id}/params.json")
        if not isinstance(config, dict):
            raise SweepError(f"no trial {trial_id} in {self.path} (or its params.json is damaged): see "
                             f"`sweeps status {shlex.quote(self.path)}`")
        return without_labels(config)

    def driver_state(self) -> str | None:
        """Whether the process that last ran this sweep lives: "alive", "gone", "elsewhere" (on another
        host, unknown from here), or None if none ever ran it."""
        driver = self.read_json(DRIVER_FILE, {})
        if not isinstance(driver, dict) or not {"host", "pid"} <= driver.keys():
            return None
        if driver["host"] != socket.gethostname():
            return "elsewhere"
        return "alive" if process_alive(driver["pid"]) else "gone"

    @contextlib.contextmanager
    def lock(self):
        """Be the experiment's one writer while the block runs: a second `run` or `resume` of it stops with who
        holds it. A lock whose process is gone (killed, or the machine rebooted) is taken over. Object stores have
        no atomic create: there, a driver that is alive by its driver.json holds the experiment."""
        holder = {"pid": os.getpid(), "host": socket.gethostname(), "since": time.time()}
        if not self.is_local:
            if self.driver_state() == "alive":
                raise self.held_error(self.read_json(DRIVER_FILE))
            yield
            return
        path = Path(self.path) / LOCK_FILE
        path.parent.mkdir(parents=True, exist_ok=True)
        mine = path.with_name(f".{LOCK_FILE}.{holder['pid']}")
        mine.write_text(json.dumps(holder))
        while True:
            try:
                os.link(mine, path)  # atomic: the lock appears with its holder written, or not at all
                mine.unlink()
                break
            except FileExistsError:
                try:
                    other = json.loads(path.read_text())
                except (OSError, ValueError):
                    other = {}
                if not other or (other.get("host") == holder["host"] and not process_alive(other.get("pid", 0))):
                    path.unlink(missing_ok=True)  # stale: its process is gone, or the file is garbage
                    continue
                mine.unlink()
                raise self.held_error(other) from None
        try:
            yield
        finally:
            path.unlink(missing_ok=True)

    def check_unlocked(self) -> None:
        """Fail now, before data loads, where a live process holds the experiment's lock."""
        try:
            holder = json.loads((Path(self.path) / LOCK_FILE).read_text()) if self.is_local else {}
        except (OSError, ValueError):
            return
        if holder.get("host") == socket.gethostname() and process_alive(holder.get("pid", 0)):
            raise self.held_error(holder)

    def held_error(self, holder: dict) -> SweepError:
        since = time.strftime("%Y-%m-%d %H:%M", time.localtime(holder.get("since", holder.get("started", 0))))
        return SweepError(f"{self.path} is being written by another sweep (pid {holder.get('pid')} on "
                          f"{holder.get('host')}, since {since}): wait for it or stop it, or choose another --name")

    def sync_study(self, up: bool, whole: bool = False) -> None:
        """For a remote experiment: copy its journal into the local one (`up` False), or append the local journal's
        new records to it (`up`), as an object of their own in STUDY_PARTS (object stores cannot append), or the
        whole journal as STUDY_FILE (`whole`), which replaces the parts. Appending keeps the bytes sent linear in
        the number of trials: a copy of the whole journal after each ask and tell was quadratic (bench/scale.py)."""
        if self.is_local:
            return
        journal = Path(self.study_journal)
        if not up:
            data = self.remote_journal()
            if data is not None:
                journal.write_bytes(data)
                _uploaded[str(journal)] = len(data)
            return
        if not journal.exists():
            return
        data = journal.read_bytes()
        data = data[:data.rfind(b"\n") + 1]  # whole records only
        done = _uploaded.get(str(journal), 0)
        if whole:
            self.write(STUDY_FILE, data)
            filesystem, path = fs.FileSystem.from_uri(f"{self.path}/{STUDY_PARTS}")
            with contextlib.suppress(FileNotFoundError):
                filesystem.delete_dir(path)
        elif len(data) > done:
            self.write(f"{STUDY_PARTS}/{done:015d}", data[done:])
        _uploaded[str(journal)] = len(data)

    def remote_journal(self) -> bytes | None:
        """The remote journal: STUDY_FILE, then the parts appended since, each named by its offset (a part that
        STUDY_FILE already holds, left by a driver killed as it replaced them, counts once); None if there is none."""
        data = self.read_bytes(STUDY_FILE)
        for name in filter(str.isdigit, entries(f"{self.path}/{STUDY_PARTS}", fs.FileType.File)):
            part, offset = self.read_bytes(f"{STUDY_PARTS}/{name}"), int(name)
            data = data or b""
            if offset <= len(data) < offset + len(part):
                data += part[len(data) - offset:]
        return data


_uploaded: dict[str, int] = {}  # a local journal of a remote experiment -> how many of its bytes the remote holds


def process_alive(pid: int) -> bool:
    """Whether a sweep's process `pid` runs on this machine (after a reboot the pid may be another program's)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    cmdline = Path(f"/proc/{pid}/cmdline")
    return not (cmdline.exists() and b"sweeps" not in cmdline.read_bytes() and b"python" not in cmdline.read_bytes())


def subfolders(path: str) -> list[str]:
    """Names of the folders in `path` (a local folder or a URI), sorted; none if it does not exist."""
    return entries(path, fs.FileType.Directory)


def entries(path: str, kind: fs.FileType) -> list[str]:
    """Names of the folders or files in `path` (a local folder or a URI), sorted; none if it does not exist."""
    filesystem, root = fs.FileSystem.from_uri(path if "://" in path else os.path.abspath(path))
    try:
        found = filesystem.get_file_info(fs.FileSelector(root))
    except FileNotFoundError:
        return []
    return sorted(e.path.rstrip("/").rsplit("/", 1)[-1] for e in found if e.type == kind)


def load_inputs(spec: SweepSpec, data_dir, cache_dir, offline: bool = False) -> tuple[Data, TrainedJudge | None]:
    """The sweep's (limited) data, its missing files downloaded unless `offline`, and, for families that need it,
    the judge trained on the full training partition."""
    from trainables.data import load_data
    from trainables.judge import load_judge

    full = load_data(spec.data.dataset, data_dir, offline=offline)
    judge = load_judge(full, cache_dir) if spec.family.needs_judge else None
    if judge is not None:
        log.info("judge: test accuracy %.2f%%", 100 * judge.accuracy)
    return full.limit(spec.data.limit), judge


def new_experiment(storage: str, name: str | None, model: str) -> Experiment:
    """A fresh experiment under `storage`: STORAGE/NAME, by default STORAGE/MODEL-DATE-TIME."""
    if name is not None and (not re.fullmatch(r"[A-Za-z0-9._-]+", name) or name in (".", "..")):
        raise SweepError(f"--name {name!r}: an experiment's name is one folder name of letters, digits, '-', '_' and "
                         "'.' (not '.' or '..'), e.g. gan-wide; --storage says where it goes")
    if "://" not in storage:
        folder = Path(storage).resolve()
        existing = next(p for p in (folder, *folder.parents) if p.exists())  # made when the sweep writes
        if not existing.is_dir() or not os.access(existing, os.W_OK | os.X_OK):
            raise SweepError(f"--storage {storage}: {existing} is {'a file' if existing.is_file() else 'not writable'}:"
                             " give a folder you can write to")
        storage = str(folder)
    experiment = Experiment(storage, name or f"{model}-{time.strftime('%Y%m%d-%H%M%S')}")
    experiment.check_unlocked()
    if experiment.read(SWEEP_FILE) is not None:
        raise SweepError(f"{experiment.path} already holds a sweep: `sweeps resume {shlex.quote(experiment.path)}` to go on with"
                         " it, or choose another --name")
    if not experiment.is_local:  # a local copy of a deleted experiment's journal would join the new study
        Path(experiment.study_journal).unlink(missing_ok=True)
        _uploaded.pop(experiment.study_journal, None)
    return experiment


def open_experiment(path: str) -> tuple[Experiment, SweepSpec]:
    """An existing experiment and its validated sweep file."""
    experiment = Experiment.at(path)
    text = experiment.read(SWEEP_FILE)
    if text is None:
        raise SweepError(f"no sweep at {path} (no {SWEEP_FILE}): give an experiment directory, see `sweeps list`")
    return experiment, read_spec(text, f"{experiment.path}/{SWEEP_FILE}")


def open_study_storage(journal: str):
    """The study as an append-only journal file, which `optuna-dashboard` and `optuna.load_study` open."""
    import optuna

    from experiments.internals import UnsyncedJournal

    return optuna.storages.JournalStorage(UnsyncedJournal(journal))


def load_latest_study(experiment: Experiment):
    """The experiment's Optuna study: its latest round's (`round-K`, which holds the earlier rounds' trials too), or
    the journal's only one, whatever the experiment was called when it started."""
    import optuna

    experiment.sync_study(up=False)
    journal = Path(experiment.study_journal)
    try:
        if not journal.is_file():
            raise FileNotFoundError("no such file")
        storage = open_study_storage(str(journal))
        names = optuna.get_all_study_names(storage)
        rounds = [n for n in names if re.fullmatch(r"round-\d+", n)]
        name = max(rounds, key=lambda n: int(n.split("-")[1])) if rounds else names[0] if len(names) == 1 else None
        return optuna.load_study(study_name=name, storage=storage)
    except Exception as e:  # whatever a damaged journal makes Optuna raise
        raise SweepError(f"the study {journal} of {experiment.path} is missing or damaged ({e}): copy the experiment "
                         "again from where it ran") from None

