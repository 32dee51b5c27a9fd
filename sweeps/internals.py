"""Every private Ray and Optuna API the launcher uses, each with why no public one does the job (the storage
layer's: experiments/internals.py).

pyproject.toml bounds Ray and Optuna to the versions these are tested with; tests/test_structure.py fails,
naming the module, where one of them moved.
"""

from __future__ import annotations

import heapq
import json
import os
import posixpath
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from itertools import chain
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import TrialState
from ray.train._internal import checkpoint_manager
from ray.train._internal import storage as ray_storage
from ray.train._internal.storage import _delete_fs_path, _FilesystemSyncer
from ray.tune import Callback
from ray.tune.execution.experiment_state import _ExperimentCheckpointManager
from ray.tune.execution.tune_controller import TuneController
from ray.tune.logger import JsonLoggerCallback

from experiments.experiment import trial_index_name

# Where each internal lives, for the test that checks they are all still there.
USED = {
    "ray._raylet": ["GcsClient"],
    "ray._private.services": ["canonicalize_bootstrap_address"],
    "ray._private.authentication.authentication_token_setup": ["maybe_enable_token_auth_if_token_available"],
    "ray.train._internal.storage": ["get_fs_and_path", "_delete_fs_path", "_upload_to_fs_path",
                                    "_FilesystemSyncer._sync_up_command"],
    "ray.train._internal.checkpoint_manager": ["_delete_fs_path"],
    "ray.tune.search.optuna": ["OptunaSearch._ot_study", "OptunaSearch._ot_trials"],
    "optuna.trial": ["FrozenTrial._trial_id"],
    "ray.tune.search": ["SearchGenerator._experiment"],
    "ray.tune.logger": ["JsonLoggerCallback._restore_from_remote"],
    "ray.air.integrations.wandb": ["WandbLoggerCallback._trial_logging_actors"],
    "ray.tune.execution.tune_controller": ["TuneController._maybe_reuse_cached_actor"],
    "ray.tune.execution.experiment_state": ["_ExperimentCheckpointManager.on_trial_checkpoint",
                                            "_ExperimentCheckpointManager._update_auto_checkpoint_time",
                                            "_ExperimentCheckpointManager.sync_up_experiment_state"],
    "optuna.samplers": ["TPESampler._sample"],
    "optuna.study": ["Study._get_trials", "Study._is_multi_objective", "Study._study_id", "Study._storage"],
}


def check_gcs(address: str) -> None:
    """Connect to the Ray head's GCS once: `ray.init` retries for a minute, then blames the network, where
    something else listens or a token is missing; this fails at once with RpcError or AuthenticationError."""
    from ray._raylet import GcsClient

    GcsClient(address=address)


def auto_address() -> str:
    """The address of the cluster this machine is a node of, with the token Ray would use for it (what
    `ray.init(address="auto")` resolves, without connecting); ConnectionError where none runs here."""
    from ray._private.authentication.authentication_token_setup import maybe_enable_token_auth_if_token_available
    from ray._private.services import canonicalize_bootstrap_address

    maybe_enable_token_auth_if_token_available(warn_if_disabled=False)
    return canonicalize_bootstrap_address("auto")


def has_experiment(generator: Any) -> bool:
    """Whether a `SearchGenerator` holds an experiment (set once Tune started it)."""
    return generator._experiment is not None


def rebase_generator(generator: Any, storage: str, name: str) -> None:
    """Point a restored `SearchGenerator`'s experiment storage at STORAGE/NAME: Ray 2.60 restores the one pickled
    with it, and offers no way to change it. The filesystem and path are resolved as Tune resolves `storage_path`."""
    from ray.train._internal.storage import get_fs_and_path

    filesystem, path = get_fs_and_path(storage)
    context = generator._experiment.storage
    context.storage_filesystem, context.storage_fs_path, context.experiment_dir_name = filesystem, path, name


def study_of(searcher: Any):
    """The Optuna study inside Ray's OptunaSearch (no accessor)."""
    return searcher._ot_study


def reopen_study(searcher: Any, study) -> None:
    """Give Ray's OptunaSearch another handle on its study (the journal where the experiment is now), keeping its
    Tune trial -> Optuna trial map for the trials the study holds."""
    import optuna

    stored = {trial._trial_id for trial in study.get_trials(deepcopy=False)}  # FrozenTrial exposes no storage id
    searcher._ot_trials = {tid: optuna.Trial(study, t._trial_id) for tid, t in searcher._ot_trials.items()
                           if t._trial_id in stored}
    searcher._ot_study = study


def forget_trial(searcher: Any, trial_id: str) -> None:
    """Drop a finished trial from Ray's OptunaSearch's map, which it pickles with every save of the experiment
    state: kept, 10,000 trials made each save slower (the study keeps the trial)."""
    searcher._ot_trials.pop(trial_id, None)


def asked_trials(searcher: Any) -> list:
    """The Optuna trials Ray's OptunaSearch asked for its Tune trials."""
    return list(searcher._ot_trials.values())


def optuna_trial_of(searcher: Any, trial_id: str):
    """The Optuna trial Ray's OptunaSearch asked for Tune trial `trial_id`, or None."""
    return searcher._ot_trials.get(trial_id)


class KeptResults(JsonLoggerCallback):
    """Tune's writer of each trial's result.json, which on every restart of a trial (a retry after a failure, a
    population-based exploit) copies the trial's result.json back from the experiment's storage over the driver's
    own copy. Storage's copy lags by the last seconds' reports (Ray 2.60 syncs it now and then), so epochs were
    lost from the file the analysis reads. The driver's copy, where it has one, is complete and is kept; a new
    driver (a resumed sweep), which has none, still fetches storage's."""

    def _restore_from_remote(self, file_name: str, trial) -> None:
        if not Path(trial.local_path, file_name).exists():
            super()._restore_from_remote(file_name, trial)


class EndWandbRuns(Callback):
    """Ends the W&B run of each trial a stopped sweep leaves unfinished, ahead of Ray's WandbLoggerCallback
    (`wandb`). Ray 2.60's ends a trial's run only when the trial completes or errors, and at the experiment's end
    waits for every run, up to its upload_timeout of 30 minutes: a sweep stopped by Ctrl-C or by its time budget
    hung that long."""

    def __init__(self, wandb: Any):
        self.wandb = wandb

    def on_experiment_end(self, trials: list, **info) -> None:
        for trial in trials:
            if trial in self.wandb._trial_logging_actors:  # its run is still open (no public accessor)
                self.wandb.log_trial_end(trial)


class WindowedTPE(optuna.samplers.TPESampler):
    """TPE that models at most `window` trials: the 25 best (TPE's "good" group never holds more) and the most
    recent others, and every running one. TPE's ask walks every trial in Python, 110 ms at 10,000 trials
    (bench/scale.py); below `window` trials it is Optuna's TPE unchanged. Optuna offers no such bound; its `_sample`
    is where every suggestion reads the study's trials."""

    def __init__(self, *, window: int = 1000, **kwargs):
        super().__init__(**kwargs)
        self.window = window
        self.folded: dict = {}  # what Window keeps between asks

    def __getstate__(self) -> dict:
        return self.__dict__ | {"folded": {}}  # rebuilt at the next ask: not saved with Tune's state

    def _sample(self, study, trial, search_space: dict) -> dict:
        return super()._sample(Window(study, self.window, self.__dict__.setdefault("folded", {})), trial, search_space)


class Window:
    """A study that shows TPE at most `size` finished trials (see WindowedTPE). The study lists its trials by
    number and a finished trial never changes: the leading ones that have all finished are folded once into a
    Prefix kept in `folded`, and each ask walks only the trials from the oldest unfinished one on. Walking all of
    them four times an ask was a sixth of a 10,000-trial driver's time."""

    def __init__(self, study, size: int, folded: dict | None = None):
        self.study, self.size, self.folded = study, size, {} if folded is None else folded

    def __getattr__(self, name: str):
        return getattr(self.study, name)

    def _get_trials(self, *args, **kwargs) -> list:
        trials = self.study._get_trials(*args, **kwargs)
        if self.study._is_multi_objective():
            return trials
        sign = 1 if self.study.direction == optuna.study.StudyDirection.MINIMIZE else -1
        key = (self.study._storage, self.study._study_id, repr(args), repr(sorted(kwargs.items())))
        prefix = self.folded.get(key)
        if prefix is None or not prefix.leads(trials):
            prefix = self.folded[key] = Prefix(self.size, lambda t: sign * t.value)
        prefix.extend(trials)
        rest = trials[prefix.count:]
        finished = [t for t in rest if t.state.is_finished()]
        if prefix.count + len(finished) <= self.size:
            return trials
        best = prefix.best_of([t for t in finished if t.state == TrialState.COMPLETE])
        chosen = {t.number for t in best}
        recent = [t for t in chain(reversed(finished), reversed(prefix.last)) if t.number not in chosen]
        shown = best + recent[:self.size - len(chosen)] + [t for t in rest if not t.state.is_finished()]
        return sorted(shown, key=lambda t: t.number)


class Prefix:
    """The leading trials of a study's list that have all finished: how many, the number of the last, their 25 best
    by `key`, and the last `keep` of them (a window's size: its recent trials, past any of the 25 best among them)."""

    def __init__(self, keep: int, key):
        self.count, self.number, self.best, self.last, self.key = 0, None, [], deque(maxlen=keep), key

    def leads(self, trials: list) -> bool:
        """Still the first `count` of `trials`: a trial listed ahead of them since (one enqueued, then run) shifts
        them, and a finished trial never leaves the list."""
        return self.count == 0 or (len(trials) >= self.count and trials[self.count - 1].number == self.number)

    def best_of(self, complete: list) -> list:
        """The 25 best of these completed trials and the prefix's, ties to the earlier."""
        return heapq.nsmallest(25, self.best + complete, key=self.key)

    def extend(self, trials: list) -> None:
        """Fold in the trials that now lead the list, all finished."""
        start = self.count
        while self.count < len(trials) and trials[self.count].state.is_finished():
            self.count += 1
        if self.count > start:
            added = trials[start:self.count]
            self.number = added[-1].number
            self.best = self.best_of([t for t in added if t.state == TrialState.COMPLETE])
            self.last.extend(added)


ADAPTIVE_MIN_S = 1.0  # the shortest period between saves of Tune's experiment state
STATE_BYTES_PER_S = 1.5e6  # Tune's experiment state sent to storage, on average at most: 91 s apart at 10,000 trials
_dropped: list = []  # (filesystem, path) of the checkpoints Tune dropped since it last saved its experiment state
_unnamed: list = []  # those dropped before that save: no state saved since names them
_SYNC_UP = _ExperimentCheckpointManager.sync_up_experiment_state  # Ray's, which the one below wraps


def save_period(time_taken: float, state_bytes: int) -> float:
    """Seconds from one save of Tune's experiment state to the next: ADAPTIVE_MIN_S, 19 times as long as the last
    save took (at most 5% of the driver's time), or as long as the state takes to send at STATE_BYTES_PER_S, where
    longer. Each save sends the whole state, which grows with the trials: saved every few seconds, 10,000 trials
    sent 13.4 GB in 30 minutes, where 1,000 sent 157 MB in 2. A staler state costs a resume more trials restored
    from their own checkpoints."""
    return max(ADAPTIVE_MIN_S, time_taken * 19, state_bytes / STATE_BYTES_PER_S)


def save_experiment_state_adaptively() -> None:
    """Save Tune's experiment state as often as save_period says, however many trials the state holds. Ray's own
    adaptive period never goes under 10 s, and with CheckpointConfig(num_to_keep) Ray also saves after every
    trial's checkpoint, so that the state never names a checkpoint it deleted since: at 10,000 trials that is a
    save of megabytes dozens of times a second. Here a checkpoint Tune drops is deleted only once a state saved
    after the drop is uploaded (at the next save, or the run's end: delete_unnamed_checkpoints), so a killed
    driver's last state names none."""
    def update(manager, time_taken: float) -> None:
        if manager.auto_checkpoint_enabled:
            manager._checkpoint_period = save_period(time_taken, getattr(manager, "state_bytes", 0))

    def sync_up(manager, save_fn, force: bool = False, wait: bool = False) -> None:
        def save() -> None:
            try:
                manager._storage.syncer.wait()
            except Exception:  # that upload failed (Tune logs it): the state that names nothing dropped is not up
                pass
            else:
                delete_unnamed_checkpoints()
            _unnamed.extend(_dropped)
            _dropped.clear()
            controller, staging = save_fn.__self__, Path(manager._storage.experiment_driver_staging_path)
            write_trial_index(controller, staging)
            save_fn()
            manager.state_bytes = (staging / controller.experiment_state_file_name).stat().st_size

        _SYNC_UP(manager, save, force, wait)

    _ExperimentCheckpointManager.on_trial_checkpoint = lambda manager, trial: None
    _ExperimentCheckpointManager._update_auto_checkpoint_time = update
    _ExperimentCheckpointManager.sync_up_experiment_state = sync_up
    checkpoint_manager._delete_fs_path = lambda fs, fs_path: _dropped.append((fs, fs_path))


UPLOADERS = 16  # files sent at once: an object store answers each after a round trip
_sent: dict[str, dict[str, tuple[int, int]]] = {}  # "folder target" -> each file's (size, mtime) when last sent
_SYNC_UP_COMMAND = _FilesystemSyncer._sync_up_command  # Ray's, which the one below replaces where nothing is excluded


def upload_changes_whole() -> None:
    """After each save of its experiment state Tune sends the driver's whole folder: the state, the searcher's, and
    every trial's logs (result.json, progress.csv, params), all of them every time, so that the bytes sent grow as
    the trials times the saves. Each file is written in place: a driver killed mid-copy leaves its experiment state
    cut short on a filesystem, Tune's restore cannot read it and starts the sweep over in the same folder (a
    10,000-trial sweep killed at 5,190 finished trials ran one trial more and ended). Here only the files changed
    since they were last sent go (rsync's size-and-time check), Tune's experiment state last; on a filesystem
    (a local or shared folder, file://) each is written under a hidden name and renamed into place, as an object
    store's upload appears whole already."""
    def command(syncer, local_path: str, uri: str, exclude: list | None = None):
        if exclude:
            return _SYNC_UP_COMMAND(syncer, local_path, uri, exclude)
        return upload_changes, dict(local_path=local_path, fs=syncer.storage_filesystem, fs_path=uri)

    _FilesystemSyncer._sync_up_command = command


def upload_changes(local_path: str, fs, fs_path: str) -> None:
    """Send the files of `local_path` changed since this process last sent them, UPLOADERS at a time, and Tune's
    experiment state once the rest are up (see upload_changes_whole)."""
    sent, renamed = _sent.setdefault(f"{local_path} {fs_path}", {}), fs.type_name == "local"
    changed = {}  # name -> (size, mtime)
    for folder, _, names in os.walk(local_path):
        for name in names:
            try:
                stat = os.stat(os.path.join(folder, name))
            except FileNotFoundError:  # replaced or deleted since the walk
                continue
            name = os.path.relpath(os.path.join(folder, name), local_path)
            if sent.get(name) != (stat.st_size, stat.st_mtime_ns):
                changed[name] = (stat.st_size, stat.st_mtime_ns)

    def send(name: str) -> None:
        target = posixpath.join(fs_path, name)
        draft = posixpath.join(posixpath.dirname(target), f".{posixpath.basename(target)}.partial")
        ray_storage._upload_to_fs_path(os.path.join(local_path, name), fs, draft if renamed else target)
        if renamed:
            fs.move(draft, target)
        sent[name] = changed[name]

    states = [name for name in changed if name.startswith("experiment_state-")]
    with ThreadPoolExecutor(UPLOADERS) as pool:
        list(pool.map(send, [name for name in changed if name not in states]))
    for name in states:
        send(name)


def write_trial_index(controller: TuneController, folder: Path) -> None:
    """Write, beside the experiment state Tune is about to save, what `sweeps status` reads of it: each trial's id,
    status, folder and config, as plain JSON. Tune's state holds 13 kB a trial, most of it the trial's pickled
    metadata: 137 MB at 10,000 trials, 1.7 s to parse. Written first, so it is never older than the state it names
    (a driver killed between the two leaves it newer)."""
    trials = [[t.trial_id, t.status, t.relative_logdir, t.config] for t in controller.get_trials()]
    name = trial_index_name(controller.experiment_state_file_name)
    folder.mkdir(parents=True, exist_ok=True)
    draft = folder / f".{name}"
    draft.write_text(json.dumps(trials, separators=(",", ":"), default=repr))
    draft.replace(folder / name)  # whole or not at all: a kill mid-write leaves the last index


def delete_unnamed_checkpoints() -> None:
    """Delete the dropped checkpoints that no state saved since names: call it once that state is uploaded."""
    for filesystem, path in _unnamed:
        _delete_fs_path(filesystem, path)
    _unnamed.clear()


_REUSE = TuneController._maybe_reuse_cached_actor  # Ray's, which the one below guards


def keep_starting_actors() -> None:
    """A trial whose actor Ray is starting keeps it, rather than taking a cached one (an ended trial's) and having
    its own removed, as Tune does: where trials end faster than Ray starts workers (two at a time, a few seconds
    each), the actors that came up first were reused over and over and 3 to 8 trials ran of the 16 to 64 allowed.
    A trial that has no actor yet still takes a cached one."""
    def reuse(controller, trial) -> bool:
        if trial in controller._trial_to_actor and trial not in controller._resetting_trials:
            return False
        return _REUSE(controller, trial)

    TuneController._maybe_reuse_cached_actor = reuse
