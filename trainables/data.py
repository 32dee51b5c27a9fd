"""Digit datasets as in-memory tensors: MNIST and Fashion-MNIST from IDX files, sklearn's digits."""

from __future__ import annotations

import gzip
import hashlib
import logging
import os
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

log = logging.getLogger(__name__)

DATASETS = {"mnist": "MNIST", "fashion_mnist": "FashionMNIST", "digits": None}
SPLIT_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
# Where a dataset has one split only, it is cut into train/validation/test by these shares.
SINGLE_SPLIT_SHARES = (0.7, 0.15, 0.15)
VALIDATION_SHARE = 0.1  # of the official train split, when there is one
PARTITION_SEED = 0  # fixed: every trial and every run sees the same partitions


class DataError(Exception):
    """A dataset that cannot be found or read; the text says how to fix it."""


@dataclass(frozen=True)
class Split:
    images: torch.Tensor  # (N, 1, 28, 28) float32 in [0, 1]
    labels: torch.Tensor  # (N,) int64

    def __len__(self) -> int:
        return len(self.labels)

    def head(self, n: int | None) -> Split:
        return self if n is None else Split(self.images[:n], self.labels[:n])


@dataclass(frozen=True)
class Data:
    """Train/validation/test partitions of one dataset, and how they were drawn."""

    name: str
    train: Split
    val: Split
    test: Split
    notice: str | None = None  # set when the partitions were not the official splits

    def limit(self, n: int | None) -> Data:
        """The first `n` images of each partition (partitions are already shuffled)."""
        if n is None:
            return self
        if n < 1:
            raise DataError(f"limit must be a positive number of images, got {n}")
        return replace(self, train=self.train.head(n), val=self.val.head(n), test=self.test.head(n))

    @property
    def fingerprint(self) -> str:
        """Names the dataset and its partitions, e.g. to key caches."""
        digest = hashlib.sha1()
        for split in (self.train, self.val, self.test):
            digest.update(split.labels.numpy().tobytes())
            digest.update(split.images[:, :, 14].numpy().tobytes())  # one row is enough
        return f"{self.name}-{len(self.train)}-{len(self.val)}-{len(self.test)}-{digest.hexdigest()[:10]}"


def default_data_dir() -> Path:
    return Path(os.environ.get("SWEEPS_DATA_DIR", "data"))


def load_data(
    dataset: str = "mnist",
    data_dir: str | Path | None = None,
    limit: int | None = None,
    download: bool = False,
) -> Data:
    """Load `dataset` into memory as train/validation/test partitions.

    Validation comes from the official train split, test from the official test split.
    Where only one split exists, all three are drawn from it and `Data.notice` says so.
    `limit` keeps the first `limit` images of each (shuffled) partition.
    """
    if dataset not in DATASETS:
        raise DataError(f"unknown dataset {dataset!r}: choose one of {', '.join(DATASETS)}")
    if dataset == "digits":
        images, labels = load_digits_28()
        data = partition_single(
            dataset,
            Split(images, labels),
            "digits: scikit-learn's 1,797 digits have one split; "
            f"train/validation/test partitions ({share_text()}) were drawn from it",
        )
        return data.limit(limit)

    root = Path(data_dir) if data_dir is not None else default_data_dir()
    folder = DATASETS[dataset]
    if download:
        download_torchvision(folder, root)
    splits = {name: load_split(root / folder / "raw", *files) for name, files in SPLIT_FILES.items()}
    if splits["test"] is None:
        raise missing_files_error(dataset, root / folder / "raw")
    if splits["train"] is None:
        notice = (
            f"{dataset}: only the official test split is in {root / folder / 'raw'}; "
            f"train/validation/test partitions ({share_text()}) were drawn from its "
            f"{len(splits['test'])} images"
        )
        log.warning(notice)
        return partition_single(dataset, splits["test"], notice).limit(limit)
    train, val = shuffled_cut(splits["train"], 1 - VALIDATION_SHARE)
    test = shuffled_cut(splits["test"], 1.0)[0]
    return Data(dataset, train, val, test).limit(limit)


def share_text() -> str:
    return "/".join(f"{round(100 * s)}%" for s in SINGLE_SPLIT_SHARES)


def partition_single(name: str, split: Split, notice: str) -> Data:
    train_share, val_share, _ = SINGLE_SPLIT_SHARES
    train, rest = shuffled_cut(split, train_share)
    val, test = shuffled_cut(rest, val_share / (1 - train_share), shuffle=False)
    return Data(name, train, val, test, notice)


def shuffled_cut(split: Split, share: float, shuffle: bool = True) -> tuple[Split, Split]:
    """Cut a split in two at `share`, after a fixed-seed shuffle."""
    if shuffle:
        order = torch.randperm(len(split), generator=torch.Generator().manual_seed(PARTITION_SEED))
        split = Split(split.images[order], split.labels[order])
    cut = round(share * len(split))
    return Split(split.images[:cut], split.labels[:cut]), Split(split.images[cut:], split.labels[cut:])


def load_split(raw: Path, images_name: str, labels_name: str) -> Split | None:
    images_path, labels_path = find_idx(raw, images_name), find_idx(raw, labels_name)
    if images_path is None or labels_path is None:
        return None
    images = torch.from_numpy(read_idx(images_path)).float().div_(255).unsqueeze(1)
    labels = torch.from_numpy(read_idx(labels_path)).long()
    if images.shape[1:] != (1, 28, 28) or len(images) != len(labels):
        raise DataError(f"{images_path} and {labels_path} do not hold matching 28x28 images and labels")
    return Split(images, labels)


def find_idx(raw: Path, name: str) -> Path | None:
    for path in (raw / name, raw / f"{name}.gz"):
        if path.is_file():
            return path
    return None


def read_idx(path: Path) -> np.ndarray:
    """Read an IDX file, gzipped or not (torchvision's own reader takes unzipped files only)."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as f:
        raw = f.read()
    if len(raw) < 4 or raw[:2] != b"\0\0" or raw[2] != 0x08:
        raise DataError(f"{path} is not an IDX file of unsigned bytes; delete it and fetch it again")
    ndim = raw[3]
    shape = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    data = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim)
    if data.size != int(np.prod(shape)):
        raise DataError(f"{path} is truncated: expected {int(np.prod(shape))} values, found {data.size}")
    return data.reshape(shape).copy()  # writable, as torch wants


def missing_files_error(dataset: str, raw: Path) -> DataError:
    files = [f"{name}[.gz]" for pair in SPLIT_FILES.values() for name in pair if find_idx(raw, name) is None]
    return DataError(
        f"{dataset}: no IDX files in {raw} (missing: {', '.join(files)}).\n"
        f"Fix: pass --data-dir DIR (or set SWEEPS_DATA_DIR) to a folder holding "
        f"{DATASETS[dataset]}/raw/, add --download where a network is reachable, "
        f"or use the digits dataset (--dataset digits; in a sweep file, data: {{dataset: digits}}), which needs no files."
    )


def download_torchvision(folder: str, root: Path) -> None:
    import torchvision.datasets

    cls = getattr(torchvision.datasets, folder)
    try:
        for train in (True, False):
            cls(str(root), train=train, download=True)
    except Exception as error:  # torchvision raises several kinds on a closed network
        raise DataError(
            f"could not download {folder} into {root}: {error}.\n"
            f"Fix: copy the IDX files into {root / folder / 'raw'}, point --data-dir at a folder "
            f"that has them, or use the digits dataset (--dataset digits; in a sweep file, data: {{dataset: digits}})."
        ) from error


def load_digits_28() -> tuple[torch.Tensor, torch.Tensor]:
    """scikit-learn's 8x8 digits, scaled to 20x20 and centred in 28x28 as MNIST's are."""
    from sklearn.datasets import load_digits

    bunch = load_digits()
    x = torch.from_numpy(bunch.images).float().div_(16).unsqueeze(1)  # (N, 1, 8, 8)
    x = F.interpolate(x, size=(20, 20), mode="bilinear", align_corners=False).clamp_(0, 1)
    return F.pad(x, (4, 4, 4, 4)), torch.from_numpy(bunch.target).long()
