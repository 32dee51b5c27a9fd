"""Sweep files: the shipped ones validate, and every kind of mistake exits 2 naming the field, before Ray."""

from pathlib import Path

import pytest
import ray
import yaml

from experiments.spec import dump_spec, load_spec, read_spec, reported_metrics
from sweeps.cli import main
from trainables.config import ConfigError
from trainables.registry import FAMILIES

SPECS = sorted((Path(__file__).parents[2] / "sweeps" / "specs").glob("*.yaml"))
GOOD = {
    "model": "glo",
    "metric": "fid",
    "num_samples": 4,
    "search": {
        "lr_latent": {"type": "float", "low": 1.0e-3, "high": 0.1, "log": True},
        "sampler": {"type": "categorical", "choices": ["normal_sphere", "gmm"]},
        "gmm_components": {"type": "int", "low": 2, "high": 10, "when": {"sampler": "gmm"}},
    },
    "fixed": {"epochs": 4},
}


def as_yaml(spec: dict) -> str:
    return yaml.safe_dump(spec, sort_keys=False)  # search order matters: conditions refer to earlier parameters


def test_every_model_has_a_shipped_sweep_file():
    assert {spec.stem for spec in SPECS} >= set(FAMILIES)


@pytest.mark.parametrize("path", SPECS, ids=[p.stem for p in SPECS])
def test_shipped_sweep_files_and_their_presets_validate(path):
    presets = [None, *(yaml.safe_load(path.read_text()).get("presets") or {})]
    assert "smoke" in presets
    for preset in presets:
        spec = load_spec(path, preset)
        cfg = spec.family.config(**spec.fixed)
        assert set(spec.metric) <= set(reported_metrics(spec.family, cfg))
    smoke = load_spec(path, "smoke")
    assert smoke.num_samples == 2 and smoke.epochs <= 3 and smoke.data.limit <= 500


def test_mode_defaults_to_the_metrics_better_direction():
    assert read_spec(as_yaml(GOOD), "good").mode == ["min"]
    held_out_each_epoch = {"epochs": 4, "encode_every": 1}
    assert read_spec(as_yaml({**GOOD, "metric": "knn_acc", "fixed": held_out_each_epoch}), "good").mode == ["max"]


def test_the_written_spec_reads_back_the_same():
    spec = load_spec(SPECS[0], "smoke")
    assert read_spec(dump_spec(spec), "again") == spec.model_copy(update={"presets": {}})


def test_dotted_overrides_apply_after_the_preset(tmp_path):
    path = tmp_path / "glo.yaml"
    path.write_text(as_yaml({**GOOD, "presets": {"short": {"fixed.epochs": 2, "num_samples": 3}}}))
    spec = load_spec(path, "short", ["num_samples=5", "data.limit=500", "search.lr_latent.high=1e-2",
                                     "scheduler={type: none}", "resources.cpu=0.5"])
    assert (spec.num_samples, spec.epochs, spec.data.limit) == (5, 2, 500)
    assert spec.search["lr_latent"].high == 0.01 and spec.scheduler.type == "none" and spec.resources.cpu == 0.5


def test_yaml_reads_exponents_without_a_dot_as_numbers(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text(as_yaml(GOOD).replace("0.001", "1e-3"))
    assert "1e-3" in path.read_text() and load_spec(path).search["lr_latent"].low == 1e-3


# (what is wrong, the change to GOOD or the file text, the field the message must name)
BAD = [
    ("unknown model", {"model": "flow"}, "`model` = 'flow'"),
    ("model of the wrong type", {"model": ["ae"]}, "`model` = ['ae']"),
    ("search as a list", {"search": ["lr_latent"]}, "`search` = ['lr_latent']"),
    ("unknown top-level key", {"num_sample": 3}, "did you mean `num_samples`?"),
    ("missing search", {"search": None}, "`search`"),
    ("metric never reported", {"metric": "val_loss"}, "`metric` = 'val_loss': glo never reports it"),
    ("metric of another model", {"metric": "loss_d"}, "`metric` = 'loss_d'"),
    ("wrong mode for the metric", {"mode": "max"}, "`mode` = 'max': fid is better when lower"),
    ("mode not min or max", {"mode": "minimise"}, "`mode"),
    ("modes and metrics differ in number", {"metric": ["fid", "knn_acc"], "mode": ["min"],
                                            "scheduler": {"type": "none"}}, "`mode` has 1 entries for 2 metrics"),
    ("multi-objective with asha", {"metric": ["fid", "time_total_s"]}, "`scheduler.type` = 'asha'"),
    ("no samples", {"num_samples": 0}, "`num_samples` = 0"),
    ("negative cpu", {"resources": {"cpu": -1}}, "`resources.cpu` = -1"),
    ("negative gpu", {"resources": {"gpu": -0.5}}, "`resources.gpu` = -0.5"),
    ("unknown resource", {"resources": {"cpus": 2}}, "did you mean `cpu`?"),
    ("unknown scheduler", {"scheduler": {"type": "hyperband"}}, "`scheduler.type` = 'hyperband'"),
    ("setting of another scheduler", {"scheduler": {"type": "none", "grace_period": 2}},
     "`scheduler.grace_period` is not a setting of the none scheduler"),
    ("grace period past max_t", {"scheduler": {"type": "asha", "grace_period": 5, "max_t": 4}},
     "`scheduler.grace_period` = 5"),
    ("max_t past epochs", {"scheduler": {"type": "asha", "max_t": 9}}, "`scheduler.max_t` = 9"),
    ("parameter the model lacks", {"search": {"lr_latnt": {"type": "float", "low": 0.1, "high": 1}}},
     "`search.lr_latnt`: glo has no parameter `lr_latnt`: did you mean `lr_latent`?"),
    ("low above high", {"search": {"lr_latent": {"type": "float", "low": 0.1, "high": 0.01}}},
     "`search.lr_latent`: low 0.1 > high 0.01"),
    ("log with low 0", {"search": {"lr_latent": {"type": "float", "low": 0, "high": 0.1, "log": True}}},
     "`search.lr_latent.low` = 0: a log scale needs low > 0"),
    ("bound the model rejects", {"search": {"latent_dim": {"type": "int", "low": 0, "high": 8}}},
     "`search.latent_dim.low` = 0: glo rejects it"),
    ("fractional int bound", {"search": {"latent_dim": {"type": "int", "low": 2.5, "high": 8}}},
     "`search.latent_dim.low` = 2.5"),
    ("empty choices", {"search": {"sampler": {"type": "categorical", "choices": []}}}, "`search.sampler.choices`"),
    ("choice the model rejects", {"search": {"sampler": {"type": "categorical", "choices": ["gmm", "vae"]}}},
     "`search.sampler.choices[1]` = 'vae'"),
    ("no distribution type", {"search": {"lr_latent": {"low": 0.1, "high": 1}}},
     "`search.lr_latent` has no `type`"),
    ("unknown distribution", {"search": {"lr_latent": {"type": "uniform", "low": 0.1, "high": 1}}},
     "`search.lr_latent.type` = 'uniform'"),
    ("condition on an unknown parameter", {"search": {
        "gmm_components": {"type": "int", "low": 2, "high": 10, "when": {"samplr": "gmm"}}}},
     "`search.gmm_components.when.samplr`"),
    ("condition on an impossible value", {"search": {
        "sampler": {"type": "categorical", "choices": ["gmm"]},
        "gmm_components": {"type": "int", "low": 2, "high": 10, "when": {"sampler": "gaussian"}}}},
     "`search.gmm_components.when.sampler` = 'gaussian'"),
    ("searched and fixed", {"fixed": {"epochs": 4, "lr_latent": 0.01}}, "`search.lr_latent` is also in `fixed`"),
    ("bad fixed value", {"fixed": {"epochs": 0}}, "`fixed.epochs` = 0"),
    ("unknown fixed key", {"fixed": {"epoch": 3}}, "`fixed.epoch`"),
    ("unknown dataset", {"data": {"dataset": "cifar10"}}, "`data.dataset` = 'cifar10'"),
    ("zero limit", {"data": {"limit": 0}}, "`data.limit` = 0"),
    ("negative time budget", {"time_budget_s": -5}, "`time_budget_s` = -5"),
    ("pbt on an architecture parameter", {"scheduler": {"type": "pbt"}, "search": {
        "latent_dim": {"type": "int", "low": 8, "high": 64}}}, "`search.latent_dim`: population-based training"),
    ("unknown searcher", {"searcher": "grid"}, "`searcher` = 'grid'"),
    ("a metric reported every few epochs", {"metric": "val_mse"}, "set `fixed.encode_every: 1`"),
    ("start_with an unknown parameter", {"start_with": [{"lr_latent": 0.01, "sampler": "gmm", "gmm_components": 3,
                                                         "latent_dim": 8}]},
     "`start_with[0].latent_dim`: not a searched parameter"),
    ("start_with missing a parameter", {"start_with": [{"lr_latent": 0.01, "sampler": "gmm"}]},
     "`start_with[0]` has no `gmm_components`"),
    ("start_with out of range", {"start_with": [{"lr_latent": 0.5, "sampler": "normal_sphere"}]},
     "`start_with[0].lr_latent` = 0.5: outside the searched [0.001, 0.1]"),
    ("start_with a fractional int", {"start_with": [{"lr_latent": 0.01, "sampler": "gmm", "gmm_components": 2.5}]},
     "`start_with[0].gmm_components` = 2.5"),
    ("more start_with than trials", {"num_samples": 1, "start_with": [
        {"lr_latent": 0.01, "sampler": "normal_sphere"}, {"lr_latent": 0.02, "sampler": "normal_sphere"}]},
     "`start_with` has 2 configs and `num_samples` is 1"),
    ("time rungs without max_t", {"scheduler": {"type": "asha", "time_attr": "time_total_s"}},
     "`scheduler.max_t`: rungs in seconds need the last one"),
    ("pbt with a searcher", {"scheduler": {"type": "pbt"}, "searcher": "random", "search": {
        "lr_latent": {"type": "float", "low": 1.0e-3, "high": 0.1}}}, "`searcher` = 'random': population-based"),
]


@pytest.fixture
def no_ray(monkeypatch):
    """Fails the test if anything starts Ray."""

    def refuse(*args, **kwargs):
        raise AssertionError("Ray was started for an invalid sweep file")

    monkeypatch.setattr(ray, "init", refuse)


@pytest.mark.parametrize(("change", "field"), [case[1:] for case in BAD], ids=[case[0] for case in BAD])
def test_bad_sweep_file_exits_2_naming_the_field_without_ray(change, field, tmp_path, capsys, no_ray):
    spec = {key: value for key, value in {**GOOD, **change}.items() if value is not None}
    path = tmp_path / "bad.yaml"
    path.write_text(as_yaml(spec))
    assert main(["run", str(path), "--storage", str(tmp_path / "runs")]) == 2
    error = capsys.readouterr().err
    assert "sweeps run: config error" in error and field in error and "Traceback" not in error
    assert not (tmp_path / "runs").exists()  # nothing launched, nothing written


@pytest.mark.parametrize(("text", "message"), [
    ("model: ae\nmetric: [val_mse\n", "is not valid YAML"),
    ("- model: ae\n", "must be a YAML mapping"),
    ("model: ae\nmodel: gan\n", "key model appears twice"),
])
def test_unreadable_sweep_files_exit_2(text, message, tmp_path, capsys, no_ray):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    assert main(["run", str(path)]) == 2 and message in capsys.readouterr().err


def test_every_problem_is_reported_at_once():
    bad = {**GOOD, "num_samples": 0, "metric": "val_loss", "data": {"dataset": "cifar10"},
           "search": {"lr": {"type": "float", "low": 1, "high": 0}}}
    with pytest.raises(ConfigError) as error:
        read_spec(as_yaml(bad), "bad")
    assert len(error.value.problems) >= 4


def test_missing_file_unknown_preset_and_bad_override(tmp_path, capsys, no_ray):
    assert main(["run", str(tmp_path / "nope.yaml")]) == 2
    assert "no sweep file at" in capsys.readouterr().err
    assert main(["run", str(SPECS[0]), "--preset", "huge"]) == 2
    assert "has no such preset (its presets: smoke" in capsys.readouterr().err
    assert main(["run", str(SPECS[0]), "--set", "num_samples"]) == 2
    assert "expected PATH=VALUE" in capsys.readouterr().err
    assert main(["run", str(SPECS[0]), "--set", "model.name=ae"]) == 2
    assert "`model` is not a section" in capsys.readouterr().err


def test_check_prints_the_resolved_file(capsys):
    assert main(["run", str(SPECS[0]), "--preset", "smoke", "--set", "num_samples=3", "--check"]) == 0
    printed = yaml.safe_load(capsys.readouterr().out)
    assert printed["num_samples"] == 3 and "presets" not in printed
