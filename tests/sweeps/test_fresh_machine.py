"""A fresh machine without the data: the demo falls back to digits, the other verbs stop with the fix."""

import logging
import time
from pathlib import Path

import pytest
import yaml

from sweeps.cli import main
from tests.mirror import closed_port_url, serve_folder, silent_url
from tests.sweeps.test_cli import sweeps

SPECS = Path(__file__).parents[2] / "sweeps" / "specs"


def test_offline_train_and_run_exit_2_with_the_fix_and_no_request(tmp_path):
    empty, storage = tmp_path / "data", tmp_path / "runs"
    empty.mkdir()
    with serve_folder(empty) as (url, asked):  # a mirror that answers, so any request would show
        mirrors = {"SWEEPS_DATA_MIRRORS": url}
        train = sweeps("train", "ae", "--offline", "--data-dir", str(empty), env=mirrors)
        run = sweeps("run", str(SPECS / "ae.yaml"), "--preset", "smoke", "--offline", "--data-dir", str(empty),
                     "--storage", str(storage), env=mirrors)
    assert asked == []
    for done in (train, run):
        assert done.returncode == 2 and "Traceback" not in done.stderr
        assert "data error" in done.stderr and "--offline forbids downloading" in done.stderr
        assert str(empty / "MNIST" / "raw") in done.stderr and "--data-dir DIR" in done.stderr
    assert "--dataset digits" in train.stderr and "data: {dataset: digits}" in run.stderr
    assert not storage.exists() or not any(storage.iterdir())  # no experiment left behind
    assert list(empty.iterdir()) == []


def test_download_is_still_accepted_and_changes_nothing(tmp_path):
    done = sweeps("train", "ae", "--download", "--dataset", "digits", "--limit", "64", "--set", "epochs=1",
                  env={"SWEEPS_DATA_DIR": str(tmp_path)})
    assert done.returncode == 0, done.stderr


@pytest.mark.ray
def test_demo_falls_back_to_digits_where_no_mirror_answers(local_ray, tmp_path, monkeypatch, caplog):
    empty = tmp_path / "data"
    empty.mkdir()
    start = time.time()
    with silent_url() as silent:  # refused at once, then a server that never answers: the timeout ends it
        monkeypatch.setenv("SWEEPS_DATA_MIRRORS", f"{closed_port_url()},{silent}")
        with caplog.at_level(logging.INFO):
            status = main(["demo", "--preset", "smoke", "--models", "ae", "--data-dir", str(empty),
                           "--storage", str(tmp_path / "runs"), "--cache-dir", str(tmp_path / "cache")])
    assert status == 0
    said = [r for r in caplog.records if "bundled 8x8 digits" in r.getMessage()]
    assert len(said) == 1 and said[0].created - start < 30
    assert said[0].getMessage().startswith(f"no MNIST files in {empty / 'MNIST' / 'raw'} and no network: ")
    assert "--data-dir DIR" in said[0].getMessage()
    (root,) = (tmp_path / "runs").iterdir()
    assert (root / "report" / "index.html").is_file()
    assert yaml.safe_load((root / "ae" / "sweep.yaml").read_text())["data"]["dataset"] == "digits"
    assert list((empty / "MNIST" / "raw").iterdir()) == []
