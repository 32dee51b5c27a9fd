"""Digit datasets as in-memory tensors: MNIST and Fashion-MNIST from IDX files, sklearn's digits. torch is imported
by the functions that build tensors, so that the names and limits here cost a command nothing."""

from __future__ import annotations

import functools
import gzip
import hashlib
import logging
import os
import sys
import tempfile
import zlib
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np
    import torch


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
# torchvision's mirrors and its MD5s of the published files; SWEEPS_DATA_MIRRORS replaces the mirrors.
MIRRORS = {
    "MNIST": ("https://ossci-datasets.s3.amazonaws.com/mnist/", "http://yann.lecun.com/exdb/mnist/"),
    "FashionMNIST": ("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",),
}
MD5 = {
    "MNIST": {
        "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
        "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
        "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
        "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
    },
    "FashionMNIST": {
        "train-images-idx3-ubyte.gz": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
        "train-labels-idx1-ubyte.gz": "25c81989df183df01b3e8a0aad5dffbe",
        "t10k-images-idx3-ubyte.gz": "bef4ecab320f06d8554ea6380940ec79",
        "t10k-labels-idx1-ubyte.gz": "bb300cfdad3c16e7a12a480ee83cd310",
    },
}
TIMEOUT_S = 5.0  # per connection and per read: with no network, a command answers in seconds
CHUNK_BYTES = 1 << 16


class DataError(Exception):
    """A dataset that cannot be found or read; the text says how to fix it."""


class MissingDataError(DataError):
    """A dataset's files are missing and could not be fetched: offline, or no mirror answered."""


MIN_IMAGES = 20  # the smallest limit a sweep file or --limit may set: below it batch norm and the k-NN probe fail


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


def default_cache_dir() -> Path:
    """Where the judge classifier, remote experiments' studies and the signing key are kept."""
    return Path(os.environ.get("SWEEPS_CACHE_DIR", Path.home() / ".cache" / "latent-sweeps"))


def raw_folder(dataset: str, data_dir: str | Path | None = None) -> Path:
    """Where `dataset`'s IDX files are, in torchvision's layout: DATA_DIR/MNIST/raw."""
    root = Path(data_dir) if data_dir is not None else default_data_dir()
    return root / DATASETS[dataset] / "raw"


def load_data(
    dataset: str = "mnist",
    data_dir: str | Path | None = None,
    limit: int | None = None,
    offline: bool = False,
) -> Data:
    """Load `dataset` into memory as train/validation/test partitions.

    Validation comes from the official train split, test from the official test split.
    Where only one split exists, all three are drawn from it and `Data.notice` says so.
    `limit` keeps the first `limit` images of each (shuffled) partition. Missing files are
    downloaded first (see `fetch_missing`), unless `offline`.
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

    raw = raw_folder(dataset, data_dir)
    fetch_missing(dataset, data_dir, offline)
    splits = {name: load_split(raw, *files) for name, files in SPLIT_FILES.items()}
    if splits["test"] is None:
        raise missing_files_error(dataset, raw, "")  # not reached: fetch_missing raises first
    if splits["train"] is None:
        notice = (
            f"{dataset}: only the official test split is in {raw}; "
            f"train/validation/test partitions ({share_text()}) were drawn from its "
            f"{len(splits['test'])} images"
        )
        warn_once(notice)
        return partition_single(dataset, splits["test"], notice).limit(limit)
    train, val = shuffled_cut(splits["train"], 1 - VALIDATION_SHARE)
    test = shuffled_cut(splits["test"], 1.0)[0]
    return Data(dataset, train, val, test).limit(limit)


@functools.cache
def warn_once(message: str) -> None:
    """Log `message` once per process: a command loads the same data several times."""
    log.warning(message)


def share_text() -> str:
    return "/".join(f"{round(100 * s)}%" for s in SINGLE_SPLIT_SHARES)


def partition_single(name: str, split: Split, notice: str) -> Data:
    train_share, val_share, _ = SINGLE_SPLIT_SHARES
    train, rest = shuffled_cut(split, train_share)
    val, test = shuffled_cut(rest, val_share / (1 - train_share), shuffle=False)
    return Data(name, train, val, test, notice)


def shuffled_cut(split: Split, share: float, shuffle: bool = True) -> tuple[Split, Split]:
    """Cut a split in two at `share`, after a fixed-seed shuffle."""
    import torch

    if shuffle:
        order = torch.randperm(len(split), generator=torch.Generator().manual_seed(PARTITION_SEED))
        split = Split(split.images[order], split.labels[order])
    cut = round(share * len(split))
    return Split(split.images[:cut], split.labels[:cut]), Split(split.images[cut:], split.labels[cut:])


def load_split(raw: Path, images_name: str, labels_name: str) -> Split | None:
    import torch

    images_path, labels_path = find_idx(raw, images_name), find_idx(raw, labels_name)
    if images_path is None or labels_path is None:
        return None
    images = torch.from_numpy(read_idx(images_path)).float().div_(255).unsqueeze(1)
    labels = torch.from_numpy(read_idx(labels_path)).long()
    if images.shape[1:] != (1, 28, 28) or labels.dim() != 1 or len(images) != len(labels):
        raise DataError(f"{images_path} and {labels_path} do not hold matching 28x28 images and labels; delete them "
                        "and fetch them again")
    if len(labels) and not 0 <= labels.min() <= labels.max() < 10:
        raise DataError(f"{labels_path} holds labels outside 0-9; delete it and fetch it again")
    return Split(images, labels)


def find_idx(raw: Path, name: str) -> Path | None:
    for path in (raw / name, raw / f"{name}.gz"):
        if path.is_file():
            return path
    return None


def read_idx(path: Path) -> np.ndarray:
    """Read an IDX file, gzipped or not (torchvision's own reader takes unzipped files only)."""
    import numpy as np

    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as f:
            raw = f.read()
    except (EOFError, OSError, zlib.error) as e:  # gzip.BadGzipFile is an OSError
        raise DataError(f"{path} is damaged ({e}); delete it and fetch it again") from None
    if len(raw) < 4 or raw[:2] != b"\0\0" or raw[2] != 0x08:
        raise DataError(f"{path} is not an IDX file of unsigned bytes; delete it and fetch it again")
    ndim = raw[3]
    shape = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    data = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim)
    if data.size != int(np.prod(shape)):
        raise DataError(f"{path} is truncated: expected {int(np.prod(shape))} values, found {data.size}")
    return data.reshape(shape).copy()  # writable, as torch wants


def missing_files_error(
    dataset: str, raw: Path, why: str, network: str = "run where a network answers"
) -> MissingDataError:
    files = [f"{name}[.gz]" for pair in SPLIT_FILES.values() for name in pair if find_idx(raw, name) is None]
    return MissingDataError(
        f"{dataset}: no IDX files in {raw} (missing: {', '.join(files)}){why}.\n"
        f"Fix: {network} (or set SWEEPS_DATA_MIRRORS to comma-separated mirror URLs you can "
        f"reach), pass --data-dir DIR (or set SWEEPS_DATA_DIR) to a folder holding {DATASETS[dataset]}/raw/, "
        "or use the digits dataset (--dataset digits; in a sweep file, data: {dataset: digits}), which needs no files."
    )


def fetch_missing(dataset: str, data_dir: str | Path | None = None, offline: bool = False) -> None:
    """Download `dataset`'s missing IDX files into its raw folder, unless its test split is there already
    (partitions are then drawn from it) or `offline`; raises MissingDataError if they stay missing."""
    if DATASETS.get(dataset) is None:
        return
    raw = raw_folder(dataset, data_dir)
    if has_split(raw, "test"):
        return
    if offline:
        raise missing_files_error(dataset, raw, ", and --offline forbids downloading them",
                                  "leave out --offline where a network answers")
    folder = DATASETS[dataset]
    names = [f"{name}.gz" for pair in SPLIT_FILES.values() for name in pair if find_idx(raw, name) is None]
    try:
        download_files(folder, raw, names)
    except MissingDataError as error:
        raise missing_files_error(dataset, raw, f", and none could be downloaded: {error}") from None


def has_split(raw: Path, split: str) -> bool:
    return all(find_idx(raw, name) is not None for name in SPLIT_FILES[split])


def data_mirrors(folder: str) -> list[str]:
    """Base URLs to fetch `folder`'s files from, in order: $SWEEPS_DATA_MIRRORS (comma-separated), else
    torchvision's."""
    override = os.environ.get("SWEEPS_DATA_MIRRORS", "")
    return [url.strip() for url in override.split(",") if url.strip()] or list(MIRRORS[folder])


def download_files(folder: str, raw: Path, names: list[str], timeout_s: float = TIMEOUT_S) -> None:
    """Fetch each of `names` (e.g. "t10k-images-idx3-ubyte.gz") into `raw`, checked against torchvision's MD5."""
    try:
        raw.mkdir(parents=True, exist_ok=True)
        tempfile.TemporaryFile(dir=raw).close()
    except OSError as error:
        raise DataError(f"cannot write into {raw}: {error}.\nFix: pass --data-dir DIR (or set SWEEPS_DATA_DIR) to "
                        "a folder you can write to") from None
    mirrors = data_mirrors(folder)
    for name in names:
        download_file(name, MD5[folder][name], raw, mirrors, timeout_s)


def download_file(name: str, md5: str, raw: Path, mirrors: list[str], timeout_s: float) -> None:
    """Fetch `name` from the first mirror that serves it intact; a file with the wrong MD5 is not kept.
    Raises MissingDataError where no mirror answers, DataError where they only served corrupted copies."""
    import http.client
    import urllib.error

    failures, corrupted = [], []
    for mirror in mirrors:
        url = mirror.rstrip("/") + "/" + name
        try:
            got = download_checked(url, raw / name, md5, timeout_s)
        except (OSError, http.client.HTTPException) as error:  # URLError, timeouts, refused, cut short
            reason = error if isinstance(error, urllib.error.HTTPError) else getattr(error, "reason", error)
            failures.append(f"{url}: {reason}")
            continue
        if got == md5:
            return
        corrupted.append(f"{url} served {name} with MD5 {got}, expected {md5}")
    if corrupted:
        raise DataError(
            f"checksum error: {'; '.join(corrupted + failures)}. The corrupted copy was not kept in {raw}.\n"
            "Fix: try again later, or set SWEEPS_DATA_MIRRORS to another mirror (comma-separated base URLs)."
        )
    raise MissingDataError("; ".join(failures))


def download_checked(url: str, path: Path, md5: str, timeout_s: float) -> str:
    """Stream `url` into a temporary file beside `path` and move it there if its MD5 is `md5`; returns the MD5
    found. Whatever happens, no partial or corrupted file is left behind."""
    import urllib.request

    from tqdm import tqdm

    log.info("downloading %s", url)
    digest = hashlib.md5()
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        with open(handle, "wb") as out, urllib.request.urlopen(url, timeout=timeout_s) as response, tqdm(
            total=int(response.headers.get("Content-Length") or 0) or None, desc=path.name, unit="B",
            unit_scale=True, unit_divisor=1024, file=sys.stderr,
        ) as progress:
            while chunk := response.read(CHUNK_BYTES):
                out.write(chunk)
                digest.update(chunk)
                progress.update(len(chunk))
        if digest.hexdigest() == md5:
            os.replace(temporary, path)
        return digest.hexdigest()
    finally:
        Path(temporary).unlink(missing_ok=True)


def load_digits_28() -> tuple[torch.Tensor, torch.Tensor]:
    """scikit-learn's 8x8 digits, scaled to 20x20 and centred in 28x28 as MNIST's are."""
    import torch
    import torch.nn.functional as F
    from sklearn.datasets import load_digits

    bunch = load_digits()
    x = torch.from_numpy(bunch.images).float().div_(16).unsqueeze(1)  # (N, 1, 8, 8)
    x = F.interpolate(x, size=(20, 20), mode="bilinear", align_corners=False).clamp_(0, 1)
    return F.pad(x, (4, 4, 4, 4)), torch.from_numpy(bunch.target).long()
