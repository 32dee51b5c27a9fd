import gzip
import shutil

import pytest
import torch

from trainables.data import DataError, load_data


def test_mnist_test_split_is_partitioned_with_a_notice(mnist):
    assert (len(mnist.train), len(mnist.val), len(mnist.test)) == (7000, 1500, 1500)
    assert "only the official test split" in mnist.notice
    for split in (mnist.train, mnist.val, mnist.test):
        assert split.images.shape[1:] == (1, 28, 28) and split.images.dtype == torch.float32
        assert split.images.min() == 0 and split.images.max() == 1
        assert split.labels.dtype == torch.int64 and set(split.labels.tolist()) == set(range(10))


def test_partitions_are_deterministic_and_disjoint(mnist, data_dir):
    again = load_data("mnist", data_dir)
    assert torch.equal(again.train.images, mnist.train.images) and again.fingerprint == mnist.fingerprint
    val = {x.numpy().tobytes() for x in mnist.val.images}
    assert not val & {x.numpy().tobytes() for x in mnist.test.images}


def test_limit_takes_a_deterministic_subset(mnist, data_dir):
    small = load_data("mnist", data_dir, limit=100)
    assert (len(small.train), len(small.val), len(small.test)) == (100, 100, 100)
    assert torch.equal(small.train.images, mnist.train.images[:100])


def test_fashion_mnist_uses_its_official_splits(data_dir):
    data = load_data("fashion_mnist", data_dir)
    assert (len(data.train), len(data.val), len(data.test)) == (54000, 6000, 10000)
    assert data.notice is None


def test_digits_need_no_files(digits):
    assert len(digits.train) + len(digits.val) + len(digits.test) == 1797
    assert digits.train.images.shape[1:] == (1, 28, 28)
    assert digits.train.images[:, :, :4].max() == 0  # centred in a 4-pixel border, like MNIST


def test_uncompressed_idx_files_read_the_same(data_dir, tmp_path, mnist):
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for name in ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"):
        with gzip.open(data_dir / "MNIST" / "raw" / f"{name}.gz") as src, open(raw / name, "wb") as dst:
            shutil.copyfileobj(src, dst)
    assert load_data("mnist", tmp_path).fingerprint == mnist.fingerprint


def test_missing_data_dir_names_the_files_and_the_ways_out(tmp_path):
    with pytest.raises(DataError) as error:
        load_data("mnist", tmp_path / "nowhere")
    text = str(error.value)
    assert str(tmp_path / "nowhere" / "MNIST" / "raw") in text
    assert "t10k-images-idx3-ubyte" in text
    for way_out in ("--data-dir", "SWEEPS_DATA_DIR", "--dataset digits"):
        assert way_out in text


def test_data_dir_comes_from_the_environment(data_dir, monkeypatch):
    monkeypatch.setenv("SWEEPS_DATA_DIR", str(data_dir))
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
