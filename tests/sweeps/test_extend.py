"""Sweeps that grow, for real: the README's notebook example (a sweep extended twice), an extension refused, a killed
extension resumed, and a new sweep warm-started from an earlier one; the Optuna studies read with Optuna's API."""

import logging
import re
import shutil
import sys
from pathlib import Path

import optuna
import pytest
import ray
import yaml

import sweeps
from experiments.experiment import open_study_storage
from sweeps.cli import main
from tests.conftest import start_local_ray
from tests.drivers import kill_after_first_trial

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.ray


def readme_example() -> str:
    text = (ROOT / "README.md").read_text()
    section = text[text.index("## From Python"):]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


@pytest.fixture(scope="module")
def grown(real_source, tmp_path_factory):
    """The README's example, run where it would be: a folder with the shipped sweep files."""
    if real_source.dataset != "mnist":
        pytest.skip("the README's example sweeps MNIST")
    folder = tmp_path_factory.mktemp("notebook")
    (folder / "sweeps").mkdir()
    (folder / "sweeps" / "specs").symlink_to(ROOT / "sweeps" / "specs")
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(folder)
        patch.setenv("SWEEPS_DATA_DIR", str(real_source.data_dir))
        names, root = {}, logging.getLogger()
        before = (root.level, list(root.handlers), [h.filters[:] for h in root.handlers], sys.stdout)
        session_ray = ray.is_initialized()  # the session's, which other tests use: the README starts its own
        ray.shutdown()
        try:
            exec(compile(readme_example(), "README.md", "exec"), names)  # noqa: S102 (the project's own README)
        finally:
            ray.shutdown()
            if session_ray:
                start_local_ray()
        names["logging_kept"] = before == (root.level, list(root.handlers), [h.filters[:] for h in root.handlers],
                                           sys.stdout)
    return names


def study(path: str, name: str) -> optuna.Study:
    return optuna.load_study(study_name=name, storage=open_study_storage(f"{path}/optuna.journal"))


def test_the_readme_example_extends_a_sweep_twice_and_shows_every_round(grown, capsys):
    sweep = grown["sweep"]
    table = sweep.trials()
    assert grown["logging_kept"]  # no handler, filter or level of the caller's changed, stdout untouched
    assert table.groupby("round").size().to_dict() == {1: 3, 2: 2, 3: 2}
    assert list(grown["by_round"].index) == [1, 2, 3] and len(grown["best"]) == 3
    assert set(grown["curves"]["trial_id"]) == set(table["trial_id"]) and grown["images"].shape == (16, 28, 28)
    assert "<th>round</th>" in Path(grown["page"]).read_text()
    new_range = table[table["round"] == 2]
    assert new_range["config/lr"].between(1e-4, 0.1).all()
    assert table[table["round"] == 3]["config/lr"].between(0.005, 0.1).all()
    # Each round's own file, and the experiment's counting every trial.
    path = Path(sweep.path)
    rounds = [yaml.safe_load((path / "rounds" / str(k) / "sweep.yaml").read_text()) for k in (1, 2, 3)]
    assert [r["num_samples"] for r in rounds] == [3, 2, 2]
    assert rounds[1]["search"]["lr"]["high"] == 0.1 and 256 in rounds[2]["search"]["batch_size"]["choices"]
    assert yaml.safe_load((path / "sweep.yaml").read_text())["num_samples"] == 7
    assert all((path / "rounds" / str(k) / "environment.json").is_file() for k in (1, 2, 3))

    assert main(["status", sweep.path]) == 0
    out = capsys.readouterr().out
    assert "7 of 7 trials" in out and "3 trials in round 1, 2 trials in round 2, 2 trials in round 3" in out
    assert main(["analyze", sweep.path]) == 0
    assert re.search(r"trial_id +round +status", capsys.readouterr().out)


def test_the_latest_study_holds_every_trial_that_fits_with_whole_learning_curves(grown):
    sweep = grown["sweep"]
    table = sweep.trials().set_index("trial_id")
    latest = study(sweep.path, "round-3")
    trials = {t.user_attrs["tune_trial_id"]: t for t in latest.trials}
    # Round 3 narrowed lr to [0.005, 0.1]: the earlier trials below it stay in the table, not in the study.
    outside = set(table.index[(table["round"] < 3) & (table["config/lr"] < 0.005)])
    assert outside and set(trials) == set(table.index) - outside
    for trial_id, trial in trials.items():
        assert trial.user_attrs["round"] == table.loc[trial_id, "round"]
        assert Path(trial.user_attrs["tune_trial_dir"]).name == trial_id
        epochs = int(table.loc[trial_id, "epochs"])
        assert sorted(trial.intermediate_values) == list(range(1, epochs + 1)), trial_id  # the last epoch too
        state = {"finished": "COMPLETE", "stopped": "PRUNED"}[table.loc[trial_id, "status"]]
        assert trial.state.name == state, trial_id
    assert "PRUNED" in {t.state.name for t in trials.values()}  # ASHA's grace period of 1 epoch stopped some
    # The first round's study is as that round left it.
    assert {t.user_attrs["tune_trial_id"] for t in study(sweep.path, "ae-grow").trials} == set(
        table.index[table["round"] == 1])


def test_an_extension_that_would_make_values_incomparable_is_refused_with_the_fix(grown, capsys):
    path = grown["sweep"].path
    before = sorted(p.name for p in Path(path).iterdir())
    code = main(["extend", path, "--set", "fixed.epochs=5", "--set", "metric=val_psnr", "--set", "mode=max",
                 "--set", "data.limit=900"])
    err = capsys.readouterr().err
    assert code == 2 and "`fixed.epochs`: 2 -> 5" in err and "`metric`" in err and "`data`" in err
    assert "--warm-start" in err
    assert sorted(p.name for p in Path(path).iterdir()) == before  # nothing written


def test_a_warm_start_from_another_model_is_refused_before_anything_runs(grown, tmp_path, capsys):
    code = main(["run", str(ROOT / "sweeps/specs/gan.yaml"), "--preset", "smoke", "--storage", str(tmp_path),
                 "--warm-start", grown["sweep"].path])
    err = capsys.readouterr().err
    assert code == 2 and "`model`: \"ae\" there, \"gan\" here" in err and "`metric`" in err
    assert not any(tmp_path.iterdir())


def test_a_killed_extension_resumes_and_a_new_sweep_warm_starts_from_the_grown_one(grown, real_source, tmp_path):
    source = Path(grown["sweep"].path)
    path = tmp_path / "copy"
    shutil.copytree(source, path, ignore=shutil.ignore_patterns("report"))
    kill_after_first_trial(["extend", str(path), "--num-samples", "2", "--set", "max_concurrent=1",
                            *real_source.dir_args], tmp_path / "extend.log")
    assert main(["resume", str(path), "--trust", *real_source.dir_args]) == 0
    resumed = sweeps.open(str(path)).trials()
    assert resumed.groupby("round").size().to_dict() == {1: 3, 2: 2, 3: 2, 4: 2}
    assert set(resumed["status"]) <= {"finished", "stopped"}
    assert len(study(str(path), "round-4").trials) == len(study(str(source), "round-3").trials) + 2

    # A new sweep of the same model and metric starts from the grown one's best two finished configs.
    assert main(["run", str(ROOT / "sweeps/specs/ae.yaml"), "--preset", "smoke", "--storage", str(tmp_path),
                 "--name", "warm", "--warm-start", str(source), "--set", "warm_start.top=2",
                 "--set", "fixed.epochs=2", *real_source.dir_args]) == 0
    warm = study(str(tmp_path / "warm"), "warm")
    grown_ids = set(grown["sweep"].trials()["trial_id"])
    seeded = [t for t in warm.trials if t.user_attrs.get("tune_trial_id") in grown_ids]
    new = [t for t in warm.trials if t.user_attrs.get("tune_trial_id") not in grown_ids]
    assert seeded and len(new) == 2
    best = [t.params for t in sorted((t for t in seeded if t.state.name == "COMPLETE"), key=lambda t: t.value)][:2]
    assert best and [t.params for t in new][:len(best)] == best  # then the sweep file's start_with
    recorded = yaml.safe_load((tmp_path / "warm" / "sweep.yaml").read_text())["warm_start"]
    assert recorded == {"experiment": str(source), "top": 2}


def test_the_best_config_of_every_round_reruns_through_the_api(grown, real_source, capsys):
    sweep = grown["sweep"]
    best = sweep.best(1).iloc[0]
    assert main(["rerun", sweep.path, "--top", "1", "--seeds", "2", "--epochs", "1", "--name", "again",
                 *real_source.dir_args]) == 0
    assert f"trial {best['trial_id']}: sweep {best['best_val_mse']:.4g}" in capsys.readouterr().out
    runs = sweeps.open(f"{sweep.path}/reruns/again").trials()
    assert set(runs["config/rerun_of"]) == {best["trial_id"]} and sorted(runs["config/seed"]) == [0, 1]
    assert "config/round" not in runs  # a label of the sweep's trials, not a config field the rerun passes on
