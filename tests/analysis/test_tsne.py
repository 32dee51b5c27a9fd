import numpy as np
import pytest
import torch
from sklearn.metrics import silhouette_score

from analysis.gallery import tsne_panel
from analysis.tsne import embed_tsne


def blobs(n_per_blob: int = 20, dim: int = 10, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Three unit-variance Gaussian blobs in `dim` dimensions, centres 10 apart along separate axes."""
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(3), n_per_blob)
    centres = 10 * np.eye(3, dim)
    return centres[labels] + rng.normal(size=(len(labels), dim)), labels


def test_embedding_has_two_columns_per_code():
    x, _ = blobs()
    xy = embed_tsne(x)
    assert xy.shape == (60, 2) and xy.dtype == np.float64
    assert np.isfinite(xy).all()


def test_same_seed_gives_the_same_embedding_and_another_seed_another():
    x, _ = blobs()
    first = embed_tsne(x, seed=3)
    assert np.array_equal(first, embed_tsne(x, seed=3))
    assert not np.allclose(first, embed_tsne(x, seed=4))


def test_separated_clusters_stay_separated():
    x, labels = blobs()
    assert silhouette_score(embed_tsne(x), labels) > 0.5


@pytest.mark.parametrize("n, dim", [(5, 10), (7, 1)])
def test_tiny_inputs_lower_the_perplexity(n, dim):
    x = np.random.default_rng(0).normal(size=(n, dim))
    xy = embed_tsne(x, perplexity=30)
    assert xy.shape == (n, 2) and np.isfinite(xy).all()


@pytest.mark.parametrize(
    "latents, message",
    [
        (np.zeros((4, 3)), "at least 5"),
        (np.zeros(10), "2-D array"),
        (np.full((10, 2), np.nan), "NaN"),
        (np.ones((10, 2)), "identical"),
    ],
)
def test_unusable_latents_raise_a_clear_error(latents, message):
    with pytest.raises(ValueError, match=message):
        embed_tsne(latents)


def test_a_collapsed_encoder_s_map_says_why_in_its_place():
    panel = tsne_panel("tsne", torch.zeros(100, 8), torch.arange(100) % 10, "AE latents", "Test digits.", seed=0)
    ax = panel.figure.axes[0]
    assert ax.get_title() == "AE latents" and not ax.collections  # no points
    assert "identical" in ax.texts[0].get_text() and panel.caption == "Test digits."
