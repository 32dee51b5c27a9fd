"""Figures draw what they are given: the right number of images, lines, points and labels, and save as PNG."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from analysis import figures


def random_images(count: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(0, 1, (count, 28, 28))  # (N, 28, 28)


def images_of(fig: Figure) -> list:
    return [image for ax in fig.axes for image in ax.get_images()]


def titles_of(fig: Figure) -> list[str]:
    return [ax.get_title() for ax in fig.axes if ax.get_title()]


def texts_of(fig: Figure) -> list[str]:
    return [text.get_text() for ax in fig.axes for text in ax.texts]


def test_save_figure_creates_folders_and_writes_a_png(tmp_path):
    path = figures.save_figure(figures.plot_image_grid(random_images(4), 2, 2), tmp_path / "report" / "grid.png")
    assert path == tmp_path / "report" / "grid.png"
    data = path.read_bytes()
    assert data.startswith(b"\x89PNG") and len(data) > 1000


def test_image_grid_shows_the_first_images_and_blanks_the_rest():
    images = random_images(5)
    fig = figures.plot_image_grid(images, 2, 3, "samples", labels=[f"judge: {i}" for i in range(5)])
    assert len(fig.axes) == 6
    shown = images_of(fig)
    assert len(shown) == 5
    assert np.array_equal(shown[4].get_array(), images[4])
    assert titles_of(fig) == [f"judge: {i}" for i in range(5)]
    assert fig.get_suptitle() == "samples"
    assert not any(ax.axison for ax in fig.axes)
    assert all(image.get_clim() == (0.0, 1.0) and image.get_cmap().name == "gray" for image in shown)


def test_image_grid_stops_at_rows_times_cols():
    assert len(images_of(figures.plot_image_grid(random_images(8), 2, 3))) == 6


def test_image_grid_rejects_too_few_labels():
    with pytest.raises(ValueError, match="one label per image"):
        figures.plot_image_grid(random_images(4), 2, 2, labels=["a", "b"])


def test_triplets_give_one_row_per_digit_under_three_headings():
    fig = figures.plot_triplets(random_images(3, 1), random_images(3, 2), random_images(3, 3))
    assert len(images_of(fig)) == 9
    assert titles_of(fig) == ["clean", "noisy", "denoised"]


def test_interpolation_is_one_strip_from_start_to_end():
    fig = figures.plot_interpolation(random_images(7))
    assert len(images_of(fig)) == 7
    assert fig.axes[0].get_title() == "start" and fig.axes[-1].get_title() == "end"
    assert titles_of(fig) == ["start", "end"]


def test_arithmetic_rows_read_x_plus_y_equals_z():
    fig = figures.plot_arithmetic(random_images(2, 1), random_images(2, 2), random_images(2, 3),
                                  ["judge: 1", "judge: 3"], ["judge: 7", "judge: 6"], ["judge: 9", "judge: 8"])
    assert len(images_of(fig)) == 6
    assert texts_of(fig) == ["+", "=", "+", "="]
    assert titles_of(fig) == ["judge: 1", "judge: 7", "judge: 9", "judge: 3", "judge: 6", "judge: 8"]


def test_reconstructions_pair_rows_by_class_in_order_of_appearance():
    originals, reconstructions = random_images(5, 1), random_images(5, 2)
    labels = np.array([3, 1, 3, 1, 3])
    fig = figures.plot_reconstructions(originals, reconstructions, labels)
    assert len(fig.axes) == 4 * 3  # two classes, two rows each, three columns for the three 3s
    assert len(images_of(fig)) == 10
    assert texts_of(fig) == ["original 3", "reconstruction 3", "original 1", "reconstruction 1"]
    grid = np.array(fig.axes).reshape(4, 3)
    assert np.array_equal(grid[0, 1].get_images()[0].get_array(), originals[2])
    assert np.array_equal(grid[1, 1].get_images()[0].get_array(), reconstructions[2])
    assert np.array_equal(grid[2, 0].get_images()[0].get_array(), originals[1])
    assert not grid[2, 2].get_images()  # only two 1s


def test_embedding_has_one_legend_entry_per_class_present():
    rng = np.random.default_rng(0)
    labels = rng.choice([0, 2, 5], 60)
    fig = figures.plot_embedding(rng.normal(size=(60, 2)), labels, "codes")
    ax = fig.axes[0]
    assert [text.get_text() for text in ax.get_legend().get_texts()] == ["0", "2", "5"]
    assert sum(len(points.get_offsets()) for points in ax.collections) == 60
    assert ax.get_aspect() == 1.0


@pytest.mark.parametrize("mode, best", [("min", [3, 2, 2, 1]), ("max", [3, 3, 4, 4])])
def test_optimization_history_skips_silent_trials_and_tracks_the_best(mode, best):
    fig = figures.plot_optimization_history(np.array([3, np.nan, 2, 4, 1]), mode, "fid")
    ax = fig.axes[0]
    assert np.array_equal(ax.collections[0].get_offsets()[:, 0], [0, 2, 3, 4])
    assert np.array_equal(ax.lines[0].get_ydata(), best)
    assert ax.get_xlabel() == "trial (in start order)" and ax.get_ylabel() == "fid"


def test_optimization_history_rejects_an_unknown_mode():
    with pytest.raises(ValueError, match="'min' or 'max'"):
        figures.plot_optimization_history(np.ones(3), "best", "fid")


def sweep_table(trials: int = 12) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame({
        "lr": 10 ** rng.uniform(-4, -2, trials),
        "batch_size": rng.choice([128, 32, 64], trials),
        "activation": rng.choice(["relu", "gelu"], trials),
        "noise_std": rng.uniform(0, 0.5, trials),
        "fid": rng.uniform(10, 100, trials),
    })


def test_metric_vs_params_draws_one_panel_per_parameter_in_rows_of_three():
    table = sweep_table()
    table.loc[0, "fid"] = np.nan
    params = {"lr": "log", "batch_size": "categorical", "activation": "categorical", "noise_std": "linear"}
    fig = figures.plot_metric_vs_params(table, "fid", params)
    assert len(fig.axes) == 6 and [ax.axison for ax in fig.axes] == [True] * 4 + [False] * 2
    lr, batch, activation, noise = fig.axes[:4]
    assert lr.get_xscale() == "log" and noise.get_xscale() == "linear"
    assert [label.get_text() for label in batch.get_xticklabels()] == ["32", "64", "128"]
    assert sorted(label.get_text() for label in activation.get_xticklabels()) == ["gelu", "relu"]
    assert all(len(ax.collections[0].get_offsets()) == 11 for ax in fig.axes[:4])  # the NaN trial is left out
    assert [ax.get_xlabel() for ax in fig.axes[:4]] == list(params)


def test_metric_vs_params_names_every_problem_at_once():
    with pytest.raises(ValueError) as error:
        figures.plot_metric_vs_params(sweep_table(), "loss", {"lr": "exp", "depth": "linear"})
    message = str(error.value)
    assert "'loss'" in message and "'depth'" in message and "'exp'" in message


def learning_curves() -> pd.DataFrame:
    lengths = {"a": 5, "b": 2, "c": 5, "d": 1}
    return pd.DataFrame([{"trial_id": trial_id, "epoch": epoch, "fid": 100.0 / epoch + len(trial_id)}
                         for trial_id, epochs in lengths.items() for epoch in range(1, epochs + 1)])


def test_learning_curves_mark_where_stopped_trials_ended():
    fig = figures.plot_learning_curves(learning_curves(), "fid", stopped={"b", "d"})
    ax = fig.axes[0]
    assert len(ax.lines) == 4
    assert [line.get_marker() for line in ax.lines] == ["None", "None", "None", "o"]  # d's one epoch: a dot
    ends = ax.collections[0].get_offsets()
    assert sorted(map(tuple, ends)) == [(1, 101.0), (2, 51.0)]
    assert [text.get_text() for text in ax.get_legend().get_texts()] == ["stopped early (ASHA)"]
    assert ax.get_xlabel() == "epoch"


def test_learning_curves_without_stopped_trials_have_no_marks():
    ax = figures.plot_learning_curves(learning_curves(), "fid").axes[0]
    assert len(ax.lines) == 4 and not ax.collections and ax.get_legend() is None


def test_many_learning_curves_are_one_collection_and_count_the_stopped_trials(monkeypatch):
    monkeypatch.setattr(figures, "MANY_CURVES", 3)
    ax = figures.plot_learning_curves(learning_curves(), "fid", stopped={"b", "d"}).axes[0]
    curves, dots = ax.collections
    assert not ax.lines and sorted(len(curve) for curve in curves.get_segments()) == [1, 2, 5, 5]
    assert dots.get_offsets().tolist() == [[1, 101.0]]  # d's one epoch, which a line would not draw
    assert [text.get_text() for text in ax.texts] == ["2 of 4 stopped early (ASHA)"]
    low, high = ax.get_ylim()
    assert low <= 21.0 and high >= 101.0  # the axes span every curve, as they do for lines


def test_importance_puts_the_largest_on_top():
    importance = pd.Series({"noise_std": 0.2, "lr": 0.5, "batch_size": 0.1})
    ax = figures.plot_importance(importance, "fid").axes[0]
    top_down = sorted(ax.patches, key=lambda bar: -bar.get_y())
    assert [bar.get_width() for bar in top_down] == [0.5, 0.2, 0.1]
    assert [label.get_text() for label in ax.get_yticklabels()][::-1] == ["lr", "noise_std", "batch_size"]
    assert ax.get_xlabel() == "importance for fid"


def test_metric_distribution_counts_finite_values_and_marks_the_best():
    values = np.array([1.0, 2.0, 2.5, np.nan, np.inf, 3.0])
    ax = figures.plot_metric_distribution(values, "fid", best=1.0).axes[0]
    heights = [bar.get_height() for bar in ax.patches]
    assert sum(heights) == 4 and len(heights) >= 5
    (line,) = ax.lines
    assert line.get_linestyle() == "--" and list(line.get_xdata()) == [1.0, 1.0]
    assert ax.get_legend() is not None


def test_metric_distribution_without_best_draws_no_line():
    ax = figures.plot_metric_distribution(np.arange(50.0), "fid").axes[0]
    assert not ax.lines and sum(bar.get_height() for bar in ax.patches) == 50


EVERY_FIGURE = {
    "embedding": lambda: figures.plot_embedding(np.random.default_rng(0).normal(size=(30, 2)), np.arange(30) % 10),
    "grid": lambda: figures.plot_image_grid(random_images(3), 2, 2, "t", ["a", "b", "c"]),
    "triplets": lambda: figures.plot_triplets(*(random_images(2, seed) for seed in range(3)), "t"),
    "interpolation": lambda: figures.plot_interpolation(random_images(20), "t"),
    "arithmetic": lambda: figures.plot_arithmetic(*(random_images(1, seed) for seed in range(3)), ["x"], ["y"], ["z"]),
    "reconstructions": lambda: figures.plot_reconstructions(random_images(4), random_images(4), np.array([0, 1, 0, 1])),
    "history": lambda: figures.plot_optimization_history(np.array([np.nan, 1.0, 2.0]), "max", "acc"),
    "params": lambda: figures.plot_metric_vs_params(sweep_table(), "fid", {"lr": "log"}),
    "curves": lambda: figures.plot_learning_curves(learning_curves(), "fid", {"b"}),
    "importance": lambda: figures.plot_importance(pd.Series({"lr": 1.0}), "fid"),
    "distribution": lambda: figures.plot_metric_distribution(np.array([np.nan, np.nan]), "fid", best=None),
}


@pytest.mark.parametrize("name", EVERY_FIGURE)
def test_every_figure_saves_as_png(name, tmp_path):
    path = figures.save_figure(EVERY_FIGURE[name](), tmp_path / "figures" / f"{name}.png")
    assert path.read_bytes().startswith(b"\x89PNG")
