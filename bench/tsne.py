"""t-SNE of 10,000 AE latent codes: scikit-learn against openTSNE, in seconds and silhouette by digit, as JSON.

    python -m bench.tsne [--data-dir DIR] [--threads 2] [--epochs 2] [--repeats 3]

Trains the report's AE (latent_dim 10, seed 0) for a few epochs on the MNIST train partition, encodes
all 10,000 images (train, val and test partitions), then embeds the codes in 2-D with each library at
perplexity 30, PCA initialisation and a fixed seed: scikit-learn with its Barnes-Hut gradients, and
openTSNE with each of its two, FFT interpolation (what its "auto" picks from 10,000 points) and
Barnes-Hut (what it picks below). Prints one JSON object to stdout: median seconds, the silhouette of
each embedding by digit class, and whether every repeat (same seed) gave the identical embedding.
A short summary goes to stderr.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time

import numpy as np
import sklearn
import torch
from sklearn.metrics import silhouette_score
from threadpoolctl import threadpool_limits

from analysis.gallery import encode_all
from trainables.data import load_data
from trainables.registry import FAMILIES

PERPLEXITY = 30.0
SEED = 0


def encode_digits(data_dir: str | None, epochs: int) -> tuple[np.ndarray, np.ndarray]:
    """Latent codes (N, latent_dim) and digit labels (N,) of every image, from a briefly trained AE."""
    data = load_data("mnist", data_dir)
    ae = FAMILIES["ae"]
    cfg = ae.config(latent_dim=10, epochs=epochs, seed=SEED)
    for _, state in ae.fit(cfg, data, None, "cpu", None):
        pass
    splits = (data.train, data.val, data.test)
    z = encode_all(ae.build(cfg, state).encoder, torch.cat([s.images for s in splits]))  # (N, latent_dim)
    labels = torch.cat([s.labels for s in splits])
    return z.numpy().astype(np.float64), labels.numpy()


def embed_sklearn(z: np.ndarray, threads: int) -> np.ndarray:
    from sklearn.manifold import TSNE

    tsne = TSNE(2, perplexity=PERPLEXITY, init="pca", method="barnes_hut", random_state=SEED, n_jobs=threads)
    return tsne.fit_transform(z)


def embed_opentsne(z: np.ndarray, threads: int, gradients: str) -> np.ndarray:
    from openTSNE import TSNE

    tsne = TSNE(2, perplexity=PERPLEXITY, initialization="pca", negative_gradient_method=gradients,
                random_state=SEED, n_jobs=threads)
    return np.asarray(tsne.fit(z))


def library_versions() -> dict[str, str]:
    import openTSNE

    return {"sklearn": sklearn.__version__, "opentsne": openTSNE.__version__}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", default=os.environ.get("SWEEPS_DATA_DIR"))
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    if args.repeats < 2:
        parser.error("--repeats must be at least 2: reproducibility compares repeats run with the same seed")

    torch.set_num_threads(args.threads)
    start = time.perf_counter()
    z, labels = encode_digits(args.data_dir, args.epochs)
    results = {
        "codes": len(z), "latent_dim": z.shape[1], "ae_epochs": args.epochs, "threads": args.threads,
        "perplexity": PERPLEXITY, "repeats": args.repeats, "versions": library_versions(),
        "ae_and_encode_s": round(time.perf_counter() - start, 3),
        # The same score on the codes themselves: what a perfect embedding would keep.
        "latent_silhouette": round(float(silhouette_score(z, labels)), 4),
    }
    embedders = {
        "sklearn": embed_sklearn,
        "opentsne_fft": lambda z, threads: embed_opentsne(z, threads, "fft"),
        "opentsne_bh": lambda z, threads: embed_opentsne(z, threads, "bh"),
    }
    wall = {name: [] for name in embedders}
    cpu = {name: [] for name in embedders}
    embeddings = {name: [] for name in embedders}
    # OpenMP and BLAS pools (sklearn's Barnes-Hut gradients, openTSNE's) take every core unless told.
    with threadpool_limits(args.threads):
        # Libraries take turns within each repeat, so that a busy spell on a shared machine slows both.
        for _ in range(args.repeats):
            for name, embed in embedders.items():
                start, start_cpu = time.perf_counter(), time.process_time()
                embeddings[name].append(embed(z, args.threads))
                wall[name].append(time.perf_counter() - start)
                cpu[name].append(time.process_time() - start_cpu)
    for name, runs in embeddings.items():
        results[name] = {
            "median_s": round(statistics.median(wall[name]), 3),
            "seconds": [round(s, 3) for s in wall[name]],
            # CPU seconds of this process over all threads: less swayed than wall time by other work.
            "median_cpu_s": round(statistics.median(cpu[name]), 3),
            "silhouette": round(float(silhouette_score(runs[0], labels)), 4),
            "reproducible": all(np.array_equal(runs[0], e) for e in runs[1:]),
        }
    print(json.dumps(results, indent=2))

    for name in embedders:
        r = results[name]
        print(f"{name:>8}: median {r['median_s']:.1f} s, {r['median_cpu_s']:.1f} CPU s "
              f"(runs {', '.join(f'{s:.1f}' for s in r['seconds'])} s), "
              f"silhouette {r['silhouette']:.3f}, reproducible {r['reproducible']}", file=sys.stderr)
    for name in ("opentsne_fft", "opentsne_bh"):
        ratio = results["sklearn"]["median_s"] / results[name]["median_s"]
        print(f"scikit-learn's median time over {name}'s: {ratio:.2f}", file=sys.stderr)
    print(f"{len(z)} codes; silhouette of the codes themselves: {results['latent_silhouette']:.3f}", file=sys.stderr)

if __name__ == "__main__":
    main()
