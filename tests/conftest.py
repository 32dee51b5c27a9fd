"""Shared fixtures: real data (MNIST where its files are, else scikit-learn's digits), cached judges, a real local
Ray."""

from __future__ import annotations

import gzip
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch

from trainables.data import Data, find_idx, load_data, load_digits_28
from trainables.judge import TrainedJudge, load_judge

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
MNIST_TEST_SPLIT = ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")


def mnist_folder() -> Path:
    """$SWEEPS_DATA_DIR where it is set (even to a folder without MNIST), else the offline copy beside the project."""
    return Path(os.environ.get("SWEEPS_DATA_DIR", SHARED_DATA))


def has_mnist(folder: Path) -> bool:
    return all(find_idx(folder / "MNIST" / "raw", name) is not None for name in MNIST_TEST_SPLIT)


def data_required() -> bool:
    return os.environ.get("SWEEPS_REQUIRE_DATA") == "1"


def pytest_report_header(config) -> str:
    folder = mnist_folder()
    if has_mnist(folder):
        return f"real data: MNIST from {folder}"
    return f"real data: scikit-learn's digits (no MNIST IDX files under {folder})"


@pytest.fixture(autouse=True)
def _threads():
    torch.set_num_threads(2)


@dataclass(frozen=True)
class RealSource:
    """Where the tests that need real data get it: MNIST's IDX files, or scikit-learn's bundled digits (no files)."""

    dataset: str  # "mnist" or "digits"
    data_dir: Path | None  # the folder holding MNIST/raw/; None for digits

    @property
    def dir_args(self) -> list[str]:
        """For commands that take the dataset from an experiment: `sweeps resume / sample / train --from`."""
        return [] if self.data_dir is None else ["--data-dir", str(self.data_dir)]

    @property
    def train_args(self) -> list[str]:
        """For `sweeps train` and `sweeps demo`."""
        return ["--dataset", self.dataset, *self.dir_args]

    @property
    def sweep_args(self) -> list[str]:
        """For `sweeps run`: a sweep file names its dataset."""
        return ["--set", f"data.dataset={self.dataset}", *self.dir_args]


@pytest.fixture(scope="session")
def real_source() -> RealSource:
    """MNIST where its files are, else the digits: nothing skips for want of files. Missing MNIST fails under
    SWEEPS_REQUIRE_DATA=1 (CI)."""
    folder = mnist_folder()
    if has_mnist(folder):
        return RealSource("mnist", folder)
    if data_required():
        pytest.fail(f"no MNIST IDX files under {folder}, and SWEEPS_REQUIRE_DATA=1: set SWEEPS_DATA_DIR")
    return RealSource("digits", None)


@pytest.fixture(scope="session")
def real_data(real_source) -> Data:
    return load_data(real_source.dataset, real_source.data_dir)


@pytest.fixture(scope="session")
def real_judge(real_data, cache_dir) -> TrainedJudge:
    return load_judge(real_data, cache_dir)


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """MNIST's published IDX files themselves, for the tests that need those very bytes (e.g. a download checked
    against their MD5s); missing files fail under SWEEPS_REQUIRE_DATA=1 (CI), else skip."""
    folder = mnist_folder()
    if not has_mnist(folder):
        message = (f"no MNIST IDX files under {folder}: this test needs MNIST's published files themselves; "
                   "set SWEEPS_DATA_DIR to a folder holding MNIST/raw/")
        if data_required():
            pytest.fail(message)
        pytest.skip(message)
    return folder


@pytest.fixture(scope="session")
def mnist(data_dir) -> Data:
    return load_data("mnist", data_dir)


@pytest.fixture(scope="session")
def idx_dir(real_source, tmp_path_factory) -> Path:
    """A data folder in torchvision's layout, for the tests of the IDX reader and of the partitions: MNIST's, else
    scikit-learn's digits written there as gzipped IDX files, MNIST/raw/ holding a test split only (as
    ../shared/data does) and FashionMNIST/raw/ both official splits."""
    if real_source.data_dir is not None:
        return real_source.data_dir
    root = tmp_path_factory.mktemp("idx-data")
    images, labels = load_digits_28()
    pixels = (images[:, 0] * 255).round().to(torch.uint8).numpy()  # (N, 28, 28)
    labels = labels.to(torch.uint8).numpy()
    cut = 1500
    for folder, splits in (("MNIST", {"t10k": slice(None)}),
                           ("FashionMNIST", {"train": slice(None, cut), "t10k": slice(cut, None)})):
        raw = root / folder / "raw"
        raw.mkdir(parents=True)
        for split, rows in splits.items():
            write_idx(raw / f"{split}-images-idx3-ubyte.gz", pixels[rows])
            write_idx(raw / f"{split}-labels-idx1-ubyte.gz", labels[rows])
    return root


def write_idx(path: Path, array: np.ndarray) -> None:
    """An IDX file of unsigned bytes, gzipped as MNIST's are published."""
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(n.to_bytes(4, "big") for n in array.shape)
    with gzip.open(path, "wb") as f:
        f.write(header + np.ascontiguousarray(array, dtype=np.uint8).tobytes())


@pytest.fixture(scope="session")
def idx_mnist(idx_dir) -> Data:
    return load_data("mnist", idx_dir)


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory) -> Path:
    """The judges' cache, one for the whole run: `make test`'s parallel workers share it (a lock makes each judge
    trained once), as they share the run's temporary folder."""
    base = tmp_path_factory.getbasetemp()
    path = (base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base) / "cache"
    path.mkdir(exist_ok=True)
    return path


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


@pytest.fixture(scope="session")
def finished(local_ray, real_source, cache_dir, tmp_path_factory) -> Path:
    """A finished two-trial AE sweep (`--preset smoke`), STORAGE/base, made once: a test that changes anything in it
    changes a copy."""
    from sweeps.cli import main

    storage = tmp_path_factory.mktemp("finished")
    status = main(["run", str(Path(__file__).parents[1] / "sweeps" / "specs" / "ae.yaml"), "--preset", "smoke",
                   "--storage", str(storage), "--name", "base", *real_source.sweep_args, "--cache-dir", str(cache_dir)])
    assert status == 0
    return storage / "base"


@pytest.fixture
def fresh_ray(local_ray):
    """The session's Ray started anew, for a trial that needs both CPUs: once in CI a Ray kept counting one
    CPU as used after every worker had ended, and such a trial then waited for ever."""
    local_ray.shutdown()
    return start_local_ray()
