"""Shared fixtures: real data from the data directory, cached judges, a real local Ray."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

from trainables.data import Data, load_data
from trainables.judge import TrainedJudge, load_judge

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture(autouse=True)
def _threads():
    torch.set_num_threads(2)


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The real IDX files; missing data fails under SWEEPS_REQUIRE_DATA=1 (CI), else skips."""
    path = Path(os.environ.get("SWEEPS_DATA_DIR", SHARED_DATA))
    if not (path / "MNIST" / "raw").is_dir():
        message = f"no MNIST IDX files under {path}: set SWEEPS_DATA_DIR"
        if os.environ.get("SWEEPS_REQUIRE_DATA") == "1":
            pytest.fail(message)
        pytest.skip(message)
    return path


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("cache")


@pytest.fixture(scope="session")
def mnist(data_dir) -> Data:
    return load_data("mnist", data_dir)


@pytest.fixture(scope="session")
def mnist_judge(mnist, cache_dir) -> TrainedJudge:
    return load_judge(mnist, cache_dir)


@pytest.fixture(scope="session")
def digits() -> Data:
    return load_data("digits")


@pytest.fixture(scope="session")
def digits_judge(digits, cache_dir) -> TrainedJudge:
    return load_judge(digits, cache_dir)


@pytest.fixture(scope="session")
def tiny(digits) -> Data:
    """A few hundred real digits: enough to see losses fall, small enough for seconds per test."""
    return digits.limit(192)


def start_local_ray():
    import ray

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    return ray


@pytest.fixture(scope="session")
def local_ray():
    ray = start_local_ray()
    yield ray
    ray.shutdown()


@pytest.fixture
def fresh_ray(local_ray):
    """The session's Ray started anew, for a trial that needs both CPUs: once in CI a Ray kept counting one
    CPU as used after every worker had ended, and such a trial then waited for ever."""
    local_ray.shutdown()
    return start_local_ray()
