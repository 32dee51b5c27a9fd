"""Training throughput of each model's standalone loop (no Ray), in images per second, as JSON.

    python bench/throughput.py [--dataset mnist] [--data-dir DIR] [--threads 2] [--steps 60]
"""

from __future__ import annotations

import argparse
import json
import time

import torch

from trainables.autoencoder import AEConfig, DAEConfig, reconstruction_loss
from trainables.data import load_data
from trainables.gan import GANConfig, gan_step
from trainables.glo import GLOConfig, glo_step
from trainables.models.ae import Autoencoder
from trainables.models.gan import Discriminator, Generator, to_tanh_range
from trainables.models.glo import GLO


def step_functions(images: torch.Tensor):
    """For each model, a closure running one training step on a batch index tensor, at report settings."""
    ae, dae, gan, glo = AEConfig(), DAEConfig(), GANConfig(), GLOConfig()
    autoencoder = Autoencoder(ae.latent_dim, ae.activation)
    opt_ae = torch.optim.Adam(autoencoder.parameters(), lr=ae.lr)
    denoiser = Autoencoder(dae.latent_dim, dae.activation)
    opt_dae = torch.optim.Adam(denoiser.parameters(), lr=dae.lr)
    generator, discriminator = Generator(gan.latent_dim), Discriminator(gan.dropout)
    betas = (gan.beta1, 0.999)
    opt_g = torch.optim.Adam(generator.parameters(), lr=gan.lr_g, betas=betas)
    opt_d = torch.optim.Adam(discriminator.parameters(), lr=gan.lr_d, betas=betas)
    model = GLO(len(images), glo.latent_dim, glo.latent_norm)
    opt_gg = torch.optim.Adam(model.generator.parameters(), lr=glo.lr_generator)
    opt_z = torch.optim.SparseAdam(model.latents.parameters(), lr=glo.lr_latent)
    tanh_images = to_tanh_range(images)

    def train_autoencoder(net, optimizer, noise_std):
        def step(idx):
            loss = reconstruction_loss(net, images[idx], noise_std)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        return step

    def train_gan(idx):
        gan_step(generator, discriminator, opt_g, opt_d, tanh_images[idx], gan.latent_dim)

    return {
        "ae": (ae.batch_size, train_autoencoder(autoencoder, opt_ae, 0.0)),
        "dae": (dae.batch_size, train_autoencoder(denoiser, opt_dae, dae.noise_std)),
        "gan": (gan.batch_size, train_gan),
        "glo": (glo.batch_size, lambda idx: glo_step(model, opt_gg, opt_z, images[idx], idx)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="mnist")
    parser.add_argument("--data-dir")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--steps", type=int, default=60)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    images = load_data(args.dataset, args.data_dir).train.images
    results = {"dataset": args.dataset, "threads": args.threads, "torch": torch.__version__}
    for name, (batch_size, step) in step_functions(images).items():
        order = torch.randperm(len(images)).split(batch_size)
        for idx in order[:5]:  # warm-up
            step(idx)
        start = time.perf_counter()
        for idx in order[5 : 5 + args.steps]:
            step(idx)
        seconds = time.perf_counter() - start
        results[f"{name}_images_per_s"] = round(args.steps * batch_size / seconds, 1)
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
