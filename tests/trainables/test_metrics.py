import numpy as np
import torch

from trainables.metrics import SampleScorer, frechet_distance, inception_score, knn_accuracy, psnr


# What the judge reaches on real samples of each: MNIST's partition trains it on 7,000 images, scikit-learn's
# digits on 1,258 (it scores 0.94 and an inception score of 6.5 there).
JUDGE_ACCURACY = {"mnist": 0.97, "digits": 0.92}
REAL_INCEPTION_SCORE = {"mnist": 8, "digits": 6}


def test_judge_is_accurate_on_held_out_data(real_judge, real_data):
    assert real_judge.accuracy > JUDGE_ACCURACY[real_data.name]
    assert real_judge.fingerprint == real_data.fingerprint


def test_judge_is_cached_on_disk(real_data, real_judge, cache_dir):
    from trainables.judge import load_judge

    assert list(cache_dir.glob(f"judge-{real_data.fingerprint}.pt"))
    again = load_judge(real_data, cache_dir)
    assert again.accuracy == real_judge.accuracy


def test_the_second_judge_is_another_network_taught_other_digits(real_data, real_judge, cache_dir):
    from trainables.judge import Judge, SecondJudge, load_judge, partitions

    second = load_judge(real_data, cache_dir, second=True)
    assert isinstance(second.build(), SecondJudge) and isinstance(real_judge.build(), Judge)
    assert list(cache_dir.glob(f"second-judge-{real_data.fingerprint}.pt"))
    split = partitions(real_data, second=True)  # taught validation and test digits; tested on all training digits
    assert len(split.taught) == len(real_data.val) + len(real_data.test) and len(split.tested) == len(real_data.train)
    assert second.accuracy > JUDGE_ACCURACY[real_data.name]
    scorer = SampleScorer(second.build(), split.reference.images[:1000])
    real = scorer.score(split.held_out.images[:1000])
    noise = scorer.score(torch.rand(1000, 1, 28, 28, generator=torch.Generator().manual_seed(0)))
    assert real["inception_score"] > REAL_INCEPTION_SCORE[real_data.name] and real["class_coverage"] == 10
    assert noise["fid"] > 10 * real["fid"] and noise["inception_score"] < 2


def test_fid_and_inception_score_tell_real_from_broken_samples(real_data, real_judge):
    scorer = SampleScorer(real_judge.build(), real_data.val.images[:1000])
    real = scorer.score(real_data.train.images[:1000])
    noise = scorer.score(torch.rand(1000, 1, 28, 28, generator=torch.Generator().manual_seed(0)))
    one_digit = scorer.score(real_data.train.images[:1].expand(1000, -1, -1, -1))
    assert real["fid"] < 30 and real["class_coverage"] == 10
    assert real["inception_score"] > REAL_INCEPTION_SCORE[real_data.name]
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
