from typing import get_args

import pytest
import torch

from trainables.config.glo import LatentNorm, Sampler
from trainables.models.ae import Autoencoder
from trainables.models.gan import Discriminator, Generator
from trainables.models.glo import GLO, sample_latents


@pytest.mark.parametrize("activation", ["relu", "leaky_relu"])
def test_autoencoder_shapes_and_pixel_range(activation):
    torch.manual_seed(0)
    model = Autoencoder(latent_dim=10, activation=activation)
    x = torch.rand(4, 1, 28, 28)
    assert model.encoder(x).shape == (4, 10)
    x_hat = model(x)
    assert x_hat.shape == x.shape and 0 <= x_hat.min() and x_hat.max() <= 1
    (x_hat - x).pow(2).mean().backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in model.parameters())


def test_gan_shapes_and_ranges():
    torch.manual_seed(0)
    generator, discriminator = Generator(latent_dim=16), Discriminator()
    fake = generator(torch.randn(4, 16))
    assert fake.shape == (4, 1, 28, 28) and -1 <= fake.min() and fake.max() <= 1
    logits = discriminator(fake)
    assert logits.shape == (4,) and torch.isfinite(logits).all()
    logits.sum().backward()
    assert all(torch.isfinite(p.grad).all() for p in generator.parameters())


@pytest.mark.parametrize("latent_norm", get_args(LatentNorm))
def test_glo_latents_stay_where_the_normalisation_keeps_them(latent_norm):
    torch.manual_seed(0)
    model = GLO(num_images=8, latent_dim=6, latent_norm=latent_norm)
    assert model(torch.arange(4)).shape == (4, 1, 28, 28)
    with torch.no_grad():
        model.latents.weight.mul_(5)
    model.project_(torch.arange(4))
    norms = model.latents.weight.norm(dim=1)
    if latent_norm == "sphere":
        assert torch.allclose(norms[:4], torch.ones(4))
    elif latent_norm == "ball":
        assert (norms[:4] <= 1 + 1e-6).all()
    else:
        assert norms[0] > 2
    assert (norms[4:] > 2).all()  # untouched rows stay as they were


@pytest.mark.parametrize("sampler", get_args(Sampler))
def test_samplers_draw_normalised_latents(sampler):
    learned = torch.nn.functional.normalize(torch.randn(200, 6) + torch.tensor([2.0, 0, 0, 0, 0, 0]), dim=1)
    draw = lambda: sample_latents(learned, 50, sampler, "sphere", torch.Generator().manual_seed(1), 3)
    z = draw()
    assert z.shape == (50, 6) and torch.allclose(z.norm(dim=1), torch.ones(50), atol=1e-5)
    assert torch.equal(z, draw())  # seeded
    if sampler != "normal_sphere":  # fitted samplers follow the learned latents' mean direction
        assert z[:, 0].mean() > 0.5
