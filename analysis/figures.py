"""Figures of digits, latent spaces and sweep results: pure functions that return a matplotlib Figure."""

from __future__ import annotations

import textwrap
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator, NullFormatter

CELL = 1.0  # inches per 28x28 image, so a 4x4 grid is about 4x4 inches
KINDS = ("log", "linear", "categorical")
MANY_CURVES = 100  # learning curves drawn one Line2D each, in colour; more take seconds and hide one another


def save_figure(fig: Figure, path) -> Path:
    """Write `fig` as a PNG at `path`, creating missing folders; the only function here that writes files."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="png", dpi=100, bbox_inches="tight")
    return path


def show_image(ax: Axes, image: np.ndarray, title: str | None = None) -> None:
    """One (28, 28) image in [0, 1], in grey on a fixed scale so brightness compares across cells."""
    ax.imshow(image, cmap="gray", vmin=0.0, vmax=1.0)
    ax.axis("off")
    if title is not None:
        ax.set_title(title, fontsize=8)


def image_axes(rows: int, cols: int, title: str, width_ratios=None, label_room: float = 0.0, left_room: float = 0.0,
               cell: float = CELL):
    """A figure of rows x cols image cells; `label_room` adds inches per row for titles, `left_room` for row names."""
    width = cell * (sum(width_ratios) if width_ratios else cols) + left_room
    height = (cell + label_room) * rows + (0.4 if title else 0.0)
    fig = Figure(figsize=(width, height), layout="constrained")
    fig.get_layout_engine().set(w_pad=0.01, h_pad=0.01, wspace=0.02, hspace=0.02)
    axes = fig.subplots(rows, cols, squeeze=False, gridspec_kw={"width_ratios": width_ratios})
    if title:
        fig.suptitle(title)
    return fig, axes


def plot_embedding(xy: np.ndarray, labels: np.ndarray, title: str = "") -> Figure:
    """2-D points (N, 2) coloured by digit class, one legend entry per class present."""
    fig = Figure(figsize=(6, 6), layout="constrained")
    ax = fig.subplots()
    colours = matplotlib.colormaps["tab10"]
    for digit in np.unique(labels):
        at = labels == digit
        ax.scatter(xy[at, 0], xy[at, 1], s=3, alpha=0.7, color=colours(int(digit) % 10), label=str(int(digit)))
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.legend(title="digit", markerscale=3, fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1))
    ax.set_title(title)
    return fig


def plot_message(message: str, title: str = "") -> Figure:
    """In place of a figure that cannot be drawn: why, in words."""
    fig = Figure(figsize=(6, 2), layout="constrained")
    ax = fig.subplots()
    ax.axis("off")
    ax.text(0.5, 0.5, textwrap.fill(message, 60), ha="center", va="center", transform=ax.transAxes)
    ax.set_title(title)
    return fig


def plot_image_grid(images, rows: int, cols: int, title: str = "", labels: list[str] | None = None) -> Figure:
    """The first rows*cols images, row by row; cells without an image stay blank."""
    shown = min(len(images), rows * cols)
    if labels is not None and len(labels) < shown:
        raise ValueError(f"plot_image_grid got {len(labels)} labels for {shown} images: pass one label per image")
    fig, axes = image_axes(rows, cols, title, label_room=0.25 if labels is not None else 0.0)
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i < shown:
            show_image(ax, images[i], None if labels is None else labels[i])
    return fig


def plot_triplets(clean, noisy, denoised, title: str = "") -> Figure:
    """One row per digit: the clean image, its noisy copy and the denoiser's output."""
    fig, axes = image_axes(len(clean), 3, title, label_room=0.3 / len(clean))
    for row, images in enumerate(zip(clean, noisy, denoised)):
        for col, (ax, image) in enumerate(zip(axes[row], images)):
            show_image(ax, image, ("clean", "noisy", "denoised")[col] if row == 0 else None)
    return fig


def plot_interpolation(images, title: str = "") -> Figure:
    """A strip of decoded points along a path through latent space, from "start" to "end"."""
    # smaller cells keep a strip of twenty images about a page wide
    fig, axes = image_axes(1, len(images), title, label_room=0.3, cell=0.6)
    for i, (ax, image) in enumerate(zip(axes[0], images)):
        show_image(ax, image, "start" if i == 0 else "end" if i == len(images) - 1 else None)
    return fig


def show_symbol(ax: Axes, symbol: str) -> None:
    ax.axis("off")
    ax.text(0.5, 0.5, symbol, ha="center", va="center", fontsize=20, transform=ax.transAxes)


def plot_arithmetic(x, y, z, x_labels: list[str], y_labels: list[str], z_labels: list[str], title: str = "") -> Figure:
    """Rows of latent arithmetic, X + Y = Z, each image titled with its label."""
    fig, axes = image_axes(len(x), 5, title, width_ratios=[1, 0.4, 1, 0.4, 1], label_room=0.25)
    for row in range(len(x)):
        show_image(axes[row, 0], x[row], x_labels[row])
        show_symbol(axes[row, 1], "+")
        show_image(axes[row, 2], y[row], y_labels[row])
        show_symbol(axes[row, 3], "=")
        show_image(axes[row, 4], z[row], z_labels[row])
    return fig


def plot_reconstructions(originals, reconstructions, labels: np.ndarray, title: str = "") -> Figure:
    """Per class, in order of first appearance: a row of originals above the row of their reconstructions."""
    labels = np.asarray(labels)
    classes = pd.unique(labels)
    members = [np.flatnonzero(labels == digit) for digit in classes]
    cols = max(len(indices) for indices in members)
    fig, axes = image_axes(2 * len(classes), cols, title, left_room=1.2)
    for k, (digit, indices) in enumerate(zip(classes, members)):
        for row, (images, name) in enumerate([(originals, "original"), (reconstructions, "reconstruction")]):
            axes_row = axes[2 * k + row]
            for col, ax in enumerate(axes_row):
                ax.axis("off")
                if col < len(indices):
                    show_image(ax, images[indices[col]])
            # axis("off") hides y labels, so the row name is plain text left of the first cell
            axes_row[0].text(-0.08, 0.5, f"{name} {digit}", ha="right", va="center", fontsize=9,
                             transform=axes_row[0].transAxes)
    return fig


def plot_optimization_history(values: np.ndarray, mode: str, metric: str) -> Figure:
    """Each trial's value in start order, with the best so far as a step line; NaN trials are skipped."""
    if mode not in ("min", "max"):
        raise ValueError(f"mode must be 'min' or 'max', got {mode!r}")
    values = np.asarray(values, dtype=float)
    trial = np.arange(len(values))
    reported = np.isfinite(values)
    best = (np.fmin if mode == "min" else np.fmax).accumulate(values[reported])
    fig = Figure(figsize=(6, 4), layout="constrained")
    ax = fig.subplots()
    ax.scatter(trial[reported], values[reported], s=14, alpha=0.7, color="tab:blue", label="trial")
    ax.step(trial[reported], best, where="post", color="tab:red", label=f"best so far ({mode})")
    ax.set_xlabel("trial (in start order)")
    ax.set_ylabel(metric)
    ax.legend()
    return fig


def check_params(table: pd.DataFrame, metric: str, params: dict[str, str]) -> None:
    """Raise one error naming every unknown column and kind."""
    problems = [f"no column {name!r} in the table" for name in [metric, *params] if name not in table.columns]
    problems += [f"{name!r} has kind {kind!r}: use one of {', '.join(KINDS)}" for name, kind in params.items()
                 if kind not in KINDS]
    if problems:
        raise ValueError("plot_metric_vs_params: " + "; ".join(problems))


def category_order(values: pd.Series) -> list:
    """Categories sorted by value (32 < 128), or in order of appearance when they do not compare."""
    unique = list(pd.unique(values))
    try:
        return sorted(unique)
    except TypeError:
        return unique


def plot_metric_vs_params(table: pd.DataFrame, metric: str, params: dict[str, str]) -> Figure:
    """The metric against each parameter, one panel each, at most three panels to a row."""
    check_params(table, metric, params)
    cols = min(3, len(params))
    rows = -(-len(params) // cols)
    fig = Figure(figsize=(3.3 * cols, 2.8 * rows), layout="constrained")
    axes = fig.subplots(rows, cols, squeeze=False, sharey=True)
    for ax, (name, kind) in zip(axes.flat, params.items()):
        # conditional parameters are missing for some trials, and some trials report nothing
        points = table[[name, metric]].dropna()
        if kind == "categorical":
            categories = category_order(points[name])
            position = {category: i for i, category in enumerate(categories)}
            ax.scatter(points[name].map(position), points[metric], s=14, alpha=0.7)
            ax.set_xticks(range(len(categories)), [str(category) for category in categories])
            ax.set_xlim(-0.5, len(categories) - 0.5)
        else:
            ax.scatter(points[name], points[metric], s=14, alpha=0.7)
            ax.set_xscale("log" if kind == "log" else "linear")
            ax.xaxis.set_minor_formatter(NullFormatter())  # labels at every minor tick overlap on short ranges
        ax.set_xlabel(name)
    for ax in axes[:, 0]:
        ax.set_ylabel(metric)
    for ax in axes.flat[len(params):]:
        ax.axis("off")
    return fig


def plot_learning_curves(curves: pd.DataFrame, metric: str, stopped: set[str] | None = None) -> Figure:
    """One line per trial over epochs; trials the scheduler stopped early end in an x. Beyond MANY_CURVES trials the
    lines are thin and faint, in one collection, so that where most trials went shows, and the stopped ones are
    counted instead (thousands of x at one epoch are a black bar over the curves)."""
    stopped = stopped or set()
    fig = Figure(figsize=(6, 4), layout="constrained")
    ax = fig.subplots()
    shown = curves.dropna(subset=[metric]).sort_values("epoch")
    trials = shown.groupby("trial_id", sort=False)
    many = trials.ngroups > MANY_CURVES
    if many:
        ax.add_collection(LineCollection(split_curves(shown, metric), linewidths=0.5, alpha=0.15, color="tab:blue"))
        single = shown[trials["epoch"].transform("size") == 1]  # a one-point line draws nothing: a dot
        if len(single):
            ax.scatter(single["epoch"], single[metric], s=6, alpha=0.3, color="tab:blue", linewidths=0)
        ax.autoscale_view()
    else:
        for trial_id, curve in trials:
            early = trial_id in stopped
            ax.plot(curve["epoch"], curve[metric], linewidth=1.0 if early else 1.4, alpha=0.6 if early else 0.9,
                    marker="o" if len(curve) == 1 else None)  # a one-point line draws nothing: a dot
    ends = trials.tail(1)  # where each trial ended
    ends = ends[ends["trial_id"].isin(stopped)]
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    if shown["epoch"].nunique() == 1:  # one epoch: a span of a tenth of an epoch had ticks at 0.99 and 1.005
        epoch = shown["epoch"].iloc[0]
        ax.set_xlim(epoch - 1, epoch + 1)
    if len(ends) and many:
        ax.text(0.98, 0.98, f"{len(ends)} of {trials.ngroups} stopped early (ASHA)", transform=ax.transAxes,
                ha="right", va="top")
    elif len(ends):
        ax.scatter(ends["epoch"], ends[metric], marker="x", s=30, color="black", zorder=3,
                   label="stopped early (ASHA)")
        ax.legend()
    ax.set_xlabel("epoch")
    ax.set_ylabel(metric)
    return fig


def split_curves(curves: pd.DataFrame, metric: str) -> list[np.ndarray]:
    """Each trial's points (epochs, 2): epoch and metric, in epoch order (a groupby loop takes seconds by the
    thousand)."""
    ordered = curves.sort_values(["trial_id", "epoch"], kind="stable")
    trial_ids = ordered["trial_id"].to_numpy()
    return np.split(ordered[["epoch", metric]].to_numpy(float), np.flatnonzero(trial_ids[1:] != trial_ids[:-1]) + 1)


def plot_importance(importance: pd.Series, metric: str) -> Figure:
    """Horizontal bars of parameter importance, the largest on top."""
    ordered = importance.sort_values()  # barh draws upwards, so ascending order puts the largest on top
    fig = Figure(figsize=(5, 1.0 + 0.35 * len(ordered)), layout="constrained")
    ax = fig.subplots()
    ax.barh(range(len(ordered)), ordered.to_numpy(), color="tab:blue")
    ax.set_yticks(range(len(ordered)), [str(name) for name in ordered.index])
    ax.set_xlabel(f"importance for {metric}")
    return fig


def plot_metric_distribution(values: np.ndarray, metric: str, best: float | None = None) -> Figure:
    """Histogram of the finite values, with the best one marked by a dashed line."""
    values = np.asarray(values, dtype=float)
    finite = values[np.isfinite(values)]
    # "auto" gives one or two bins for a handful of trials, which hides their spread
    bins = max(5, len(np.histogram_bin_edges(finite, bins="auto")) - 1)
    fig = Figure(figsize=(6, 4), layout="constrained")
    ax = fig.subplots()
    ax.hist(finite, bins=bins, color="tab:blue", edgecolor="white")
    if best is not None:
        ax.axvline(best, linestyle="--", color="tab:red", label=f"best: {best:.4g}")
        ax.legend()
    ax.set_xlabel(metric)
    ax.set_ylabel("trials")
    return fig
