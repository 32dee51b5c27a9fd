"""2-D t-SNE embeddings of latent codes, for figures: seeded and reproducible."""

from __future__ import annotations

import numpy as np

MIN_POINTS = 5
# openTSNE's Barnes-Hut gradients are faster than its FFT ones or scikit-learn's up to 10,000 points, with the
# same silhouette (bench/tsne.py); its own "auto" switches to FFT there, which scales better above.
MAX_BARNES_HUT_POINTS = 10_000
# A fixed count, not the machine's cores: openTSNE's result depends on its thread count, and the
# same seed should give the same figure on a laptop and on a many-core server.
THREADS = 2


def embed_tsne(latents: np.ndarray, seed: int = 0, perplexity: float = 30.0) -> np.ndarray:
    """2-D t-SNE of latent codes (N, D) -> (N, 2) float64; the same seed gives the same embedding.

    The perplexity is lowered to (N - 1) / 3 for small N: t-SNE needs 3 * perplexity neighbours per point.
    """
    from openTSNE import TSNE  # slow import, kept out of `import analysis.tsne`

    x = np.asarray(latents, dtype=np.float64)
    if x.ndim != 2:
        raise ValueError(f"latents must be a 2-D array (points, latent_dim), got shape {x.shape}")
    if len(x) < MIN_POINTS:
        raise ValueError(f"t-SNE needs at least {MIN_POINTS} latent codes, got {len(x)}: embed more points")
    if not np.isfinite(x).all():
        raise ValueError("latents contain NaN or infinite values: drop those codes (e.g. from a diverged trial)")
    if np.ptp(x, axis=0).max() == 0:
        raise ValueError("all latent codes are identical (a collapsed encoder?): there is nothing to embed")
    if perplexity <= 0:
        raise ValueError(f"perplexity must be positive, got {perplexity}")

    tsne = TSNE(
        n_components=2,
        perplexity=min(perplexity, (len(x) - 1) / 3),
        # PCA needs two features to give two axes; 1-D codes start from a seeded random layout.
        initialization="pca" if x.shape[1] >= 2 else "random",
        negative_gradient_method="bh" if len(x) <= MAX_BARNES_HUT_POINTS else "fft",
        n_jobs=THREADS,
        random_state=seed,
    )
    return np.array(tsne.fit(x), dtype=np.float64)  # a plain copy, not openTSNE's embedding with its affinities
