"""The judges: digit classifiers, trained once per dataset and cached, that score samples.

The judge scores every trial: sweeps are tuned to its Fréchet distance. The second judge is of another
architecture and learns from other images (the validation and test partitions, where the judge learns from the
training partition); no sweep ever sees it, so that a number that moves on one judge only shows in the report."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from filelock import FileLock
from torch import nn

from trainables.data import Data, Split, default_cache_dir

log = logging.getLogger(__name__)

FEATURE_DIM = 128
BATCH_SIZE = 128
SECOND_JUDGE_STEPS = 600


class Judge(nn.Module):
    """images (B, 1, 28, 28) in [0, 1] -> class logits (B, 10); `features` gives (B, 128)."""

    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(1, 32, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),  # (B, 32, 14, 14)
            nn.Conv2d(32, 64, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),  # (B, 64, 7, 7)
            nn.Flatten(),
            nn.Linear(64 * 7 * 7, FEATURE_DIM),
            nn.ReLU(),
        )
        self.head = nn.Sequential(nn.Dropout(0.3), nn.Linear(FEATURE_DIM, 10))

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x))


class SecondJudge(nn.Module):
    """The second judge: batch-normalised convolutions and global average pooling, no dense hidden layer;
    images (B, 1, 28, 28) in [0, 1] -> class logits (B, 10); `features` gives (B, 128)."""

    def __init__(self):
        super().__init__()

        def block(c_in: int, c_out: int, stride: int) -> list[nn.Module]:
            return [nn.Conv2d(c_in, c_out, 3, stride, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.GELU()]

        self.body = nn.Sequential(
            *block(1, 32, 1), *block(32, 64, 2),  # (B, 64, 14, 14)
            *block(64, 64, 1), *block(64, FEATURE_DIM, 2),  # (B, 128, 7, 7)
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
        )
        self.head = nn.Linear(FEATURE_DIM, 10)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x))


@dataclass(frozen=True)
class Partitions:
    """Which images a judge learns from, which measure its accuracy, and which its scores compare against."""

    taught: Split
    tested: Split  # never taught
    reference: Split  # the real digits samples are compared with
    held_out: Split  # real digits, never taught, scored against `reference` for calibration


def partitions(data: Data, second: bool) -> Partitions:
    """The judge learns from the training partition and scores against validation digits; the second judge learns
    from the validation and test partitions and scores against training digits (as FID usually compares samples
    with the training set), the first half of them, its held-out digits being the second half."""
    if not second:
        return Partitions(data.train, data.test, data.val, data.test)
    half = len(data.train) // 2
    taught = Split(torch.cat([data.val.images, data.test.images]), torch.cat([data.val.labels, data.test.labels]))
    rest = Split(data.train.images[half:], data.train.labels[half:])
    return Partitions(taught, data.train, data.train.head(half), rest)


@dataclass
class TrainedJudge:
    state: dict  # Judge (or SecondJudge) state_dict, on the CPU
    accuracy: float  # on images it never learnt from: the test partition (the second judge: the training one)
    fingerprint: str  # the Data it was trained on
    second: bool = False  # the second judge

    def build(self, device: torch.device | str = "cpu") -> Judge | SecondJudge:
        judge = SecondJudge() if self.second else Judge()
        judge.load_state_dict(self.state)
        return judge.to(device).eval()


def load_judge(data: Data, cache_dir: str | Path | None = None, device: str = "cpu",
               second: bool = False) -> TrainedJudge:
    """The judge (or the second judge) for `data` (full partitions, before any limit), trained on first use and
    cached on disk."""
    cache = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    cache.mkdir(parents=True, exist_ok=True)
    path = cache / f"{'second-judge' if second else 'judge'}-{data.fingerprint}.pt"
    with FileLock(f"{path}.lock"):  # trials or processes starting together train it once
        if path.exists():
            return TrainedJudge(**torch.load(path, weights_only=True))
        log.info("training the %s for %s (cached at %s)", "second judge" if second else "judge", data.fingerprint,
                 path)
        split = partitions(data, second)
        # The second judge learns from fewer digits (3,000 where MNIST's test split is all there is): it trains for
        # at least SECOND_JUDGE_STEPS steps, about the judge's 10 epochs of 7,000 training digits (550 steps).
        epochs = max(10, -(-SECOND_JUDGE_STEPS * BATCH_SIZE // len(split.taught))) if second else 10
        judge = train_judge(split.taught, epochs, device=device, second=second)
        trained = TrainedJudge({k: v.cpu() for k, v in judge.state_dict().items()},
                               judge_accuracy(judge, split.tested), data.fingerprint, second)
        torch.save(vars(trained), path)
        return trained


def train_judge(train: Split, epochs: int = 10, batch_size: int = BATCH_SIZE, seed: int = 0, device: str = "cpu",
                second: bool = False) -> Judge | SecondJudge:
    """Adam on cross-entropy, with random shifts of up to 2 pixels as augmentation."""
    generator = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)  # weights and dropout
    judge = (SecondJudge() if second else Judge()).to(device)
    optimizer = torch.optim.Adam(judge.parameters(), lr=1e-3)
    schedule = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=3e-3, total_steps=epochs * -(-len(train) // batch_size)
    )
    images, labels = train.images.to(device), train.labels.to(device)
    for _ in range(epochs):
        judge.train()
        for idx in torch.randperm(len(train), generator=generator).split(batch_size):
            x = random_shift(images[idx], generator)
            loss = F.cross_entropy(judge(x), labels[idx])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
    return judge.eval()


def random_shift(x: torch.Tensor, generator: torch.Generator, pixels: int = 2) -> torch.Tensor:
    """Shift the batch (B, 1, 28, 28) by one random offset of up to `pixels` each way."""
    dx, dy = torch.randint(-pixels, pixels + 1, (2,), generator=generator).tolist()
    return torch.roll(x, shifts=(dy, dx), dims=(2, 3))


@torch.no_grad()
def judge_accuracy(judge: Judge | SecondJudge, split: Split, batch_size: int = 1000) -> float:
    device = next(judge.parameters()).device
    correct = sum(
        (judge(x.to(device)).argmax(1).cpu() == y).sum().item()
        for x, y in zip(split.images.split(batch_size), split.labels.split(batch_size))
    )
    return correct / len(split)
