"""The static HTML report: per experiment, the best config, the model's figures, the sweep's figures and trials."""

from __future__ import annotations

import dataclasses
import html
import logging
import math
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import pandas as pd
import torch

from analysis import figures
from analysis.checkpoints import load_trained
from analysis.gallery import Panel
from analysis.panels import panels_of
from analysis.results import (
    latest_rerun,
    learning_curves,
    mean_std_text,
    parameter_importance,
    rank_correlation,
    rerun_summary,
    shown_columns,
    start_trial,
    sweep_cost,
)
from experiments.errors import SweepError
from experiments.experiment import Experiment, load_inputs
from experiments.spec import SweepSpec
from experiments.trials import Results, best_trials, format_value, open_results
from trainables.data import Data, Split, load_data
from trainables.family import TrainedModel
from trainables.judge import TrainedJudge, load_judge, partitions
from trainables.metrics import SampleScorer, median_nearest_distance

log = logging.getLogger(__name__)

CALIBRATION_SIZE = 1000  # images scored per row, as a trial scores its samples each epoch
NEAREST_POOL = 2000  # training digits each calibration image's nearest one is found among
THUMBNAILS = 24  # trials whose images the trial table shows, the best: each loads a checkpoint and draws a figure
STYLE = """
body { font-family: system-ui, sans-serif; max-width: 1100px; margin: 2em auto; padding: 0 1em; color: #222; }
figure { display: inline-block; vertical-align: top; margin: 0.5em; max-width: 100%; }
figure img { max-width: 100%; }
figcaption { font-size: 0.9em; color: #444; }
table { border-collapse: collapse; font-size: 0.85em; margin: 0.5em 0; }
td, th { border-bottom: 1px solid #ddd; padding: 0.2em 0.6em; text-align: right; }
td img { width: 64px; image-rendering: pixelated; }
code { background: #f4f4f4; padding: 0 0.2em; }
"""


def image_html(out: Path, name: str, figure) -> str:
    """Save `figure` as OUT/img/NAME.png; its <img>, by a path relative to the page."""
    figures.save_figure(figure, out / "img" / f"{name}.png")
    return f'<img src="img/{html.escape(quote(name))}.png" alt="{html.escape(name)}">'


def panel_html(out: Path, prefix: str, panel: Panel) -> str:
    image = image_html(out, f"{prefix}-{panel.name}", panel.figure)
    return f"<figure>{image}<figcaption>{html.escape(panel.caption)}</figcaption></figure>"


def write_report(paths: list[str], out: str | Path, data_dir=None, cache_dir=None, seed: int = 0) -> Path:
    """Write OUT/index.html (and OUT/img/) for the experiments at `paths`; returns the page's path."""
    out = Path(out)
    started = time.perf_counter()
    names = [Experiment.at(path).name for path in paths]
    prefixes = [name if names.count(name) == 1 else f"{name}-{i}" for i, name in enumerate(names)]  # image names
    sections, rows, shown = zip(*(experiment_section(path, prefix, out, data_dir, cache_dir, seed)
                                  for path, prefix in zip(paths, prefixes)))
    built = time.strftime("%Y-%m-%d %H:%M")
    overview = pd.DataFrame(rows).to_html(index=False, border=0, escape=False, na_rep="—")
    overview += calibration_html(shown, seed)
    page = (f"<!doctype html><html><head><meta charset='utf-8'><title>Sweep report</title><style>{STYLE}</style>"
            f"</head><body><h1>Sweep report</h1><p>{len(paths)} experiment(s), built {built} in "
            f"{time.perf_counter() - started:.0f} s.</p>{overview}{''.join(sections)}</body></html>")
    (out / "index.html").write_text(page)
    return out / "index.html"


def experiment_section(path: str, name: str, out: Path, data_dir, cache_dir, seed: int) -> tuple[str, dict, Shown]:
    """The experiment's part of the page, its line of the overview table, and what it showed."""
    results = open_results(path)
    experiment, spec, table = results.experiment, results.spec, results.table
    metric, mode = spec.metric[0], spec.mode[0]
    log.info("report: %s", experiment.path)
    data, trained_judge = load_inputs(spec, data_dir, cache_dir)
    judge = trained_judge.build() if trained_judge is not None else None
    judges = (trained_judge, load_second_judge(spec, data_dir, cache_dir)) if judge is not None else ()
    rerun_path = latest_rerun(experiment.path)
    rerun = open_results(rerun_path) if rerun_path else None
    summary = rerun_summary(rerun) if rerun else None
    source, best = figure_source(results, rerun, summary)
    trained = load_trained(source, best["trial_id"])
    title = spec.family.title
    parts = [f"<h2>{title}: <code>{html.escape(experiment.name)}</code></h2>",
             f"<p>{html.escape(spec.description)}. {len(table)} trials on {html.escape(data.name)} "
             f"({len(data.train)} training images), searched by {metric} ({mode}). "
             f"Experiment: <code>{html.escape(experiment.path)}</code></p>",
             best_config_html(source, spec, trained, summary)]
    parts.append("<h3>Figures of the best model</h3>")
    parts += [panel_html(out, name, panel) for panel in panels_of(spec.family)(trained, data, judge, seed)]
    parts.append("<h3>The sweep</h3>")
    parts += [panel_html(out, name, panel) for panel in sweep_panels(results)]
    parts.append("<h3>Trials</h3>" + trials_html(results, name, data, out, seed))
    start = start_trial(table, spec)
    row = {
        "model": f'<a href="#{html.escape(quote(name))}">{title}</a>', "experiment": html.escape(experiment.name),
        "trials": len(table), "metric": f"{metric} ({mode})",
        "report's config": "—" if start is None else format_value(start[f"best_{metric}"]),
        "sweep best": format_value(table[f"best_{metric}"].iloc[0]), "rerun: mean ± std": rerun_text(summary),
    }
    shown = Shown(title, data, judges, trained, start_model(results, start))
    return f'<section id="{html.escape(quote(name))}">' + "".join(parts) + "</section>", row, shown


def start_model(results: Results, start: pd.Series | None) -> TrainedModel | None:
    """The report's own configuration's trained model, for the calibration table; None if unreadable."""
    try:
        return None if start is None else load_trained(results, start["trial_id"])
    except SweepError as e:
        log.warning("report: the report's configuration is left out of the calibration table: %s", e)
        return None


def load_second_judge(spec: SweepSpec, data_dir, cache_dir) -> TrainedJudge:
    """The second judge of the sweep's dataset (trainables/judge.py), trained on first use: no trial ever sees it."""
    full = load_data(spec.data.dataset, data_dir)
    second = load_judge(full, cache_dir, second=True)
    log.info("second judge: accuracy %.2f%% on the training partition, which it never saw", 100 * second.accuracy)
    return second


@dataclass
class Shown:
    """What an experiment's section showed, for the calibration table: its data, judges and models."""

    title: str
    data: Data
    judges: tuple[TrainedJudge, ...]  # the judge and the second judge, for families that need them
    trained: TrainedModel  # the figures' model
    start: TrainedModel | None  # the report's own configuration, where the sweep started with it


def calibration_html(shown: list[Shown], seed: int) -> str:
    """Both judges' scores of real held-out digits, of the autoencoders' reconstructions of them, and of each
    generative model's samples (the report's configuration and the figures' model)."""
    generative = [s for s in shown if s.judges]
    if not generative:
        return ""
    first = generative[0]
    rows = [(first, f"real held-out digits ({first.data.name})", None)]
    rows += [(first, f"{s.title}: reconstructions of them (trial {s.trained.trial_id})", s.trained)
             for s in shown if not s.trained.family.samples]
    for s in generative:
        if s.start is not None:
            rows.append((s, f"{s.title}: samples, the report's configuration (trial {s.start.trial_id})", s.start))
        rows.append((s, f"{s.title}: samples, the figures' model (trial {s.trained.trial_id})", s.trained))
    drawn: dict[tuple, torch.Tensor] = {}  # each model's samples drawn once; reconstructions once per split

    def images(model: TrainedModel | None, real: Split) -> torch.Tensor:
        if model is None:
            return real.images[:CALIBRATION_SIZE]
        key = (id(model), model.family.samples or id(real))
        if key not in drawn:
            drawn[key] = images_of(model, seed, Data(first.data.name, real, real, real))
        return drawn[key]

    columns = {}
    for name, index in (("judge", 0), ("second judge", 1)):
        splits = {id(s): partitions(s.data, s.judges[index].second) for s in generative}
        scorers = {id(s): SampleScorer(s.judges[index].build(), splits[id(s)].reference.images[:CALIBRATION_SIZE])
                   for s in generative}
        # Real digits that the judge never learnt from, and the autoencoders' reconstructions of them.
        scores = [scorers[id(s)].score(images(model, splits[id(s)].held_out)) for s, _, model in rows]
        accuracy = 100 * first.judges[index].accuracy
        columns[f"{name} ({accuracy:.1f}% accurate)"] = pd.DataFrame(scores).drop(columns="class_kl")
    table = pd.concat(columns, axis=1)
    table.insert(0, ("", "images"), [what for _, what, _ in rows])
    pool, real = first.data.train.images[:NEAREST_POOL], first.data.test
    scale = median_nearest_distance(images(None, real), pool)
    table[("", "nearest training digit")] = [median_nearest_distance(images(model, real), pool) / scale
                                             for _, _, model in rows]
    return (f"<h2>Calibration</h2><p>Two judges' scores of {CALIBRATION_SIZE} images each, against as many real "
            "digits: real digits set the best a model can reach, and an autoencoder's reconstructions what a "
            "readable but imperfect digit scores. Samples read as digits where they cover all 10 classes with an "
            "inception score near the reconstructions' and a Fréchet distance within about twice theirs. The judge "
            "scores every trial, so the sweeps are tuned to it; the second judge, another network (batch-normalised "
            "convolutions, global average pooling) that learnt from the validation and test partitions, never "
            "scores a trial: where the two disagree, the sweep has fitted its judge. Each judge's accuracy is on "
            "digits it never learnt from; its real digits and reference are too (the judge: test and validation "
            "digits; the second judge: two halves of the training partition, its features' Fréchet distances on a "
            "smaller scale). The last column tells new digits from copies: the median distance of each image to "
            f"the nearest of {NEAREST_POOL:,} training digits, as a multiple of real held-out digits' (near 0 for "
            "copies).</p>"
            + table.to_html(index=False, border=0, float_format=lambda v: f"{v:.4g}"))


def images_of(trained: TrainedModel, seed: int, data: Data | None = None) -> torch.Tensor:
    """CALIBRATION_SIZE samples, or reconstructions of test digits, (N, 1, 28, 28)."""
    return torch.from_numpy(trained.images(CALIBRATION_SIZE, seed, data)).unsqueeze(1)


def rerun_text(summary: pd.DataFrame | None) -> str:
    """The best rerun config's mean ± std, or a dash."""
    if summary is None or summary["mean"].isna().all():
        return "—"
    top = summary.sort_values("rerun_rank").iloc[0]
    return mean_std_text(top["mean"], top["std"], top["count"])


def figure_source(results: Results, rerun: Results | None, summary: pd.DataFrame | None
                  ) -> tuple[Results, pd.Series]:
    """Where the figures come from, and that trial's row: the best seed (at its best epoch, whose checkpoint is
    kept) of the rerun config with the best mean; else the sweep's best trial."""
    metric, mode = results.spec.metric[0], results.spec.mode[0]
    if rerun is None or summary["mean"].isna().all():
        source, best = results, best_trials(results.table, metric, mode, k=1)
    else:
        top, runs = summary.sort_values("rerun_rank").iloc[0]["rerun_of"], rerun.table
        source, best = rerun, best_trials(runs[runs["config/rerun_of"] == top], metric, mode, k=1)
    if best.empty:
        raise SweepError(f"no trial of {results.path} reported {metric} yet: nothing to show")
    return source, best.iloc[0]


def best_config_html(source: Results, spec: SweepSpec, trained: TrainedModel, summary: pd.DataFrame | None) -> str:
    metric = spec.metric[0]
    values = dataclasses.asdict(trained.cfg)
    config = {k: values[k] for k in spec.search if k in values}
    lines = [f"<h3>Best config</h3><p>Figures below come from trial <code>{trained.trial_id}</code> "
             f"(checkpoint after epoch {trained.epoch}): "
             + ", ".join(f"<code>{k}={format_value(v)}</code>" for k, v in config.items()) + "</p>"]
    curves = learning_curves(source)
    at = curves[(curves["trial_id"] == trained.trial_id) & (curves["epoch"] == trained.epoch)]
    shown = {k: v for k, v in zip(at["metric"], at["value"]) if not k.startswith("time")}
    lines.append(f"<p>Its metrics after epoch {trained.epoch}, the checkpoint's:</p>{metrics_table(shown)}")
    if summary is not None:
        view = summary.assign(value=[mean_std_text(*row) for row in summary[["mean", "std", "count"]].to_numpy()])
        view = view[["sweep_rank", "rerun_of", "sweep_value", "value", "rerun_rank"]].rename(
            columns={"sweep_value": f"sweep {metric}", "value": f"rerun {metric}: mean ± std"})
        rho = rank_correlation(summary)
        lines.append(f"<p>Rerun of the best configs with several seeds (each run's best epoch, as the sweep's "
                     "trials). Rank correlation of sweep "
                     f"and rerun order (Spearman): {'—' if math.isnan(rho) else f'{rho:.2f}'}.</p>"
                     + view.to_html(index=False, float_format=lambda v: f"{v:.4g}", border=0))
    return "".join(lines)


def metrics_table(metrics: dict) -> str:
    frame = pd.DataFrame([{k: format_value(v) for k, v in metrics.items()}])
    return frame.to_html(index=False, border=0)


def sweep_panels(results: Results) -> list[Panel]:
    """Optimisation history, metric against each parameter, learning curves, importance, distribution."""
    table, spec = results.table, results.spec
    metric, mode = spec.metric[0], spec.mode[0]
    best = f"best_{metric}"
    if best not in table or table[best].notna().sum() == 0:
        return []
    order = table.sort_values("started", na_position="last")
    panels = [Panel("history", figures.plot_optimization_history(order[best].to_numpy(float), mode, metric),
                    f"Each trial's best {metric} in the order trials started, and the best so far.")]
    kinds = {k: "categorical" if p.type == "categorical" else ("log" if p.log else "linear")
             for k, p in spec.search.items() if f"config/{k}" in table}
    if kinds:
        params = table.drop(columns=metric, errors="ignore").rename(columns={best: metric})
        params = params.rename(columns=lambda c: c.removeprefix("config/"))
        panels.append(Panel("params", figures.plot_metric_vs_params(params, metric, kinds),
                            f"Each trial's best {metric} against each searched parameter."))
    curves = learning_curves(results)
    curves = curves[curves["metric"] == metric].rename(columns={"value": metric})
    stopped = set(table.loc[table["status"] == "stopped", "trial_id"])
    if len(curves):
        panels.append(Panel("curves", figures.plot_learning_curves(curves, metric, stopped),
                            f"{metric} after each epoch of every trial; x marks where the scheduler stopped a trial "
                            "early."))
    try:
        importance = parameter_importance(results)
    except SweepError as e:  # the other panels stand without it
        log.warning("report: %s", e)
        importance = ()
    if len(importance):
        panels.append(Panel("importance", figures.plot_importance(importance, metric),
                            f"How much of the variation of {metric} each parameter explains (Optuna's fANOVA "
                            f"evaluator on the sweep's study{importance.attrs['note']})."))
    values = table[best]
    panels.append(Panel("distribution", figures.plot_metric_distribution(
                            values.to_numpy(float), metric, values.min() if mode == "min" else values.max()),
                        f"The best {metric} of each trial; the dashed line is the sweep's best. " + cost_text(table)))
    return panels


def cost_text(table: pd.DataFrame) -> str:
    cost = sweep_cost(table)
    return (f"The sweep's trials took {cost['cpu_s'] / 60:.1f} CPU-minutes"
            + (f" and {cost['gpu_s'] / 60:.1f} GPU-minutes" if cost["gpu_s"] else "")
            + f"; {cost['stopped_share']:.0%} of it went to trials stopped early.")


def trials_html(results: Results, name: str, data, out: Path, seed: int) -> str:
    """The trial table, with a thumbnail of the samples or reconstructions of each of its best THUMBNAILS trials."""
    table = results.table
    view = table[shown_columns(results.spec, table)].map(lambda v: html.escape(v) if isinstance(v, str) else v)
    trained = table[table["status"].isin(["finished", "stopped"])]  # the table's best first
    thumbnails = pd.Series("", index=table.index)
    for row, trial_id in trained["trial_id"].head(THUMBNAILS).items():
        try:
            images = load_trained(results, trial_id).images(9, seed, data)
        except SweepError as e:  # one damaged checkpoint costs its thumbnail, not the report
            log.warning("report: no thumbnail of trial %s: %s", trial_id, e)
            thumbnails[row] = "—"
            continue
        thumbnails[row] = image_html(out, f"{name}-trial-{trial_id}", figures.plot_image_grid(images, 3, 3))
    view.insert(0, "images", thumbnails)
    view.columns = [c.removeprefix("config/") for c in view.columns]
    note = (f"<p>Images of the {THUMBNAILS} best trials only, of the {len(trained)} that finished or stopped early: "
            "each image loads a checkpoint.</p>" if len(trained) > THUMBNAILS else "")
    return note + view.to_html(index=False, escape=False, border=0, na_rep="—", float_format=lambda v: f"{v:.4g}")
