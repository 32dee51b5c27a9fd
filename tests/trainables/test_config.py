import pytest

from trainables.config import ConfigError, parse_config
from trainables.families.autoencoder import AEConfig, DAEConfig
from trainables.families.glo import GLOConfig


def test_every_problem_is_reported_at_once_with_its_field():
    with pytest.raises(ConfigError) as error:
        parse_config(DAEConfig, {"latnt_dim": 3, "lr": -1, "activation": "tanh", "epochs": 1.5})
    problems = error.value.problems
    assert len(problems) == 4
    assert "did you mean `latent_dim`" in problems[0]
    assert any("`lr` = -1" in p and "greater than 0" in p for p in problems)
    assert any("`activation` = 'tanh'" in p and "'relu' or 'leaky_relu'" in p for p in problems)
    assert any("`epochs` = 1.5" in p for p in problems)


def test_strings_from_the_command_line_are_parsed():
    cfg = parse_config(GLOConfig, {"latent_dim": "16", "lr_latent": "1e-3", "sampler": "gmm"})
    assert (cfg.latent_dim, cfg.lr_latent, cfg.sampler) == (16, 1e-3, "gmm")


def test_ae_takes_no_noise_and_defaults_follow_the_report():
    with pytest.raises(ConfigError, match="noise_std"):
        parse_config(AEConfig, {"noise_std": 0.1})
    assert (AEConfig().latent_dim, AEConfig().lr, AEConfig().batch_size, AEConfig().epochs) == (10, 0.01, 32, 10)
    assert DAEConfig().activation == "leaky_relu" and DAEConfig().eval_noise_stds == (0.05, 0.25, 0.7)
    assert (GLOConfig().latent_dim, GLOConfig().latent_norm) == (74, "sphere")
