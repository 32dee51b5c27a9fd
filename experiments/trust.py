"""Signatures of the experiment files that Ray unpickles on `sweeps resume`, so that resuming runs no code that this
user's own runs did not write: every other command reads tensors and plain JSON only."""

from __future__ import annotations

import fnmatch
import hashlib
import hmac
import json
import os
import secrets

from experiments.errors import SweepError
from experiments.experiment import Experiment
from trainables.data import default_cache_dir

SIGNATURES_FILE = "signatures.json"
PICKLED = ("tuner.pkl", "searcher-state-*.pkl", "experiment_state-*.json", "search_gen_state-*.json")


def signing_key() -> bytes:
    """This user's key, made on first use (readable by the user only)."""
    path = default_cache_dir() / "signing.key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        draft = path.with_name(f"{path.name}.{os.getpid()}")
        with os.fdopen(os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb") as out:
            out.write(secrets.token_bytes(32))
        try:  # whole, or not at all: another process never reads a key half written
            os.link(draft, path)
        except FileExistsError:  # another process made it meanwhile
            pass
        finally:
            draft.unlink()
    return path.read_bytes()


def pickled_files(experiment: Experiment) -> list[str]:
    return [name for name in experiment.files() if any(fnmatch.fnmatch(name, p) for p in PICKLED)]


def signatures(experiment: Experiment, key: bytes) -> dict[str, str]:
    return {name: hmac.new(key, experiment.read_bytes(name) or b"", hashlib.sha256).hexdigest()
            for name in pickled_files(experiment)}


def sign(experiment: Experiment) -> None:
    """Sign the files Ray will unpickle on resume, as they are now (after Tune's last save: a driver killed mid-sweep
    leaves newer files unsigned, and its experiment resumes with --trust only)."""
    experiment.write(SIGNATURES_FILE, json.dumps(signatures(experiment, signing_key()), indent=1))


def check_resumable(experiment: Experiment, trust: bool = False) -> None:
    """Refuse to resume an experiment without Tune's state, or (unless `trust`) whose pickled files this user's runs
    did not write as they are now."""
    if experiment.read_bytes("tuner.pkl") is None:
        raise SweepError(f"{experiment.path} has no tuner.pkl, Tune's record of how to go on: it cannot be resumed. "
                         "Its finished trials stay readable (status, analyze, report); start a new sweep for more")
    if trust:
        return
    try:
        signed = json.loads(experiment.read(SIGNATURES_FILE) or "{}")
    except ValueError:
        signed = {}
    now = signatures(experiment, signing_key())
    changed = sorted(name for name, mac in now.items() if not hmac.compare_digest(mac, str(signed.get(name, ""))))
    if changed:
        raise SweepError(
            f"resume unpickles Ray's state in {experiment.path}, and {', '.join(changed)} "
            f"{'was' if len(changed) == 1 else 'were'} not written as they are now by a sweep of this user on this "
            "machine: it was copied from another machine or user, changed since, or its driver was killed before it "
            "could sign them (kill -9, a lost head). Unpickling can run any code: if you trust every hand that "
            "could write there, `sweeps resume --trust`. Every other "
            "command (status, analyze, report, sample) reads plain data only and is safe on it."
        )
