"""`sweeps run / resume / status / list` end to end: a real local Ray, a real Optuna study, real data."""

import json
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path

import optuna
import pytest
import yaml

from analysis import describe_experiment, load_experiment
from experiments.experiment import STUDY_FILE, Experiment, trial_index_name
from experiments.trials import read_state
from sweeps.cli import main
from sweeps.internals import ADAPTIVE_MIN_S, save_period
from sweeps.search import open_study_storage
from tests.drivers import kill_after_first_trial

SPECS = Path(__file__).parents[2] / "sweeps" / "specs"
pytestmark = pytest.mark.ray


def load_study(experiment: Path) -> optuna.Study:
    return optuna.load_study(study_name=experiment.name, storage=open_study_storage(str(experiment / STUDY_FILE)))


@pytest.fixture
def sweep(local_ray, real_source, cache_dir, tmp_path, capsys):
    """Runs `sweeps run` in this process, on the session's Ray; returns (exit status, experiment, output)."""

    def run(spec: str, *args: str, name: str = "exp"):
        status = main(["run", str(SPECS / spec), "--storage", str(tmp_path), "--name", name,
                       *real_source.sweep_args, "--cache-dir", str(cache_dir), *args])
        captured = capsys.readouterr()
        return status, tmp_path / name, captured.out + captured.err

    return run


def test_asha_stops_the_worse_trials_early(sweep):
    status, experiment, _ = sweep(
        "ae.yaml", "--set", "num_samples=6", "--set", "max_concurrent=1", "--set", "fixed.epochs=4",
        "--set", "data.limit=300", "--set", "scheduler.grace_period=1", "--set", "scheduler.reduction_factor=2",
    )
    trials = load_experiment(str(experiment))
    assert status == 0 and len(trials) == 6
    stopped = trials[trials["status"] == "stopped"]
    assert len(stopped) >= 1 and (stopped["epochs"] < 4).all()
    assert (trials[trials["status"] == "finished"]["epochs"] == 4).all()
    assert len(load_study(experiment).trials) == 6
    for trial_id in trials[trials["epochs"] > 2]["trial_id"]:  # each keeps its best and its latest checkpoint only
        assert 1 <= len(list((experiment / trial_id).glob("checkpoint_*"))) <= 2


def test_the_same_seed_gives_the_same_configs(sweep):
    def configs(seed: int, name: str) -> list[dict]:
        # No start_with: each trial's config is the search's.
        status, experiment, _ = sweep("ae.yaml", "--set", "num_samples=2", "--set", "max_concurrent=1",
                                      "--set", "fixed.epochs=1", "--set", "data.limit=100", "--set", f"seed={seed}",
                                      "--set", "scheduler={type: none}", "--set", "start_with=[]",
                                      name=name)
        assert status == 0
        return [t.params for t in sorted(load_study(experiment).trials, key=lambda t: t.number)]

    first = configs(7, "a")
    assert configs(7, "b") == first
    assert configs(8, "c") != first


def test_diverged_trials_are_recorded_and_the_sweep_goes_on(sweep, real_judge, tmp_path):
    status, experiment, out = sweep(
        "gan.yaml", "--preset", "smoke", "--set", "fixed.epochs=3", "--set", "fixed.lr_g=1e10",
        "--set", "fixed.lr_d=1e10", "--set", "search={beta1: {type: float, low: 0.1, high: 0.9}}",
        "--set", "start_with=[]", "--set", "fixed.width=16", "--set", "fixed.eval_size=100",
    )
    trials = load_experiment(str(experiment))
    assert status == 0 and list(trials["status"]) == ["diverged", "diverged"]
    assert (trials["epochs"] == 1).all() and (trials["fid"] == math.inf).all()
    assert main(["status", str(experiment)]) == 0


def test_multi_objective_sweep_keeps_both_values(sweep):
    status, experiment, output = sweep("ae.yaml", "--preset", "smoke", "--set", "metric=[val_mse, time_total_s]",
                                       "--set", "scheduler={type: none}", "--set", "data.limit=100")
    study = load_study(experiment)
    assert status == 0 and [d.name for d in study.directions] == ["MINIMIZE", "MINIMIZE"]
    assert all(len(t.values) == 2 for t in study.trials) and "Pareto front of val_mse and time_total_s" in output


def test_population_based_training_copies_and_perturbs_the_better_trial(sweep, real_judge):
    status, experiment, output = sweep("gan-pbt.yaml", "--preset", "smoke", "--set", "fixed.width=16",
                                       "--set", "fixed.eval_size=100")
    trials = load_experiment(str(experiment))
    assert status == 0 and set(trials["status"]) == {"finished"}, output
    spec = yaml.safe_load((experiment / "sweep.yaml").read_text())
    configs = [json.loads(line)["config"] for trial_id in trials["trial_id"]
               for line in (experiment / trial_id / "result.json").read_text().splitlines()]
    searched = {name: {c[name] for c in configs} for name in spec["search"]}
    assert any(len(values) > 2 for values in searched.values())  # a config changed mid-training
    for name, values in searched.items():
        assert all(spec["search"][name]["low"] <= v <= spec["search"][name]["high"] for v in values)
    # A trial PBT paused and restarted gets its result.json back from storage, which may lag by the last epochs:
    # PBT stops no trial early, so it still counts as finished.
    result = experiment / trials["trial_id"].iloc[0] / "result.json"
    result.write_text("".join(result.read_text().splitlines(keepends=True)[:-1]))
    assert set(load_experiment(str(experiment))["status"]) == {"finished"}


def test_errored_trials_are_reported_not_hidden(sweep, real_judge, tmp_path):
    # A mixture of 30 components cannot be fitted to 20 training latents: each trial fails at its first evaluation.
    status, experiment, output = sweep(
        "glo.yaml", "--preset", "smoke", "--set", "data.limit=20", "--set", "fixed.sampler=gmm",
        "--set", "fixed.gmm_components=30", "--set", "max_failures=0",
        "--set", "search={lr_latent: {type: float, low: 0.001, high: 0.1, log: true}}",
        "--set", "start_with=[]",
    )
    assert status == 1 and output.count("errored: trial") == 2 and "n_components = 30" in output
    assert list(load_experiment(str(experiment))["status"]) == ["errored", "errored"]
    assert {t.state.name for t in load_study(experiment).trials} == {"FAIL"}


def test_status_and_list(finished, capsys):
    assert main(["status", str(finished)]) == 0
    out = capsys.readouterr().out
    assert "state: done" in out and "2 finished" in out and "best_val_mse" in out
    assert main(["list", str(finished.parent)]) == 0
    listing = capsys.readouterr().out
    assert "base" in listing and "2/2" in listing
    assert main(["status", str(finished.parent / "nothing")]) == 2


def test_tune_s_state_is_saved_less_often_as_it_grows():
    assert save_period(0.005, 100_000) == ADAPTIVE_MIN_S  # a few trials: every second
    assert save_period(0.2, 1_000_000) == pytest.approx(3.8)  # a slow disk: 5% of the driver's time at most
    assert save_period(0.3, 137_000_000) > 90  # 10,000 trials: 137 MB sent every 91 s, not every 6


def test_the_driver_indexes_tune_s_experiment_state(finished, tmp_path):
    """What `status` reads of each trial (id, status, folder, config) from the driver's index is what Tune's
    experiment state, 100 times its size, says."""
    shutil.copytree(finished, tmp_path / "copy")
    experiment = Experiment.at(str(tmp_path / "copy"))
    (state,) = [name for name in experiment.files() if name.startswith("experiment_state-")]
    index = tmp_path / "copy" / trial_index_name(state)
    assert index.is_file()
    indexed = read_state(experiment, state)
    index.unlink()
    assert indexed == read_state(experiment, state) and len(indexed) == 2


def test_trials_asking_for_more_than_ray_has_fail_at_once(sweep):
    status, experiment, output = sweep("ae.yaml", "--preset", "smoke", "--set", "resources.gpu=1")
    assert status == 2 and "resources.gpu: 1, and this Ray cluster has 0 GPUs" in output
    assert not (experiment / "sweep.yaml").exists()


def test_storage_by_uri_as_on_a_cluster(local_ray, real_source, tmp_path, capsys):
    """file:// takes the path of s3:// and other URIs: files written through pyarrow, the journal copied up."""
    uri = f"file://{tmp_path}/remote"
    status = main(["run", str(SPECS / "ae.yaml"), "--preset", "smoke", "--set", "data.limit=100", "--storage", uri,
                   "--name", "far", *real_source.sweep_args])
    assert status == 0
    experiment = tmp_path / "remote" / "far"
    assert len(load_study(experiment).trials) == 2 and (experiment / "sweep.yaml").exists()
    capsys.readouterr()
    assert main(["status", f"{uri}/far"]) == 0 and "state: done" in capsys.readouterr().out
    assert main(["list", uri]) == 0 and "far" in capsys.readouterr().out


def test_a_sweep_name_is_not_reused(finished, real_source):
    before = sorted(p.name for p in finished.iterdir())
    status = main(["run", str(SPECS / "ae.yaml"), "--preset", "smoke", "--storage", str(finished.parent),
                   "--name", finished.name, *real_source.sweep_args])
    assert status == 2
    assert sorted(p.name for p in finished.iterdir()) == before  # the finished sweep's files as they were


@pytest.mark.parametrize("storage", ["path", "uri"])
def test_killed_driver_resumes_without_losing_or_repeating_trials(storage, real_source, tmp_path):
    """SIGKILL the driver once a trial has finished; `sweeps resume` finishes the rest exactly once. With a
    URI (the code path of s3://) it resumes as on a new head: without the dead driver's local files."""
    experiment = tmp_path / "killed"
    epochs, samples = 4, 3  # killed once one has finished: the others midway or pending
    root = str(tmp_path) if storage == "path" else f"file://{tmp_path}"
    command = ["run", str(SPECS / "ae.yaml"), "--storage", root, "--name", "killed", *real_source.sweep_args,
               "--set", f"num_samples={samples}", "--set", f"fixed.epochs={epochs}", "--set", "scheduler={type: none}",
               "--set", "max_concurrent=2",
               "--set", "data.limit=2000"]  # epochs of a second or two: a trial outlasts the kill's 1.5 s wait
    kill_after_first_trial(command, tmp_path / "run.out", lambda: assert_running(experiment),
                           saved=lambda: "finished" in set(load_experiment(str(experiment))["status"]))
    assert "interrupted: `sweeps resume" in describe_experiment(str(experiment))
    before = load_experiment(str(experiment))
    finished = before[before["status"] == "finished"]
    assert 1 <= len(finished) < samples
    finished_rows = {t: (experiment / t / "progress.csv").read_text() for t in finished["trial_id"]}

    new_head = {"SWEEPS_CACHE_DIR": str(tmp_path / "new-head")}  # where the driver keeps a URI's journal
    resume = [sys.executable, "-m", "sweeps.cli", "resume", f"{root}/killed", *real_source.dir_args]
    refused = subprocess.run(resume, capture_output=True, text=True, timeout=300, env=os.environ | new_head)
    assert refused.returncode == 2 and "--trust" in refused.stderr  # killed before it signed Ray's pickles
    assert load_experiment(str(experiment)).equals(before)  # and nothing ran
    resumed = subprocess.run([*resume, "--trust"], capture_output=True, text=True, timeout=300,
                             env=os.environ | new_head)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    after = load_experiment(str(experiment))
    assert len(after) == samples and after["trial_id"].is_unique
    assert set(after["status"]) == {"finished"} and (after["epochs"] == epochs).all()
    for trial_id, rows in finished_rows.items():  # finished trials were not run again
        assert (experiment / trial_id / "progress.csv").read_text() == rows
    for trial_id in after["trial_id"]:  # nothing restarted from epoch 0, every epoch is there
        history = (experiment / trial_id / "progress.csv").read_text().splitlines()[1:]
        epochs_seen = [int(row.split(",")[0]) for row in history]
        assert epochs_seen.count(1) == 1 and set(epochs_seen) == set(range(1, epochs + 1))
    study = load_study(experiment)
    states = [t.state.name for t in study.trials]
    assert states.count("COMPLETE") == samples and "RUNNING" not in states


def assert_running(experiment: Path) -> None:
    assert "state: running" in describe_experiment(str(experiment))
