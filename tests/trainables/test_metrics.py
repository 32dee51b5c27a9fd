import numpy as np
import torch

from trainables.metrics import SampleScorer, frechet_distance, inception_score, knn_accuracy, psnr


def test_judge_is_accurate_on_held_out_mnist(mnist_judge, mnist):
    assert mnist_judge.accuracy > 0.97
    assert mnist_judge.fingerprint == mnist.fingerprint


def test_judge_is_cached_on_disk(mnist, mnist_judge, cache_dir):
    from trainables.judge import load_judge

    assert list(cache_dir.glob(f"judge-{mnist.fingerprint}.pt"))
    again = load_judge(mnist, cache_dir)
    assert again.accuracy == mnist_judge.accuracy


def test_fid_and_inception_score_tell_real_from_broken_samples(mnist, mnist_judge):
    scorer = SampleScorer(mnist_judge.build(), mnist.val.images[:1000])
    real = scorer.score(mnist.train.images[:1000])
    noise = scorer.score(torch.rand(1000, 1, 28, 28, generator=torch.Generator().manual_seed(0)))
    one_digit = scorer.score(mnist.train.images[:1].expand(1000, -1, -1, -1))
    assert real["fid"] < 30 and real["inception_score"] > 8 and real["class_coverage"] == 10
    assert noise["fid"] > 10 * real["fid"] and one_digit["fid"] > 10 * real["fid"]
    assert one_digit["inception_score"] < 1.05 and one_digit["class_coverage"] == 1
    assert noise["inception_score"] < 2


def test_frechet_distance_of_gaussians():
    mu, cov = np.zeros(3), np.eye(3)
    assert abs(frechet_distance(mu, cov, mu, cov)) < 1e-9
    assert abs(frechet_distance(mu, cov, mu + 1, 4 * cov) - (3 + 3 * (1 + 4 - 2 * 2))) < 1e-9


def test_inception_score_bounds():
    assert abs(inception_score(np.eye(10)) - 10) < 1e-6
    assert abs(inception_score(np.full((5, 10), 0.1)) - 1) < 1e-6


def test_psnr_and_knn():
    x = torch.rand(2, 1, 28, 28)
    assert abs(psnr(x, x + 0.1) - 20) < 1e-3
    codes = torch.cat([torch.zeros(10, 2), torch.ones(10, 2)])
    labels = torch.tensor([0] * 10 + [1] * 10)
    assert knn_accuracy(codes, labels, codes + 0.1, labels) == 1.0
