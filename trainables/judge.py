"""The judge: a small CNN digit classifier, trained once per dataset and cached, that scores samples."""

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


@dataclass
class TrainedJudge:
    state: dict  # Judge state_dict, on the CPU
    accuracy: float  # on the dataset's test partition
    fingerprint: str  # the Data it was trained on

    def build(self, device: torch.device | str = "cpu") -> Judge:
        judge = Judge()
        judge.load_state_dict(self.state)
        return judge.to(device).eval()


def load_judge(data: Data, cache_dir: str | Path | None = None, device: str = "cpu") -> TrainedJudge:
    """The judge for `data` (full partitions, before any limit), trained on first use and cached on disk."""
    cache = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    cache.mkdir(parents=True, exist_ok=True)
    path = cache / f"judge-{data.fingerprint}.pt"
    with FileLock(f"{path}.lock"):  # trials or processes starting together train it once
        if path.exists():
            return TrainedJudge(**torch.load(path, weights_only=True))
        log.info("training the judge for %s (cached at %s)", data.fingerprint, path)
        judge = train_judge(data.train, device=device)
        trained = TrainedJudge(
            {k: v.cpu() for k, v in judge.state_dict().items()}, judge_accuracy(judge, data.test), data.fingerprint
        )
        torch.save(vars(trained), path)
        return trained


def train_judge(train: Split, epochs: int = 10, batch_size: int = 128, seed: int = 0, device: str = "cpu") -> Judge:
    """Adam on cross-entropy, with random shifts of up to 2 pixels as augmentation."""
    generator = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)  # weights and dropout
    judge = Judge().to(device)
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
def judge_accuracy(judge: Judge, split: Split, batch_size: int = 1000) -> float:
    device = next(judge.parameters()).device
    correct = sum(
        (judge(x.to(device)).argmax(1).cpu() == y).sum().item()
        for x, y in zip(split.images.split(batch_size), split.labels.split(batch_size))
    )
    return correct / len(split)
