"""`loggers:` in a sweep file: a run per trial in MLflow and W&B through Ray's own callbacks, and a sweep file naming
an unknown logger, or one whose package is missing, refused before anything loads."""

import json
import time
from pathlib import Path

import mlflow
import pytest
import ray
import yaml
from ray.air.integrations.wandb import WandbLoggerCallback

from experiments import spec as spec_module
from experiments.experiment import Experiment
from experiments.spec import load_spec
from sweeps.cli import main
from sweeps.internals import EndWandbRuns
from sweeps.launch import build_loggers

SPECS = Path(__file__).parents[2] / "sweeps" / "specs"


@pytest.mark.ray
def test_each_trial_is_a_run_with_its_config_and_each_epochs_metrics(local_ray, real_source, cache_dir, tmp_path,
                                                                      monkeypatch, capsys):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_DIR", str(tmp_path))
    monkeypatch.setenv("WANDB_PROJECT", "digits-tracked")
    status = main(["run", str(SPECS / "ae.yaml"), "--preset", "smoke", "--set", "data.limit=100",
                   "--set", "scheduler={type: none}", "--set", "loggers=[mlflow, wandb]", "--storage", str(tmp_path),
                   "--name", "tracked-sweep", *real_source.sweep_args, "--cache-dir", str(cache_dir)])
    assert status == 0, capsys.readouterr().err
    experiment = tmp_path / "tracked-sweep"
    trial_ids = sorted(p.parent.name for p in experiment.glob("*/params.json"))
    assert len(trial_ids) == 2

    runs = mlflow.search_runs(experiment_names=["tracked-sweep"])
    assert len(runs) == 2 and set(runs["status"]) == {"FINISHED"}
    client = mlflow.MlflowClient()
    for trial_id in trial_ids:
        run = runs[runs["tags.trial_name"].str.endswith(trial_id)].iloc[0]
        config = json.loads((experiment / trial_id / "params.json").read_text())
        params = {key.removeprefix("params."): value for key, value in run.items() if key.startswith("params.")}
        assert params == {key: str(value) for key, value in config.items()}
        epochs = [json.loads(line) for line in (experiment / trial_id / "result.json").read_text().splitlines()]
        history = client.get_metric_history(run["run_id"], "val_mse")
        assert [(m.step, m.value) for m in history] == [(r["epoch"], pytest.approx(r["val_mse"])) for r in epochs]
        assert [r["epoch"] for r in epochs] == [1, 2]
        assert not client.list_artifacts(run["run_id"])

    offline = {path.name.rsplit("-", 1)[1]: path for path in (tmp_path / "wandb").glob("offline-run-*")}
    assert sorted(offline) == trial_ids
    for path in offline.values():
        # W&B ships no reader of its run files; their protobuf records hold these strings as they are.
        records = next(path.glob("run-*.wandb")).read_bytes()
        assert b"digits-tracked" in records and b"val_mse" in records


def test_population_based_training_logs_each_runs_final_config(tmp_path, monkeypatch):
    # An exploit changes a trial's config, and MLflow refuses a param that changes: logged at the start, the
    # driver crashed at the first exploit.
    monkeypatch.delenv("WANDB_PROJECT", raising=False)
    spec = load_spec(SPECS / "gan-pbt.yaml", overrides=["loggers=[mlflow, wandb]"])
    tracked_mlflow, ending, tracked_wandb = build_loggers(spec, Experiment(str(tmp_path), "pbt"))
    assert tracked_mlflow.log_params_on_trial_end and tracked_wandb.log_config
    assert ending.wandb is tracked_wandb and (tracked_wandb.project, tracked_wandb.group) == ("latent-sweeps", "pbt")


class StoppedTrial:
    """What Ray's W&B callback reads of a trial."""

    def __init__(self, trial_id: str, local_path: Path):
        self.trial_id, self.local_path, self.config = trial_id, str(local_path), {"lr": 0.01}

    def __str__(self) -> str:
        return f"train_{self.trial_id}"


@pytest.mark.ray
def test_the_wandb_runs_of_a_stopped_sweep_end_at_once(local_ray, tmp_path, monkeypatch):
    # Ray 2.60's callback ends a run when its trial completes or errors; the runs of the trials still running when
    # Ctrl-C or the time budget stopped a sweep were waited for, 30 minutes (here bounded to 2).
    monkeypatch.setenv("WANDB_MODE", "offline")
    wandb = WandbLoggerCallback(project="latent-sweeps", group="stopped", mode="offline", dir=str(tmp_path),
                                upload_timeout=120)
    wandb.setup()
    trial = StoppedTrial("stopped1", tmp_path)
    wandb.on_trial_start(0, [trial], trial)
    wandb.on_trial_result(1, [trial], trial, {"training_iteration": 1, "val_mse": 0.5})
    start = time.monotonic()
    for callback in (EndWandbRuns(wandb), wandb):
        callback.on_experiment_end([trial])
    assert time.monotonic() - start < 60
    records = next((tmp_path / "wandb").glob("offline-run-*-stopped1/run-stopped1.wandb")).read_bytes()
    assert b"val_mse" in records


@pytest.fixture
def sweep_file(tmp_path):
    def write(**changes) -> Path:
        raw = yaml.safe_load((SPECS / "ae.yaml").read_text())
        path = tmp_path / "sweep.yaml"
        path.write_text(yaml.safe_dump({**raw, **changes}, sort_keys=False))
        return path

    return write


@pytest.mark.parametrize(("loggers", "message"), [
    (["mlfow"], "`loggers[0]` = 'mlfow': not a logger: did you mean `mlflow`? choose from mlflow, wandb"),
    (["wandb", "tensorboard"], "`loggers[1]` = 'tensorboard': not a logger: choose from mlflow, wandb"),
    (["mlflow", "mlflow"], "`loggers[1]` = 'mlflow': named twice: keep one"),
])
def test_an_unknown_logger_exits_2_naming_the_known_ones(loggers, message, sweep_file, capsys):
    assert main(["run", str(sweep_file(loggers=loggers)), "--check"]) == 2
    error = capsys.readouterr().err
    assert message in error and "Traceback" not in error


def test_a_logger_not_installed_exits_2_before_data_and_ray(sweep_file, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(spec_module, "installed", lambda module: module != "mlflow")
    monkeypatch.setattr(ray, "init", lambda *args, **kwargs: pytest.fail("Ray was started"))
    path = sweep_file(loggers=["wandb", "mlflow"])
    for check in (["--check"], ["--storage", str(tmp_path / "runs"), "--data-dir", str(tmp_path / "no-data")]):
        assert main(["run", str(path), *check]) == 2
        error = capsys.readouterr().err
        assert "`loggers[1]` = 'mlflow': mlflow is not installed: pip install 'latent-sweeps[mlflow]'" in error
        assert "wandb" not in error and "Traceback" not in error
    assert not (tmp_path / "runs").exists()
    # A finished sweep's file still reads where the package is missing, for its analysis.
    assert spec_module.read_spec(path.read_text(), "sweep").loggers == ["wandb", "mlflow"]


def test_a_single_logger_may_be_named_without_a_list(sweep_file):
    assert load_spec(sweep_file(loggers="wandb")).loggers == ["wandb"]


@pytest.mark.ray
def test_wandb_without_a_login_exits_2_before_the_sweep_is_recorded(local_ray, real_source, cache_dir, sweep_file,
                                                                     tmp_path, monkeypatch, capsys):
    for name in ("WANDB_API_KEY", "WANDB_MODE", "NETRC"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.netrc from `wandb login`
    path = sweep_file(loggers=["wandb"], data={"limit": 100})
    status = main(["run", str(path), "--storage", str(tmp_path / "runs"), "--name", "unlogged",
                   *real_source.sweep_args, "--cache-dir", str(cache_dir)])
    error = capsys.readouterr().err
    assert status == 2 and "run `wandb login`, set WANDB_API_KEY, or set WANDB_MODE=offline" in error
    assert "Traceback" not in error and not (tmp_path / "runs" / "unlogged" / "sweep.yaml").exists()
