"""Quality metrics computed the same way for every trial: reconstruction, latent k-NN, judge-based sample scores."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from trainables.judge import Judge

NUM_CLASSES = 10
EVAL_SEED = 1234  # the same noise vectors and evaluation noise for every trial


@torch.no_grad()
def batched(fn, x: torch.Tensor, device: torch.device | str, batch_size: int = 500) -> torch.Tensor:
    """`fn` (a network, or a function of one) of x (N, ...) a batch at a time on `device`; results on x's device."""
    return torch.cat([fn(b.to(device)).to(x.device) for b in x.split(batch_size)])


def device_of(network: torch.nn.Module) -> torch.device:
    return next(network.parameters()).device


def reconstruct(network: torch.nn.Module, images: torch.Tensor) -> torch.Tensor:
    """An autoencoder's outputs (N, 1, 28, 28) for images (N, 1, 28, 28), on the CPU."""
    return batched(network.eval(), images, device_of(network))


def psnr(x: torch.Tensor, x_hat: torch.Tensor) -> float:
    """Mean per-image PSNR in dB of images (B, 1, 28, 28) in [0, 1]."""
    mse = (x - x_hat).pow(2).flatten(1).mean(1).clamp_min(1e-10)
    return (10 * torch.log10(1 / mse)).mean().item()


def mse(x: torch.Tensor, x_hat: torch.Tensor) -> float:
    return F.mse_loss(x_hat, x).item()


def knn_accuracy(
    train_codes: torch.Tensor, train_labels: torch.Tensor, codes: torch.Tensor, labels: torch.Tensor, k: int = 5
) -> float:
    """Accuracy of a k-NN classifier fitted on training codes, scored on held-out codes."""
    from sklearn.neighbors import KNeighborsClassifier  # here: a sweep's driver never needs scikit-learn

    knn = KNeighborsClassifier(n_neighbors=min(k, len(train_codes)))
    knn.fit(train_codes.cpu().numpy(), train_labels.cpu().numpy())
    return float(knn.score(codes.cpu().numpy(), labels.cpu().numpy()))


def frechet_distance(mu1: np.ndarray, cov1: np.ndarray, mu2: np.ndarray, cov2: np.ndarray) -> float:
    """Fréchet distance between Gaussians N(mu1, cov1) and N(mu2, cov2), as in FID."""
    # tr sqrtm(cov1 cov2) is the sum of the square roots of its eigenvalues, which are real and
    # non-negative for covariances; this stays stable where sqrtm warns on singular features.
    eigenvalues = np.linalg.eigvals(cov1 @ cov2).real.clip(min=0)
    trace = np.trace(cov1) + np.trace(cov2) - 2 * np.sqrt(eigenvalues).sum()
    return float(np.sum((mu1 - mu2) ** 2) + trace)


def inception_score(probs: np.ndarray) -> float:
    """exp E_x KL(p(y|x) || p(y)): 1 for one class or no confidence, 10 for confident, balanced classes."""
    marginal = probs.mean(0, keepdims=True)
    kl = (probs * (np.log(probs + 1e-12) - np.log(marginal + 1e-12))).sum(1)
    return float(np.exp(kl.mean()))


def class_coverage(probs: np.ndarray, min_share: float = 0.01) -> tuple[int, float]:
    """Classes predicted for at least `min_share` of samples, and the KL of the class histogram from uniform."""
    counts = np.bincount(probs.argmax(1), minlength=NUM_CLASSES)
    share = counts / counts.sum()
    covered = int((share >= min_share).sum())
    kl = float(np.sum(share * (np.log(share + 1e-12) - np.log(1 / NUM_CLASSES))))
    return covered, kl


def median_nearest_distance(images: torch.Tensor, reference: torch.Tensor) -> float:
    """The median over images (N, 1, 28, 28) of the L2 distance to the nearest of reference (M, 1, 28, 28): near 0
    for copies of the reference; as far as other real digits are for new ones."""
    return torch.cdist(images.flatten(1), reference.flatten(1)).min(1).values.median().item()


class SampleScorer:
    """Scores generated images against fixed held-out real ones through the judge's eyes."""

    def __init__(self, judge: Judge, real: torch.Tensor, batch_size: int = 500):
        self.judge, self.batch_size = judge, batch_size
        features, _ = self.judge_outputs(real)
        self.real_mu, self.real_cov = features.mean(0), np.cov(features, rowvar=False)

    @torch.no_grad()
    def judge_outputs(self, images: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
        """Judge features (N, 128) and class probabilities (N, 10) of images (N, 1, 28, 28) in [0, 1]."""
        features = batched(self.judge.features, images, next(self.judge.parameters()).device, self.batch_size)
        probs = self.judge.head(features).softmax(1)
        return features.double().cpu().numpy(), probs.double().cpu().numpy()

    def score(self, images: torch.Tensor) -> dict[str, float]:
        features, probs = self.judge_outputs(images)
        covered, kl = class_coverage(probs)
        return {
            "fid": frechet_distance(self.real_mu, self.real_cov, features.mean(0), np.cov(features, rowvar=False)),
            "inception_score": inception_score(probs),
            "class_coverage": covered,
            "class_kl": kl,
        }
