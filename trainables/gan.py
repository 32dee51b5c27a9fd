"""GAN: adversarial training of the report's DCGAN, with samples scored by the judge."""

from __future__ import annotations

import math
from collections.abc import Iterator

import torch
import torch.nn.functional as F
from torch.optim.swa_utils import AveragedModel

from trainables.config.gan import GANConfig
from trainables.data import Data
from trainables.judge import Judge
from trainables.metrics import EVAL_SEED, NUM_CLASSES, SampleScorer, batched
from trainables.models.gan import Discriminator, Generator, to_pixels, to_tanh_range
from trainables.state import batches, restore, seed_everything, snapshot

# What a diverged trial reports: the worst value of each sample metric, so a search learns to avoid it.
DIVERGED = {"fid": math.inf, "inception_score": 1.0, "class_coverage": 0, "class_kl": math.log(NUM_CLASSES)}


def discriminator_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor, loss: str) -> torch.Tensor:
    """The critic's loss on logits (B,) of real and of generated images: the report's cross-entropy, or the hinge
    loss of SN-GAN (Miyato et al., 2018)."""
    if loss == "hinge":
        return F.relu(1 - real_logits).mean() + F.relu(1 + fake_logits).mean()
    return (F.binary_cross_entropy_with_logits(real_logits, torch.ones_like(real_logits))
            + F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits)))


def generator_loss(fooled: torch.Tensor, loss: str) -> torch.Tensor:
    """The generator's loss on the critic's logits (B,) of its images: non-saturating cross-entropy, or hinge's."""
    if loss == "hinge":
        return -fooled.mean()
    return F.binary_cross_entropy_with_logits(fooled, torch.ones_like(fooled))


def gan_step(
    generator: Generator,
    discriminator: Discriminator,
    opt_g: torch.optim.Optimizer,
    opt_d: torch.optim.Optimizer,
    real: torch.Tensor,
    loss: str = "bce",
    info_weight: float = 1.0,
) -> tuple[torch.Tensor, torch.Tensor]:
    """One discriminator step then one generator step on a batch of real images (B, 1, 28, 28) in [-1, 1]. With
    InfoGAN's code, both also learn to make the category of each fake plain to the critic's code head: the mutual
    information term of Chen et al. (2016), weighted by `info_weight`."""
    z = generator.draw(len(real), device=real.device)
    fake = generator(z)
    fake_logits, info = critique(discriminator, fake.detach(), generator, z, info_weight)
    loss_d = discriminator_loss(discriminator(real), fake_logits, loss) + info
    opt_d.zero_grad(set_to_none=True)
    loss_d.backward()
    opt_d.step()

    fooled, info = critique(discriminator, fake, generator, z, info_weight)
    loss_g = generator_loss(fooled, loss) + info
    opt_g.zero_grad(set_to_none=True)
    loss_g.backward()
    opt_g.step()
    return loss_d.detach(), loss_g.detach()


def critique(discriminator: Discriminator, fake: torch.Tensor, generator: Generator, z: torch.Tensor,
             info_weight: float) -> tuple[torch.Tensor, torch.Tensor]:
    """The critic's logits (B,) of fakes drawn from z, and the weighted cross-entropy of its guesses of their
    categories (0 without a code)."""
    if not generator.codes:
        return discriminator(fake), torch.zeros((), device=fake.device)
    logits, guesses = discriminator.with_code(fake)
    return logits, info_weight * F.cross_entropy(guesses, generator.category(z))


def fit_gan(
    cfg: GANConfig, data: Data, judge: Judge, device: torch.device | str = "cpu", state: dict | None = None
) -> Iterator[tuple[dict, dict]]:
    """Train the GAN; yield (metrics, resumable state) after each epoch, stopping early if it diverges."""
    seed_everything(cfg.seed)
    generator = build_generator(cfg).to(device)
    discriminator = Discriminator(cfg.dropout, cfg.width, cfg.spectral_norm, cfg.codes).to(device)
    opt_g = torch.optim.Adam(generator.parameters(), lr=cfg.lr_g, betas=(cfg.beta1, 0.999), fused=True)
    opt_d = torch.optim.Adam(discriminator.parameters(), lr=cfg.lr_d, betas=(cfg.beta1, 0.999), fused=True)
    # Samples come from the average of the generator's recent weights where `ema` > 0 (Yazici et al., "The
    # unusual effectiveness of averaging in GAN training", 2019): sharper digits early, for the cost of a copy.
    parts = {"generator": generator, "discriminator": discriminator, "opt_g": opt_g, "opt_d": opt_d}
    if cfg.ema > 0:
        parts["ema"] = AveragedModel(generator, multi_avg_fn=moving_average(cfg.ema), use_buffers=True)
    start = restore(state, **parts) if state else 0
    sampler = parts["ema"].module if cfg.ema > 0 else generator
    train = to_tanh_range(data.train.images.to(device))
    scorer = SampleScorer(judge, data.val.images[: cfg.eval_size])
    noise = fixed_noise(generator, cfg.eval_size)
    for epoch in range(start + 1, cfg.epochs + 1):
        generator.train(), discriminator.train()
        loss_d = loss_g = torch.zeros((), device=device)
        steps = batches(len(train), cfg.batch_size)
        for idx in steps:
            d, g = gan_step(generator, discriminator, opt_g, opt_d, train[idx.to(device)], cfg.loss, cfg.info_weight)
            loss_d, loss_g = loss_d + d, loss_g + g
            if cfg.ema > 0:
                parts["ema"].update_parameters(generator)
        losses = {"loss_d": loss_d.item() / len(steps), "loss_g": loss_g.item() / len(steps)}
        diverged = not all(map(math.isfinite, losses.values()))
        scores = DIVERGED if diverged else scorer.score(generate(sampler, noise))
        yield {"epoch": epoch, **losses, **scores, "diverged": diverged}, snapshot(epoch, **parts)
        if diverged:
            return


def build_generator(cfg: GANConfig) -> Generator:
    """The generator of a config: what training starts from and a checkpoint's weights are loaded into."""
    return Generator(cfg.latent_dim, cfg.width, cfg.codes)


def moving_average(decay: float):
    """AveragedModel's update: the plain mean of the first 1 / (1 - decay) steps, then an exponential moving average
    (torch's own EMA starts from the first step's weights, which then dominate the average for thousands of steps)."""

    def update(averaged: list[torch.Tensor], current: list[torch.Tensor], num_averaged: torch.Tensor) -> None:
        weight = max(1 - decay, 1 / (float(num_averaged) + 1))
        for average, value in zip(averaged, current):
            average.lerp_(value, weight) if average.is_floating_point() else average.copy_(value)  # BN's step count

    return update


def fixed_noise(generator: Generator, n: int) -> torch.Tensor:
    """The evaluation latents: the same for every trial with this generator's latent_dim and codes."""
    return generator.draw(n, torch.Generator().manual_seed(EVAL_SEED))


@torch.no_grad()
def generate(generator: Generator, z: torch.Tensor, batch_size: int = 500) -> torch.Tensor:
    """Images (N, 1, 28, 28) in [0, 1] from latents z (N, latent_dim + codes), in eval mode."""
    generator.eval()
    return batched(lambda b: to_pixels(generator(b)), z, next(generator.parameters()).device, batch_size)
