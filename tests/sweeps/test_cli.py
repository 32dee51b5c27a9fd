"""`sweeps train` as a user runs it: a real process, real data."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.mirror import closed_port_url


def sweeps(*args, env=None):
    return subprocess.run(
        [sys.executable, "-m", "sweeps.cli", *args],
        capture_output=True, text=True, timeout=300, env={**os.environ, **(env or {})},
    )


SMALLER = {"glo": ["--set", "eval_size=128", "--set", "encode_steps=5"]}  # fewer samples scored, shorter encodings


@pytest.mark.parametrize("model", ["ae", "glo"])
def test_train_prints_metrics_per_epoch(model, real_source, real_data, cache_dir):
    done = sweeps(
        "train", model, *real_source.train_args, "--limit", "128", "--cache-dir", str(cache_dir),
        "--set", "epochs=2", "--set", "latent_dim=8", "--set", "batch_size=16", *SMALLER.get(model, []),
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("epoch 1/2") and lines[1].startswith("epoch 2/2")
    assert ("fid" if model == "glo" else "val_psnr") in lines[1]
    if real_source.dataset == "mnist" and real_data.notice:  # the files hold one split: the partition notice
        assert real_data.notice in done.stderr
    assert f"{model} on {real_source.dataset}: 128 train" in done.stderr


def test_train_on_digits_needs_no_files(tmp_path):
    done = sweeps("train", "ae", "--dataset", "digits", "--limit", "64", "--set", "epochs=1",
                  env={"SWEEPS_DATA_DIR": str(tmp_path)})
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("epoch 1/1")


def test_bad_settings_exit_2_listing_every_problem():
    done = sweeps("train", "gan", "--dataset", "digits", "--set", "lr_g=-1", "--set", "latnt_dim=3", "--set", "x")
    assert done.returncode == 2
    assert "`x`: expected KEY=VALUE" in done.stderr
    done = sweeps("train", "gan", "--dataset", "digits", "--set", "lr_g=-1", "--set", "latnt_dim=3")
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "`lr_g` = '-1'" in done.stderr and "did you mean `latent_dim`" in done.stderr


def test_missing_data_exits_2_with_the_way_out(tmp_path):
    done = sweeps("train", "ae", "--data-dir", str(tmp_path), env={"SWEEPS_DATA_MIRRORS": closed_port_url()})
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "--dataset digits" in done.stderr and str(tmp_path) in done.stderr
    assert "none could be downloaded" in done.stderr and "SWEEPS_DATA_MIRRORS" in done.stderr


def test_help_lists_every_models_fields():
    done = sweeps("train", "--help")
    assert done.returncode == 0
    for field in ("noise_std", "lr_g", "sampler", "latent_norm"):
        assert field in done.stdout


def test_a_cluster_that_does_not_answer_fails_in_seconds(tmp_path):
    import socket
    import time

    with socket.socket() as free:  # a port nothing listens on
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    start = time.monotonic()
    spec = Path(__file__).parents[2] / "sweeps" / "specs" / "ae.yaml"
    done = sweeps("run", str(spec), "--preset", "smoke", "--set", "data.dataset=digits",
                  "--storage", str(tmp_path), "--address", f"127.0.0.1:{port}")
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert f"no Ray cluster answers at 127.0.0.1:{port}" in done.stderr and "ray start --head" in done.stderr
    assert time.monotonic() - start < 60  # Ray alone retries for minutes
    assert not any(tmp_path.iterdir())  # no experiment left behind
