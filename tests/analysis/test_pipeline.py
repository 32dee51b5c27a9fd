"""After the sweeps: `sweeps demo` end to end (a smoke sweep of every model, reruns, the report in a real browser),
then the sweeps, tables, reruns, samples and reproductions it leaves, on a real local Ray and real data."""

import contextlib
import io
import json
import math
import re

import numpy as np
import optuna
import pandas as pd
import pytest
import yaml

import sweeps.demo
from analysis import best_trials, learning_curves, load_experiment, parameter_importance, report
from analysis.results import rank_correlation, rerun_summary, start_trial, sweep_cost
from experiments.experiment import (
    ENVIRONMENT_FILE,
    RERUN_FILE,
    STUDY_FILE,
    Experiment,
    open_experiment,
    open_study_storage,
)
from experiments.trials import format_value, open_results
from sweeps.cli import main
from sweeps.rerun import version_warnings
from tests.analysis.browser import load_page
from tests.families import NAMES
from trainables.registry import FAMILIES

pytestmark = pytest.mark.ray

# Added to each shipped sweep file's smoke preset: fewer images trained on, scored and encoded per epoch, which no
# test here counts; the trials, epochs, searched parameters and first configs stay the file's.
SMALLER = {
    "ae": {"data.limit": 200, "fixed.eval_size": 200, "fixed.knn_size": 200},
    "dae": {"data.limit": 200, "fixed.eval_size": 200, "fixed.knn_size": 200},
    "gan": {"data.limit": 200, "fixed.eval_size": 200},
    "glo": {"data.limit": 200, "fixed.eval_size": 200, "fixed.encode_size": 50, "fixed.encode_steps": 10},
    "vae": {"data.limit": 200, "fixed.eval_size": 200, "fixed.knn_size": 200},
}


def smaller_specs(folder):
    """Copies of the shipped sweep files, their smoke presets made smaller by SMALLER, in `folder`."""
    for model in NAMES:
        raw = yaml.safe_load((sweeps.demo.SPECS / f"{model}.yaml").read_text())
        raw["presets"]["smoke"] |= SMALLER[model]
        (folder / f"{model}.yaml").write_text(yaml.safe_dump(raw, sort_keys=False))
    return folder


@pytest.fixture(scope="module")
def demo(local_ray, real_source, cache_dir, tmp_path_factory):
    """`sweeps demo --preset smoke`, on the shipped sweep files made smaller: the folder holding its experiments,
    one per model, the report, and in output.txt what the demo printed."""
    storage, printed = tmp_path_factory.mktemp("demo"), io.StringIO()
    with contextlib.redirect_stdout(printed), pytest.MonkeyPatch.context() as patch:
        patch.setattr(sweeps.demo, "SPECS", smaller_specs(tmp_path_factory.mktemp("specs")))
        status = main(["demo", "--preset", "smoke", "--top", "2", "--storage", str(storage), *real_source.train_args,
                       "--cache-dir", str(cache_dir)])
    assert status == 0, printed.getvalue()
    (root,) = storage.iterdir()
    (root / "output.txt").write_text(printed.getvalue())
    return root


@pytest.mark.parametrize("model", NAMES)
def test_smoke_sweep_of_each_model(model, demo):
    experiment, out = demo / model, (demo / "output.txt").read_text()
    trials = load_experiment(str(experiment))
    assert len(trials) == 2 and set(trials["status"]) == {"finished"}
    _, spec = open_experiment(str(experiment))
    assert set(spec.reported_metrics()) <= set(trials.columns)
    best = trials[f"best_{spec.metric[0]}"]
    assert best.map(math.isfinite).all()
    assert {"sweep.yaml", "environment.json", STUDY_FILE} <= {p.name for p in experiment.iterdir()}
    assert (demo / "driver.log").is_file()  # the demo's sweeps share one log
    study = optuna.load_study(study_name=model, storage=open_study_storage(str(experiment / STUDY_FILE)))
    assert [t.state.name for t in study.trials] == ["COMPLETE", "COMPLETE"]
    assert sorted(t.value for t in study.trials) in (sorted(best), sorted(best)[::-1])
    assert f"best trial {trials['trial_id'][0]}" in out and f"sweeps train {model} --set" in out


def rerun_of(demo, model):
    (rerun,) = (demo / model / "reruns").iterdir()
    return rerun


def test_report_opens_in_a_browser_with_every_image(chromium, demo):
    page = load_page(demo / "report" / "index.html")
    assert page["broken"] == []
    sources = page["sources"]
    # The model figures of each section, from the best rerun checkpoint.
    for name in ("ae-tsne", "dae-tsne_sigma_0.05", "dae-triplets_sigma_0.7", "gan-samples", "gan-interpolation",
                 "gan-arithmetic_different", "gan-arithmetic_same", "glo-samples", "glo-reconstructions",
                 "glo-arithmetic_same", "ae-history", "dae-params", "gan-curves", "glo-distribution"):
        assert f"img/{name}.png" in sources, name
    # A thumbnail per finished trial: two trials in each smoke sweep.
    assert sum("-trial-" in s for s in sources) == 2 * len(NAMES)
    html = (demo / "report" / "index.html").read_text()
    assert html.count("<section id=") == len(NAMES) and html.count("Rank correlation") == len(NAMES)
    # The overview links each experiment's section; mean ± std over 2 seeds in it and in each rerun table (2 configs).
    assert re.findall(r'<a href="#[^"]+">([^<]+)</a>', html) == [f.title for f in FAMILIES.values()]
    assert html.count("(n=2)") == len(NAMES) + len(NAMES) * 2


def test_the_trial_table_shows_images_of_its_best_trials_only(demo, real_data, tmp_path, monkeypatch):
    monkeypatch.setattr(report, "THUMBNAILS", 1)  # of the smoke sweep's two trials
    results = open_results(str(demo / "ae"))
    html = report.trials_html(results, "ae", real_data, tmp_path, seed=0)
    best = results.table["trial_id"][0]
    assert [image.name for image in (tmp_path / "img").iterdir()] == [f"ae-trial-{best}.png"]
    assert html.count("<img ") == 1 and "Images of the 1 best trials only, of the 2 that finished" in html


def test_each_sweep_starts_with_the_reports_configuration_and_the_report_says_how_it_did(demo):
    html = (demo / "report" / "index.html").read_text()
    overview = html.split("<section", 1)[0]
    for model in NAMES:
        experiment, spec = open_experiment(str(demo / model))
        trials = load_experiment(str(demo / model))
        start = start_trial(trials, spec)
        assert start is not None  # two trials start at once: the report's config is one of the first two
        assert start["trial_id"] in set(trials.sort_values("started")["trial_id"].head(2))
        metric = spec.metric[0]
        assert f"<td>{format_value(start[f'best_{metric}'])}</td>" in overview
    assert "<th>report's config</th>" in overview and "<th>sweep best</th>" in overview
    # Calibration: real digits, the AE's reconstructions, and each generative model's report config and figures.
    calibration = overview.split("<h2>Calibration</h2>", 1)[1]
    for row in ("real held-out digits", "Autoencoder: reconstructions of them", "GAN: samples, the report's",
                "GAN: samples, the figures'", "GLO: samples, the report's", "GLO: samples, the figures'"):
        assert row in calibration, row
    # Both judges score every row: the second one, which no trial saw, beside the one the sweeps were tuned to.
    header = calibration.split("</thead>", 1)[0]
    assert "judge (" in header and "second judge (" in header and header.count("inception_score") == 2


def test_mistakes_exit_2_with_the_fix(demo, tmp_path, capsys):
    assert main(["report", str(tmp_path / "nowhere")]) == 2
    assert "no sweep at" in capsys.readouterr().err
    assert main(["sample", str(demo / "gan"), "--trial", "nope", "--out", str(tmp_path / "x.npy")]) == 2
    assert "no trial nope" in capsys.readouterr().err
    assert main(["train"]) == 2
    assert "--from EXPERIMENT" in capsys.readouterr().err


def test_trial_tables_curves_and_cost(demo):
    path = str(demo / "ae")
    trials = load_experiment(path)
    assert list(trials["status"]) == ["finished", "finished"]
    assert (trials["cpu_s"] == trials["time_total_s"]).all() and (trials["gpu_s"] == 0).all()
    curves = learning_curves(path)
    assert set(curves.columns) == {"trial_id", "epoch", "time_total_s", "metric", "value"}
    val = curves[curves["metric"] == "val_mse"]
    assert sorted(val["epoch"]) == [1, 1, 2, 2]
    # The best value in the table is the best of the trial's curve.
    for trial_id, best in zip(trials["trial_id"], trials["best_val_mse"]):
        assert val.loc[val["trial_id"] == trial_id, "value"].min() == best
    assert learning_curves(f"file://{path}").equals(curves)  # a URI, as s3:// goes
    assert list(best_trials(trials, "val_mse", "min", 1)["trial_id"]) == [trials["trial_id"][0]]
    importance = parameter_importance(path)
    assert set(importance.index) == {"latent_dim", "lr", "batch_size"}
    assert importance.sum() == pytest.approx(1.0) and not importance.attrs["note"]  # two trials: all of them


def test_rerun_records_its_source_and_reproduces_the_sweep(demo):
    sweep = load_experiment(str(demo / "gan"))
    rerun = rerun_of(demo, "gan")
    record = json.loads((rerun / RERUN_FILE).read_text())
    assert record["source"] == str(demo / "gan") and record["seeds"] == 2
    runs = load_experiment(str(rerun))
    assert len(runs) == 4 and set(runs["config/rerun_of"]) == set(sweep["trial_id"])
    assert sorted(runs["config/seed"]) == [0, 0, 1, 1]
    # Seed 0 is the sweep trial's own seed: the same config and data give the same FID.
    for trial_id, fid in zip(sweep["trial_id"], sweep["fid"]):
        again = runs[(runs["config/rerun_of"] == trial_id) & (runs["config/seed"] == 0)]["fid"]
        assert again.item() == pytest.approx(fid, rel=1e-5)
    summary = rerun_summary(str(rerun))
    assert list(summary["sweep_rank"]) == [1, 2] and (summary["count"] == 2).all()
    assert summary["mean"].tolist() == pytest.approx(
        [runs.loc[runs["config/rerun_of"] == t, "best_fid"].mean() for t in summary["rerun_of"]])  # as the sweep's
    assert abs(rank_correlation(summary)) == pytest.approx(1.0)  # two configs: the order held or flipped


def test_version_warnings_name_what_changed(demo):
    source = Experiment.at(str(demo / "ae"))
    now = json.loads(source.read(ENVIRONMENT_FILE))
    assert [w for w in version_warnings(source, now) if "uncommitted" not in w] == []
    now["packages"]["torch"] = "0.1"
    now["data"]["fingerprint"] = "other"
    warnings = version_warnings(source, now)
    assert any(w.startswith("torch ") and w.endswith("0.1 now") for w in warnings)
    assert any("data" in w and "other now" in w for w in warnings)


def test_analyze_writes_the_table_for_pandas(demo, capsys):
    path = demo / "glo"
    assert main(["analyze", str(path)]) == 0
    out = capsys.readouterr().out
    assert "best 2 trials by fid" in out and "CPU-seconds" in out
    table = load_experiment(str(path))
    assert pd.read_parquet(path / "trials.parquet").equals(table)
    assert list(pd.read_csv(path / "trials.csv")["trial_id"]) == list(table["trial_id"])
    assert main(["analyze", str(rerun_of(demo, "glo"))]) == 0
    assert "rank correlation of sweep and rerun" in capsys.readouterr().out


@pytest.mark.parametrize("model", ["gan", "glo", "dae"])
def test_sample_writes_images_in_pixel_range(model, demo, real_source, tmp_path, capsys):
    out = tmp_path / "samples.npy"
    assert main(["sample", str(demo / model), "--n", "40", "--out", str(out), *real_source.dir_args]) == 0
    images = np.load(out)
    assert images.shape == (40, 28, 28) and images.dtype == np.float32
    assert 0 <= images.min() and images.max() <= 1 and images.std() > 0
    best = load_experiment(str(demo / model))["trial_id"][0]
    assert f"trial {best}" in capsys.readouterr().out


def test_train_from_a_trial_reproduces_it(demo, real_source, capsys):
    trials = load_experiment(str(demo / "ae"))
    trial = trials.iloc[-1]
    assert main(["train", "--from", str(demo / "ae"), "--trial", trial["trial_id"], *real_source.dir_args]) == 0
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert last.startswith("epoch 2/2")
    val_mse = float(last.split("val_mse ")[1].split()[0])
    assert math.isclose(val_mse, trial["val_mse"], rel_tol=0.02)  # 2 threads here, 1 in the trial


def test_cost_share_of_trials_stopped_early():
    trials = pd.DataFrame({"status": ["finished", "stopped", "stopped"], "time_total_s": [6.0, 2.0, 2.0],
                           "cpu_s": [6.0, 2.0, 2.0], "gpu_s": [3.0, 1.0, 1.0]})
    cost = sweep_cost(trials)
    assert cost["cpu_s"] == 10 and cost["gpu_s"] == 5 and cost["stopped_share"] == pytest.approx(0.4)


def test_best_trials_leave_out_failures():
    trials = pd.DataFrame({"trial_id": list("abcd"), "status": ["finished", "diverged", "stopped", "errored"],
                           "best_fid": [30.0, 1.0, 20.0, math.nan]})
    assert list(best_trials(trials, "fid", "min", 5)["trial_id"]) == ["c", "a"]
    assert list(best_trials(trials, "fid", "max", 1)["trial_id"]) == ["a"]
