"""Every bad input a user can give, one table row each: the exit status, the words the message must hold, and what
must be left as it was. A real finished sweep (real Ray, real data) is copied for each case and damaged."""

from __future__ import annotations

import gzip
import hashlib
import html
import json
import logging
import os
import pickle
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
import torch

from sweeps.cli import main
from tests.conftest import load_digits_28, write_idx
from tests.drivers import kill_after_first_trial

SPECS = Path(__file__).parents[2] / "sweeps" / "specs"


class Payload:
    """What an attacker plants: unpickling it creates the file MARKER (named by the environment)."""

    def __reduce__(self):
        return os.system, (f"touch {os.environ['SWEEPS_TEST_MARKER']}",)


@pytest.fixture
def marker(tmp_path, monkeypatch) -> Path:
    path = tmp_path / "PWNED"
    monkeypatch.setenv("SWEEPS_TEST_MARKER", str(path))
    return path


def trial_folders(experiment: Path) -> list[Path]:
    return sorted(p for p in experiment.iterdir() if (p / "params.json").exists())


def plant_in_experiment_state(experiment: Path) -> None:
    """A payload where Tune's experiment state keeps cloudpickled values: Ray's own loader unpickles it."""
    path = next(experiment.glob("experiment_state-*.json"))
    state = json.loads(path.read_text())
    trial = json.loads(state["trial_data"][0][0])
    trial["storage"] = {"_type": "CLOUDPICKLE_FALLBACK", "value": pickle.dumps(Payload()).hex()}
    state["trial_data"][0][0] = json.dumps(trial)
    path.write_text(json.dumps(state))


def plant_in_checkpoints(experiment: Path) -> None:
    for state in experiment.glob("*/checkpoint_*/state.pt"):
        torch.save({"epoch": 1, "model": Payload()}, state)


def truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: len(path.read_bytes()) // 2])


def truncate_record(experiment: Path) -> None:
    """Cut short Tune's experiment state and the driver's index of it."""
    truncate(first(experiment, "experiment_state-*.json"))
    truncate(first(experiment, "trial_index-*.json"))


def cut_short_while_running(experiment: Path) -> None:
    """Tune's experiment state cut short, as a driver killed while it copied the state left it before, and a trial
    still running by the driver's index."""
    index = first(experiment, "trial_index-*.json")
    trials = json.loads(index.read_text())
    trials[0][1] = "RUNNING"
    index.write_text(json.dumps(trials))
    truncate(first(experiment, "experiment_state-*.json"))


def first(experiment: Path, pattern: str) -> Path:
    return sorted(experiment.glob(pattern))[0]


@dataclass
class Case:
    name: str
    damage: Callable[[Path], None]  # done to a copy of the finished experiment
    argv: Callable[[Path], list[str]]  # the command, given the experiment's path
    status: int
    words: list[str] = field(default_factory=list)  # the message holds each
    writes: tuple[str, ...] = ()  # the command's own output files in the experiment


ANALYZED = ("trials.csv", "trials.parquet")  # what `analyze` writes


def experiment_cases() -> list[Case]:
    status = lambda e: ["status", str(e)]  # noqa: E731
    return [
        Case("experiment state and its index truncated", truncate_record, status, 2,
             ["experiment_state", "damaged", "copy the experiment again"]),
        Case("the driver's trial index truncated", lambda e: truncate(first(e, "trial_index-*.json")), status, 0,
             ["2 of 2 trials", "trials: 2 finished"]),  # read from Tune's state instead
        Case("the driver's trial index not a list of trials",
             lambda e: first(e, "trial_index-*.json").write_text('{"a": [1, 2, 3, {}]}'), status, 0,
             ["2 of 2 trials", "trials: 2 finished"]),
        Case("experiment state deleted", lambda e: first(e, "experiment_state-*.json").unlink(), status, 2,
             ["experiment_state", "holds trials"]),
        Case("newest experiment state empty, as a driver killed while it wrote it leaves it",
             lambda e: (e / "experiment_state-9999-12-31_23-59-59.json").write_bytes(b""), status, 0,
             ["2 of 2 trials", "trials: 2 finished"]),  # as the state before it left them
        Case("driver.json garbled, sweep done", lambda e: (e / "driver.json").write_text("{pid"), status, 0,
             ["state: done"]),  # a finished sweep needs no driver to tell its state
        Case("environment.json garbled", lambda e: (e / "environment.json").write_text("{"),  # a finished sweep's
             lambda e: ["extend", str(e), "--num-samples", "1"], 2, ["environment.json", "damaged"]),  # resume: none
        Case("sweep.yaml binary", lambda e: (e / "sweep.yaml").write_bytes(b"\xff\xfe\x00"), status, 2,
             ["sweep.yaml"]),
        Case("params.json garbled", lambda e: [(t / "params.json").write_text("{") for t in trial_folders(e)],
             lambda e: ["sample", str(e), "--out", str(e.parent / "s.npy"), "--n", "4"], 2, ["params.json"]),
        Case("a checkpoint truncated",
             lambda e: [truncate(p) for p in e.glob("*/checkpoint_*/state.pt")],
             lambda e: ["sample", str(e), "--out", str(e.parent / "s.npy"), "--n", "4"], 2, ["state.pt", "unreadable"]),
        Case("optuna.journal deleted", lambda e: (e / "optuna.journal").unlink(), lambda e: ["analyze", str(e)], 0,
             ["optuna.journal", "missing or damaged"], ANALYZED),
        Case("optuna.journal garbled", lambda e: (e / "optuna.journal").write_text("{not json\n"),
             lambda e: ["analyze", str(e)], 0, ["missing or damaged"], ANALYZED),
        Case("sample --n absurd", lambda e: None, lambda e: ["sample", str(e), "--n", "1000000000"], 2, ["--n", "at most"]),
        Case("sample --n beyond the test digits", lambda e: None,
             lambda e: ["sample", str(e), "--n", "100000", "--out", str(e.parent / "s.npy")], 2, ["test digits"]),
        Case("sample --out in a missing folder", lambda e: None,
             lambda e: ["sample", str(e), "--n", "4", "--out", str(e.parent / "no" / "s.npy")], 2, ["--out"]),
        Case("resume of a copy from elsewhere",
             lambda e: (e / "signatures.json").write_text("{}"), lambda e: ["resume", str(e)], 2, ["--trust"]),
        Case("resume from an experiment state cut short", cut_short_while_running,
             lambda e: ["resume", str(e), "--trust"], 2,  # not Tune's restart of the sweep in the same folder
             ["experiment_state-", "damaged", "would start the sweep over", "copy the experiment again"]),
        Case("resume without tuner.pkl", lambda e: (e / "tuner.pkl").unlink(), lambda e: ["resume", str(e)], 2,
             ["tuner.pkl", "cannot be resumed"]),
        Case("resume while another driver holds it",
             lambda e: (e / "driver.lock").write_text(json.dumps({"pid": os.getpid(), "host": os.uname().nodename})),
             lambda e: ["resume", str(e)], 2, ["being written", str(os.getpid())]),
    ]


def settled(folder: Path, quiet_s: float = 3.0) -> dict[str, str]:
    """The folder's snapshot once nothing has changed in it for `quiet_s` seconds."""
    last, since = snapshot(folder), time.monotonic()
    while time.monotonic() - since < quiet_s:
        time.sleep(0.5)
        now = snapshot(folder)
        if now != last:
            last, since = now, time.monotonic()
    return last


def snapshot(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha1(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.mark.ray
@pytest.mark.parametrize("case", experiment_cases(), ids=lambda c: c.name)
def test_a_damaged_experiment_gets_a_clear_message_and_stays_as_it_was(case, finished, real_source, tmp_path, capsys):
    experiment = tmp_path / "copy"
    shutil.copytree(finished, experiment)
    case.damage(experiment)
    before = snapshot(experiment)
    loads_data = case.argv(experiment)[0] in ("sample", "resume", "extend")
    status = main([*case.argv(experiment), *(real_source.dir_args if loads_data else [])])
    out = capsys.readouterr()
    message = out.out + out.err
    assert status == case.status, message
    assert "Traceback" not in message
    for word in case.words:
        assert word in message, message
    after = {name: digest for name, digest in snapshot(experiment).items() if name not in case.writes}
    assert after == before  # nothing else written into the damaged experiment


@pytest.mark.ray
def test_no_command_runs_code_planted_in_an_experiment(finished, real_source, marker, tmp_path, capsys):
    experiment = tmp_path / "planted"
    shutil.copytree(finished, experiment)
    plant_in_experiment_state(experiment)
    plant_in_checkpoints(experiment)
    for argv in (["status", str(experiment)], ["list", str(tmp_path)], ["analyze", str(experiment)],
                 ["sample", str(experiment), "--n", "4", "--out", str(tmp_path / "s.npy"), *real_source.dir_args],
                 ["report", str(experiment), "--out", str(tmp_path / "report"), *real_source.dir_args]):
        main(argv)
        assert not marker.exists(), argv
    capsys.readouterr()
    # and the payloads are live: Ray's own reader of the experiment state, and an unsafe torch.load, run them
    from ray.tune import ExperimentAnalysis

    try:
        ExperimentAnalysis(str(experiment))
    except Exception:
        pass
    assert marker.exists()
    marker.unlink()
    torch.load(first(experiment, "*/checkpoint_*/state.pt"), weights_only=False)
    assert marker.exists()


@pytest.mark.ray
def test_report_leaves_out_a_trial_whose_checkpoint_is_unreadable(finished, real_source, tmp_path, caplog):
    experiment = tmp_path / "one-bad"
    shutil.copytree(finished, experiment)
    from analysis import load_experiment

    worst = load_experiment(str(experiment))["trial_id"].iloc[-1]  # not the best: its figures need the best
    for state in (experiment / worst).glob("checkpoint_*/state.pt"):
        truncate(state)
    status = main(["report", str(experiment), "--out", str(tmp_path / "report"), *real_source.dir_args])
    assert status == 0 and (tmp_path / "report" / "index.html").exists()
    assert f"no thumbnail of trial {worst}" in caplog.text


@pytest.mark.ray
def test_a_moved_experiment_analyses_and_resumes_in_its_new_place(finished, real_source, tmp_path, capsys, caplog):
    original = tmp_path / "original"
    shutil.copytree(finished, original)
    before = snapshot(original)
    moved = tmp_path / "elsewhere" / "renamed"
    shutil.copytree(original, moved)
    assert main(["analyze", str(moved)]) == 0
    caplog.set_level(logging.INFO, logger="sweeps")
    done = snapshot(moved)
    assert main(["resume", str(moved), *real_source.dir_args]) == 0
    out = capsys.readouterr().out
    assert "2 of 2 trials" in out and "every trial has ended, nothing to resume" in caplog.text
    assert snapshot(moved) == done  # no driver started: Tune's would have saved a state of its own
    assert snapshot(original) == before  # the original untouched


def data_folder(root: Path, labels: np.ndarray | None = None, images: np.ndarray | None = None) -> Path:
    """A folder holding MNIST's test split as gzipped IDX files, of the bundled digits."""
    digits, digit_labels = load_digits_28()
    raw = root / "MNIST" / "raw"
    raw.mkdir(parents=True)
    pixels = (digits[:, 0] * 255).round().to(torch.uint8).numpy()
    write_idx(raw / "t10k-images-idx3-ubyte.gz", pixels if images is None else images)
    write_idx(raw / "t10k-labels-idx1-ubyte.gz", digit_labels.to(torch.uint8).numpy() if labels is None else labels)
    return root


def data_cases() -> list[tuple[str, Callable[[Path], None], list[str]]]:
    def cut_gzip(root: Path) -> None:
        truncate(root / "MNIST/raw/t10k-images-idx3-ubyte.gz")

    def not_gzip(root: Path) -> None:
        (root / "MNIST/raw/t10k-images-idx3-ubyte.gz").write_bytes(b"\x1f\x8b" + b"garbage" * 100)

    def labels_are_images(root: Path) -> None:
        raw = root / "MNIST/raw"
        shutil.copy(raw / "t10k-images-idx3-ubyte.gz", raw / "t10k-labels-idx1-ubyte.gz")

    def labels_out_of_range(root: Path) -> None:
        labels = np.full(len(load_digits_28()[1]), 12, dtype=np.uint8)
        write_idx(root / "MNIST/raw/t10k-labels-idx1-ubyte.gz", labels)

    return [("gzip cut short", cut_gzip, ["damaged", "fetch it again"]),
            ("not gzip", not_gzip, ["damaged"]),
            ("labels file holds images", labels_are_images, ["matching", "labels"]),
            ("labels out of range", labels_out_of_range, ["outside 0-9"])]


@pytest.mark.parametrize("name, damage, words", data_cases(), ids=[c[0] for c in data_cases()])
def test_damaged_data_files_exit_2_naming_the_file(name, damage, words, tmp_path, capsys):
    root = data_folder(tmp_path / "data")
    damage(root)
    status = main(["train", "ae", "--data-dir", str(root), "--offline", "--limit", "64", "--set", "epochs=1"])
    err = capsys.readouterr().err
    assert status == 2, err
    assert "MNIST/raw/t10k-" in err and all(w in err for w in words), err


@pytest.mark.parametrize("argv, words", [
    (["run", "BINARY", "--check"], ["not a text file"]),
    (["run", str(SPECS / "ae.yaml"), "--check", "--set", "num_samples=1e23"], ["num_samples"]),
    (["run", str(SPECS / "ae.yaml"), "--check", "--set", "search.lr.high=.inf"], ["finite"]),
    (["run", str(SPECS / "ae.yaml"), "--check", "--set", "fixed.epochs=1e9"], ["fixed.epochs"]),
    (["run", str(SPECS / "ae.yaml"), "--check", "--set", "data.limit=1"], ["data.limit"]),
    (["run", str(SPECS / "ae.yaml"), "--name", "../escaped"], ["--name", "one folder name"]),
    (["run", str(SPECS / "ae.yaml"), "--name", "a/b"], ["--name"]),
    (["run", str(SPECS / "ae.yaml"), "--name", "."], ["--name"]),
    (["run", str(SPECS / "ae.yaml"), "--storage", "FILE"], ["--storage"]),
    (["train", "ae", "--dataset", "digits", "--limit", "1"], ["--limit", "at least 20 images"]),
], ids=["binary sweep file", "absurd num_samples", "infinite bound", "absurd epochs", "limit 1", "name escapes",
        "name with a slash", "name dot", "storage is a file", "train limit 1"])
def test_bad_arguments_exit_2_before_anything_is_written(argv, words, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "BINARY").write_bytes(b"\x00\xff\xfe\x80" * 10)
    (tmp_path / "FILE").write_text("not a folder")
    before = sorted(p.name for p in tmp_path.iterdir())
    try:
        status = main([*argv, *(["--storage", str(tmp_path / "runs")] if "--name" in argv else [])])
    except SystemExit as exit:  # argparse's own usage errors
        status = exit.code
    err = capsys.readouterr().err
    assert status == 2, err
    assert all(w in err for w in words), err
    assert sorted(p.name for p in tmp_path.iterdir()) == before
    assert not (tmp_path / "escaped").exists()


def test_a_second_run_of_the_same_name_is_refused_while_the_first_runs(tmp_path, capsys):
    experiment = tmp_path / "busy"
    (experiment).mkdir()
    (experiment / "driver.lock").write_text(json.dumps({"pid": os.getpid(), "host": os.uname().nodename}))
    status = main(["run", str(SPECS / "ae.yaml"), "--preset", "smoke", "--storage", str(tmp_path), "--name", "busy",
                   "--set", "data.dataset=digits"])
    err = capsys.readouterr().err
    assert status == 2 and "being written" in err, err
    assert not (experiment / "sweep.yaml").exists()  # the running sweep's files untouched


def test_a_stale_lock_is_taken_over(tmp_path):
    from experiments.experiment import Experiment

    experiment = Experiment(str(tmp_path), "stale")
    (tmp_path / "stale").mkdir()
    (tmp_path / "stale" / "driver.lock").write_text(json.dumps({"pid": 2**22 + 1, "host": os.uname().nodename}))
    with experiment.lock():
        assert json.loads((tmp_path / "stale" / "driver.lock").read_text())["pid"] == os.getpid()
    assert not (tmp_path / "stale" / "driver.lock").exists()


def test_gzip_helper_writes_what_the_reader_reads(tmp_path):
    """The damaged-data cases start from a folder the reader accepts."""
    from trainables.data import load_data

    assert len(load_data("mnist", data_folder(tmp_path), offline=True).test) > 0
    with gzip.open(tmp_path / "MNIST/raw/t10k-labels-idx1-ubyte.gz") as f:
        assert f.read(4) == bytes([0, 0, 8, 1])


@pytest.mark.ray
def test_list_shows_every_experiment_and_names_the_unreadable_one(finished, tmp_path, capsys):
    shutil.copytree(finished, tmp_path / "good")
    shutil.copytree(finished, tmp_path / "bad")
    truncate_record(tmp_path / "bad")
    assert main(["list", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "good" in out and "done" in out
    assert "bad" in out and "unreadable" in out


@pytest.mark.ray
def test_the_report_escapes_an_experiment_s_name_and_encodes_its_images(finished, real_source, tmp_path):
    name = 'x"><script>alert(1)</script> #1'  # a folder renamed by hand: names a sweep makes are plainer
    shutil.copytree(finished, tmp_path / name)
    assert main(["report", str(tmp_path / name), "--out", str(tmp_path / "report"), *real_source.dir_args]) == 0
    page = (tmp_path / "report" / "index.html").read_text()
    assert "<script>" not in page and "&lt;script&gt;" in page
    sources = re.findall(r'<img src="([^"]+)"', page)
    assert sources and all("#" not in s and " " not in s for s in sources)
    for source in sources:  # each link finds its image
        assert (tmp_path / "report" / urllib.parse.unquote(html.unescape(source))).is_file(), source


def test_ctrl_c_as_the_sweep_starts_exits_130_and_says_what_is_left(tmp_path):
    command = [sys.executable, "-m", "sweeps.cli", "run", str(SPECS / "ae.yaml"), "--preset", "smoke",
               "--storage", str(tmp_path), "--name", "early", "--set", "data.dataset=digits"]
    driver = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    for line in driver.stdout:
        if line.startswith("sweep "):  # the moment Ctrl-C was once ignored
            driver.send_signal(signal.SIGINT)
            break
    rest = driver.stdout.read()
    assert driver.wait(timeout=120) == 130, rest
    assert "Traceback" not in rest
    assert "sweeps resume" in rest or "nothing ran" in rest


@pytest.mark.ray
def test_an_interrupted_sweep_moved_elsewhere_resumes_there_and_leaves_the_original(real_source, tmp_path):
    """Kill a driver mid-sweep, copy its experiment to another folder under another name, resume the copy: it ends
    with every trial, and the original (still there) is not written to."""
    original = tmp_path / "runs" / "first"
    kill_after_first_trial(["run", str(SPECS / "ae.yaml"), "--storage", str(tmp_path / "runs"), "--name", "first",
                            *real_source.sweep_args, "--set", "num_samples=3", "--set", "fixed.epochs=3",
                            "--set", "scheduler={type: none}", "--set", "data.limit=300", "--set", "max_concurrent=1"],
                           tmp_path / "run.out")
    before = settled(original)  # the killed run's workers may write a last checkpoint as they die
    moved = tmp_path / "elsewhere" / "second"
    shutil.copytree(original, moved)
    resumed = subprocess.run([sys.executable, "-m", "sweeps.cli", "resume", str(moved), "--trust",
                              *real_source.dir_args], capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    from analysis import load_experiment

    trials = load_experiment(str(moved))
    assert len(trials) == 3 and set(trials["status"]) == {"finished"}
    assert snapshot(original) == before


def test_checkpoints_of_the_earlier_version_still_load_and_resume(tmp_path):
    """Before RNG states were tensors, numpy's was pickled as an array: weights-only loading accepts plain arrays."""
    import random

    from trainables.state import load_state, restore

    network = torch.nn.Linear(2, 2)
    earlier = {"epoch": 4, "rng": {"python": random.getstate(), "numpy": np.random.get_state(),
                                   "torch": torch.get_rng_state()}, "model": network.state_dict()}
    torch.save(earlier, tmp_path / "state.pt")
    expected = np.random.rand()
    np.random.rand(5)
    assert restore(load_state(tmp_path / "state.pt"), model=network) == 4
    assert np.random.rand() == expected
