import gzip
import hashlib
import logging
import shutil
import time

import pytest
import torch

from tests.mirror import MNIST_TEST_FILES, closed_port_url, copy_mnist_test_split, serve_folder, silent_url
from trainables.data import DataError, MissingDataError, download_files, find_idx, load_data, read_idx, warn_once


def test_mnist_test_split_is_partitioned_with_a_notice(idx_mnist, idx_dir):
    total = len(read_idx(find_idx(idx_dir / "MNIST" / "raw", "t10k-labels-idx1-ubyte")))
    sizes = (len(idx_mnist.train), len(idx_mnist.val), len(idx_mnist.test))
    assert sum(sizes) == total and [round(100 * n / total) for n in sizes] == [70, 15, 15]  # MNIST: 7000, 1500, 1500
    assert "only the official test split" in idx_mnist.notice
    for split in (idx_mnist.train, idx_mnist.val, idx_mnist.test):
        assert split.images.shape[1:] == (1, 28, 28) and split.images.dtype == torch.float32
        assert split.images.min() == 0 and split.images.max() == 1
        assert split.labels.dtype == torch.int64 and set(split.labels.tolist()) == set(range(10))


def test_partitions_are_deterministic_and_disjoint(idx_mnist, idx_dir):
    again = load_data("mnist", idx_dir)
    assert torch.equal(again.train.images, idx_mnist.train.images) and again.fingerprint == idx_mnist.fingerprint
    val = {x.numpy().tobytes() for x in idx_mnist.val.images}
    assert not val & {x.numpy().tobytes() for x in idx_mnist.test.images}


def test_limit_takes_a_deterministic_subset(idx_mnist, idx_dir):
    small = load_data("mnist", idx_dir, limit=100)
    assert (len(small.train), len(small.val), len(small.test)) == (100, 100, 100)
    assert torch.equal(small.train.images, idx_mnist.train.images[:100])


def test_fashion_mnist_uses_its_official_splits(idx_dir):
    data = load_data("fashion_mnist", idx_dir)
    raw = idx_dir / "FashionMNIST" / "raw"
    train, test = (len(read_idx(find_idx(raw, f"{split}-labels-idx1-ubyte"))) for split in ("train", "t10k"))
    # Validation is 10% of the train split, test the test split: Fashion-MNIST's 54000, 6000, 10000.
    assert len(data.train) + len(data.val) == train and round(100 * len(data.val) / train) == 10
    assert len(data.test) == test
    assert data.notice is None


def test_digits_need_no_files(digits):
    assert len(digits.train) + len(digits.val) + len(digits.test) == 1797
    assert digits.train.images.shape[1:] == (1, 28, 28)
    assert digits.train.images[:, :, :4].max() == 0  # centred in a 4-pixel border, like MNIST


def test_uncompressed_idx_files_read_the_same(idx_dir, tmp_path, idx_mnist):
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for name in ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"):
        with gzip.open(idx_dir / "MNIST" / "raw" / f"{name}.gz") as src, open(raw / name, "wb") as dst:
            shutil.copyfileobj(src, dst)
    assert load_data("mnist", tmp_path).fingerprint == idx_mnist.fingerprint


def test_missing_data_dir_names_the_files_and_the_ways_out(tmp_path):
    with pytest.raises(MissingDataError) as error:
        load_data("mnist", tmp_path / "nowhere", offline=True)
    text = str(error.value)
    assert str(tmp_path / "nowhere" / "MNIST" / "raw") in text
    assert "t10k-images-idx3-ubyte" in text and "--offline forbids downloading" in text
    for way_out in ("--data-dir", "SWEEPS_DATA_DIR", "SWEEPS_DATA_MIRRORS", "--dataset digits"):
        assert way_out in text
    assert not (tmp_path / "nowhere").exists()


def test_downloaded_files_arrive_verified_and_load(data_dir, mnist, tmp_path, monkeypatch):
    with serve_folder(copy_mnist_test_split(data_dir, tmp_path / "mirror")) as (url, asked):
        monkeypatch.setenv("SWEEPS_DATA_MIRRORS", f"{closed_port_url()},{url}")  # the first one refuses: next
        raw = tmp_path / "data" / "MNIST" / "raw"
        download_files("MNIST", raw, list(MNIST_TEST_FILES))  # the train split is not on this machine
    assert asked == [f"/{name}" for name in MNIST_TEST_FILES]
    assert sorted(p.name for p in raw.iterdir()) == sorted(MNIST_TEST_FILES)  # no temporary file left
    for name in MNIST_TEST_FILES:
        assert (raw / name).read_bytes() == (data_dir / "MNIST" / "raw" / name).read_bytes()
    assert load_data("mnist", tmp_path / "data", offline=True).fingerprint == mnist.fingerprint


def test_present_files_are_not_fetched_again(idx_dir, tmp_path, monkeypatch):
    with serve_folder(tmp_path) as (url, asked):
        monkeypatch.setenv("SWEEPS_DATA_MIRRORS", url)
        load_data("mnist", idx_dir, limit=10)  # only the test split: partitions from it, no download of the rest
    assert asked == []


def test_a_corrupted_download_is_a_checksum_error_and_leaves_no_file(data_dir, tmp_path, monkeypatch):
    mirror = copy_mnist_test_split(data_dir, tmp_path / "mirror")
    corrupted = bytearray((mirror / MNIST_TEST_FILES[0]).read_bytes())
    corrupted[len(corrupted) // 2] ^= 0xFF
    (mirror / MNIST_TEST_FILES[0]).write_bytes(corrupted)
    raw = tmp_path / "data" / "MNIST" / "raw"
    with serve_folder(mirror) as (url, _), pytest.raises(DataError) as error:
        monkeypatch.setenv("SWEEPS_DATA_MIRRORS", url)
        download_files("MNIST", raw, list(MNIST_TEST_FILES))
    text = str(error.value)
    assert not isinstance(error.value, MissingDataError)  # not a missing network: the demo must not hide it
    assert f"checksum error: {url}{MNIST_TEST_FILES[0]}" in text
    assert "9fb629c4189551a2d022fa330f9573f3" in text and hashlib.md5(corrupted).hexdigest() in text
    assert "SWEEPS_DATA_MIRRORS" in text
    assert list(raw.iterdir()) == []


def test_no_mirror_answering_is_a_missing_data_error_in_seconds(tmp_path, monkeypatch):
    start = time.monotonic()
    with silent_url() as silent:
        monkeypatch.setenv("SWEEPS_DATA_MIRRORS", f"{closed_port_url()},{silent}")
        with pytest.raises(MissingDataError) as error:
            download_files("MNIST", tmp_path / "MNIST" / "raw", list(MNIST_TEST_FILES), timeout_s=0.5)
    assert time.monotonic() - start < 10
    assert "Connection refused" in str(error.value) and "timed out" in str(error.value)
    assert list((tmp_path / "MNIST" / "raw").iterdir()) == []


def test_missing_files_that_cannot_be_downloaded_say_why_and_the_fixes(tmp_path, monkeypatch):
    closed = closed_port_url()
    monkeypatch.setenv("SWEEPS_DATA_MIRRORS", closed)
    with pytest.raises(MissingDataError) as error:
        load_data("mnist", tmp_path)
    text = str(error.value)
    assert f"none could be downloaded: {closed}train-images-idx3-ubyte.gz: " in text and "Connection refused" in text
    for way_out in ("where a network answers", "SWEEPS_DATA_MIRRORS", "--data-dir", "--dataset digits"):
        assert way_out in text
    assert list((tmp_path / "MNIST" / "raw").iterdir()) == []


def test_the_partition_notice_is_logged_once_per_process(idx_dir, caplog):
    warn_once.cache_clear()
    with caplog.at_level(logging.WARNING, logger="trainables.data"):
        for _ in range(3):
            assert "only the official test split" in load_data("mnist", idx_dir, limit=10).notice
    assert sum("only the official test split" in r.getMessage() for r in caplog.records) == 1


def test_data_dir_comes_from_the_environment(idx_dir, monkeypatch):
    monkeypatch.setenv("SWEEPS_DATA_DIR", str(idx_dir))
    assert len(load_data("mnist", limit=10).train) == 10


def test_corrupt_file_is_a_clear_error(tmp_path):
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    (raw / "t10k-images-idx3-ubyte").write_bytes(b"not an idx file")
    (raw / "t10k-labels-idx1-ubyte").write_bytes(b"\0\0\x08\x01\0\0\0\x05\1\2")
    with pytest.raises(DataError, match="not an IDX file"):
        load_data("mnist", tmp_path)


def test_unknown_dataset_lists_the_known_ones():
    with pytest.raises(DataError, match="mnist, fashion_mnist, digits"):
        load_data("cifar")


def test_a_limit_below_one_is_a_clear_error(digits):
    with pytest.raises(DataError, match="positive number of images, got 0"):
        digits.limit(0)
