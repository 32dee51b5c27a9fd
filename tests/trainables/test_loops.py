"""Each training loop on a few hundred real digits, without Ray."""

import dataclasses
import io
import math

import pytest
import torch

from tests.families import NAMES, fast_config, fast_values, reports
from trainables.registry import FAMILIES


def run(model, tiny, judge, state=None, **values):
    family = FAMILIES[model]
    return family.fit(fast_config(model, **values), tiny, judge.build() if family.needs_judge else None, "cpu", state)


@pytest.mark.parametrize("model", [name for name in NAMES if reports(name, "val_mse")])
def test_reconstruction_loss_falls(model, tiny, digits_judge):
    history = [metrics for metrics, _ in run(model, tiny, digits_judge, epochs=4)]
    assert [m["epoch"] for m in history] == [1, 2, 3, 4]
    assert history[-1]["train_loss"] < 0.8 * history[0]["train_loss"]
    assert history[-1]["val_mse"] < history[0]["val_mse"]
    for metrics in history:
        assert all(math.isfinite(v) for v in metrics.values() if isinstance(v, float))
        assert 0 <= metrics["knn_acc"] <= 1


def test_dae_reports_denoised_and_noisy_psnr_per_level(tiny, digits_judge):
    metrics, _ = next(run("dae", tiny, digits_judge, epochs=1))
    for level in ("0.05", "0.25", "0.7"):
        assert f"psnr_sigma_{level}" in metrics and f"noisy_psnr_sigma_{level}" in metrics
    assert metrics["noisy_psnr_sigma_0.05"] > metrics["noisy_psnr_sigma_0.25"] > metrics["noisy_psnr_sigma_0.7"]


def test_gan_samples_improve(tiny, digits_judge):
    history = [metrics for metrics, _ in run("gan", tiny, digits_judge, epochs=4)]
    assert not any(m["diverged"] for m in history)
    assert history[-1]["fid"] < history[0]["fid"]
    assert {"fid", "inception_score", "class_coverage", "class_kl"} <= set(history[-1])


def test_glo_reports_sample_and_reconstruction_metrics(tiny, digits_judge):
    metrics, _ = next(run("glo", tiny, digits_judge, epochs=1, sampler="gmm", gmm_components=2))
    assert {"train_mse", "val_mse", "knn_acc", "fid", "inception_score", "class_coverage"} <= set(metrics)


def test_diverging_gan_stops_cleanly_and_says_so(tiny, digits_judge):
    history = [metrics for metrics, _ in run("gan", tiny, digits_judge, epochs=3, lr_g=1e10, lr_d=1e10)]
    assert len(history) == 1 and history[0]["diverged"] is True
    assert history[0]["fid"] == math.inf


def test_infogan_draws_each_category_so_that_the_critic_tells_it(tiny, digits_judge):
    from trainables.models.gan import Discriminator

    values = {"codes": 4, "width": 8, "epochs": 3}
    _, state = list(run("gan", tiny, digits_judge, **values))[-1]
    cfg = fast_config("gan", **values)
    generator = FAMILIES["gan"].build(cfg, state).eval()
    critic = Discriminator(cfg.dropout, cfg.width, cfg.spectral_norm, cfg.codes).eval()
    critic.load_state_dict(state["discriminator"])
    z = generator.draw(400, torch.Generator().manual_seed(1))
    assert torch.equal(z[:, cfg.latent_dim:].sum(1), torch.ones(400)) and generator.category(z).bincount().min() > 50
    with torch.no_grad():
        _, guesses = critic.with_code(generator(z))
    assert (guesses.argmax(1) == generator.category(z)).float().mean() > 0.5  # chance: 0.25


VARIANTS = {"gan-ema": ("gan", {"ema": 0.9, "width": 8}), "gan-info": ("gan", {"codes": 4, "width": 8}),
            "glo-laplacian": ("glo", {"loss": "laplacian_l1", "width": 8})}


@pytest.mark.parametrize(("model", "values"), [(name, {}) for name in NAMES] + list(VARIANTS.values()),
                         ids=NAMES + list(VARIANTS))
def test_resume_from_state_matches_an_uninterrupted_run(model, values, tiny, digits_judge):
    straight = [metrics for metrics, _ in run(model, tiny, digits_judge, epochs=2, seed=3, **values)]
    first, state = next(run(model, tiny, digits_judge, epochs=2, seed=3, **values))
    buffer = io.BytesIO()
    torch.save(state, buffer)  # as a checkpoint would hold it
    buffer.seek(0)
    resumed = [m for m, _ in run(model, tiny, digits_judge, torch.load(buffer, weights_only=True), epochs=2, seed=3,
                                 **values)]
    assert first == straight[0]
    assert resumed == straight[1:]


def test_ae_knn_is_fitted_on_the_first_knn_size_training_codes(tiny, digits_judge):
    # One reference code: every held-out code gets its label, so the accuracy is that label's share.
    metrics, _ = next(run("ae", tiny, digits_judge, epochs=1, knn_size=1))
    val = tiny.val.head(fast_values("ae")["eval_size"])
    assert metrics["knn_acc"] == pytest.approx((val.labels == tiny.train.labels[0]).float().mean().item())


def test_glo_encodes_held_out_images_every_encode_every_epochs_and_after_the_last(tiny, digits_judge):
    history = [metrics for metrics, _ in run("glo", tiny, digits_judge, epochs=5, encode_every=2)]
    assert [m["epoch"] for m in history if "val_mse" in m] == [2, 4, 5]
    assert all({"knn_acc", "val_psnr"} <= set(m) for m in history if "val_mse" in m)
    assert all({"fid", "train_mse"} <= set(m) for m in history)


def test_gan_samples_come_from_the_weight_average_which_its_checkpoint_rebuilds(tiny, digits_judge):
    from trainables.gan import fixed_noise, generate
    from trainables.metrics import SampleScorer

    values = {"epochs": 2, "ema": 0.5, "width": 8}
    metrics, state = list(run("gan", tiny, digits_judge, **values))[-1]
    cfg, build = fast_config("gan", **values), FAMILIES["gan"].build
    averaged, raw = build(cfg, state), build(dataclasses.replace(cfg, ema=0.0), state)
    noise = fixed_noise(averaged, cfg.eval_size)
    scorer = SampleScorer(digits_judge.build(), tiny.val.images[: cfg.eval_size])
    assert scorer.score(generate(averaged, noise))["fid"] == pytest.approx(metrics["fid"])
    assert not torch.equal(generate(averaged, noise), generate(raw, noise))


def test_glo_losses_agree_on_a_perfect_fit_and_differ_otherwise():
    from trainables.glo import laplacian_pyramid, reconstruction_loss

    x = torch.rand(4, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    levels = laplacian_pyramid(x)
    assert [level.shape[-1] for level in levels] == [28, 14, 7]
    blur = torch.nn.functional.avg_pool2d(x, 3, 1, 1)
    for loss in ("l2", "l1", "laplacian_l1"):
        assert reconstruction_loss(x, x, loss) == 0
        assert reconstruction_loss(blur, x, loss) > 0
    assert not torch.isclose(reconstruction_loss(blur, x, "laplacian_l1"), reconstruction_loss(blur, x, "l1"))
