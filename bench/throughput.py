"""Training images/second of each model's step at its sweep batch sizes: the trainables' data path against
a torch DataLoader over the same tensors, and their fused Adam against Adam's default implementation.

    python -m bench.throughput [--data-dir DIR] [--threads 1] [--images 2000] [--repeats 5]

The trainables index the whole training set, held as one tensor, with a fresh random permutation cut into
batches (`trainables.state.batches`); the usual way is `DataLoader(TensorDataset(images), batch_size,
shuffle=True)`, which fetches and collates images one by one. Both feed the same step function (the one
the trainable runs, at the report's settings), one pass over `--images` images each. A third pass runs the
step with `torch.optim.Adam`'s default implementation (on the CPU, a loop over the parameters) in place
of the fused one the trainables use. The three take turns within each repeat. The data paths are timed
once more feeding no step at all: their own cost. One thread by default, in every thread pool: what a
1-CPU trial gets.
"""

from __future__ import annotations

import time
from statistics import median

import torch
from torch.utils.data import DataLoader, TensorDataset

from bench.common import build_parser, emit, limit_threads, ratio, run
from trainables.autoencoder import reconstruction_loss
from trainables.data import load_data
from trainables.families.autoencoder import AEConfig, DAEConfig
from trainables.families.gan import GANConfig
from trainables.families.glo import GLOConfig
from trainables.gan import gan_step
from trainables.glo import glo_step
from trainables.models.ae import Autoencoder
from trainables.models.gan import Discriminator, Generator, to_tanh_range
from trainables.models.glo import GLO
from trainables.state import batches

# The batch sizes each model's shipped sweep file tries.
SWEEP_BATCH_SIZES = {"ae": (16, 32, 64, 128), "dae": (32,), "gan": (32, 64, 128), "glo": (32,)}
SWEEP_BATCH_SIZES["data only"] = (16, 32, 64, 128)


def build_steps(images: torch.Tensor, fused: bool = True) -> dict:
    """For each model, its training step on (batch indices, batch images), at the report's settings."""
    ae, dae, gan, glo = AEConfig(), DAEConfig(), GANConfig(), GLOConfig()
    autoencoder, denoiser = Autoencoder(ae.latent_dim, ae.activation), Autoencoder(dae.latent_dim, dae.activation)
    # Optimisers as the trainables build them (fused), or with Adam's default implementation.
    opt_ae = torch.optim.Adam(autoencoder.parameters(), lr=ae.lr, fused=fused)
    opt_dae = torch.optim.Adam(denoiser.parameters(), lr=dae.lr, fused=fused)
    generator, discriminator = Generator(gan.latent_dim), Discriminator(gan.dropout)
    opt_g = torch.optim.Adam(generator.parameters(), lr=gan.lr_g, betas=(gan.beta1, 0.999), fused=fused)
    opt_d = torch.optim.Adam(discriminator.parameters(), lr=gan.lr_d, betas=(gan.beta1, 0.999), fused=fused)
    model = GLO(len(images), glo.latent_dim, glo.latent_norm)
    opt_glo = torch.optim.Adam(model.generator.parameters(), lr=glo.lr_generator, fused=fused)
    opt_z = torch.optim.SparseAdam(model.latents.parameters(), lr=glo.lr_latent)

    def autoencoder_step(net, optimizer, noise_std):
        def step(idx, x):
            loss = reconstruction_loss(net, x, noise_std)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        return step

    return {
        "ae": autoencoder_step(autoencoder, opt_ae, 0.0),
        "dae": autoencoder_step(denoiser, opt_dae, dae.noise_std),
        "gan": lambda idx, x: gan_step(generator, discriminator, opt_g, opt_d, to_tanh_range(x)),
        "glo": lambda idx, x: glo_step(model, opt_glo, opt_z, x, idx),
    }


def indexed_pass(step, images: torch.Tensor, batch_size: int) -> None:
    for idx in batches(len(images), batch_size):
        step(idx, images[idx])


def loader_pass(step, images: torch.Tensor, batch_size: int) -> None:
    loader = DataLoader(TensorDataset(torch.arange(len(images)), images), batch_size=batch_size, shuffle=True)
    for idx, x in loader:
        step(idx, x)


def main() -> None:
    parser = build_parser(__doc__)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--images", type=int, default=2000, help="images per pass (default: 2000)")
    parser.set_defaults(repeats=5)  # short passes: more of them, against bursts of other work
    args = parser.parse_args()
    limit_threads(args.threads)
    torch.manual_seed(0)
    images = load_data("mnist", args.data_dir).train.images[: args.images]
    steps = {"fused": build_steps(images), "unfused": build_steps(images, fused=False)}
    steps["fused"]["data only"] = lambda idx, x: None
    variants = {  # name: (data path, steps)
        "indexed": (indexed_pass, steps["fused"]),
        "dataloader": (loader_pass, steps["fused"]),
        "adam_unfused": (indexed_pass, steps["unfused"]),
    }
    results = {"threads": args.threads, "images": len(images), "repeats": args.repeats, "torch": torch.__version__}
    summary = [f"images/s at {args.threads} thread(s), median of {args.repeats}: indexed tensors vs DataLoader; "
               "fused Adam (the trainables') over the default"]
    for model, sizes in SWEEP_BATCH_SIZES.items():
        for batch_size in sizes:
            names = [name for name, (_, table) in variants.items() if model in table]
            seconds = {name: [] for name in names}
            indexed_pass(steps["fused"][model], images[:5 * batch_size], batch_size)  # warm-up
            for _ in range(args.repeats):
                for name in names:
                    run, table = variants[name]
                    start = time.perf_counter()
                    run(table[model], images, batch_size)
                    seconds[name].append(time.perf_counter() - start)
            rate = {name: round(len(images) / median(s), 1) for name, s in seconds.items()}
            r = {f"{name}_images_per_s": v for name, v in rate.items()}
            r["indexed_over_dataloader"] = ratio(rate["indexed"], rate["dataloader"])
            line = f"  {model:>9} batch {batch_size:>3}: {rate['indexed']:7.0f} vs {rate['dataloader']:7.0f} " \
                   f"({r['indexed_over_dataloader']:.2f}x)"
            if "adam_unfused" in rate:
                r["fused_over_unfused"] = ratio(rate["indexed"], rate["adam_unfused"])
                line += f"; fused Adam {r['fused_over_unfused']:.2f}x"
            results[f"{model.replace(' ', '_')}_b{batch_size}"] = r
            summary.append(line)
    emit(results, summary)


if __name__ == "__main__":
    run(main)
