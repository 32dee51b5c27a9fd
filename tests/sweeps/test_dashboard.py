"""`sweeps dashboard`: optuna-dashboard served on an experiment's study, asked through its REST API as a browser
would; and the experiments it cannot show."""

import json
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import optuna
import pytest

from experiments.experiment import RERUN_FILE, SWEEP_FILE, Experiment, open_study_storage
from experiments.spec import dump_spec, load_spec
from sweeps.cli import main
from sweeps.dashboard import INSTALL
from sweeps.search import SearchSpace

SPECS = Path(__file__).parents[2] / "sweeps" / "specs"
CURVES = {"COMPLETE": [0.09, 0.06, 0.05], "PRUNED": [0.2]}  # val_mse per epoch; the scheduler stopped the second


def write_experiment(folder: Path, spec_file: str, preset: str = "smoke", study: bool = True) -> Path:
    """An experiment as `sweeps run` leaves it, without training: its sweep file and, unless `study` is False, a
    study whose trials took their parameters from the sweep's search space and reported a value per epoch."""
    spec = load_spec(SPECS / spec_file, preset)
    experiment = Experiment.at(str(folder))
    experiment.write(SWEEP_FILE, dump_spec(spec))
    if study:
        study = optuna.create_study(study_name=experiment.name, direction="minimize",
                                    storage=open_study_storage(experiment.study_journal))
        for state, curve in CURVES.items():
            trial = study.ask()
            SearchSpace(spec)(trial)
            for epoch, value in enumerate(curve, start=1):
                trial.report(value, epoch)
            study.tell(trial, curve[-1] if state == "COMPLETE" else None, state=optuna.trial.TrialState[state])
    return folder


def get_json(url: str):
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.load(response)


def test_the_dashboard_shows_the_study_with_each_trials_values_per_epoch(tmp_path):
    pytest.importorskip("optuna_dashboard", reason=f"optuna-dashboard is not installed: {INSTALL}")
    experiment = write_experiment(tmp_path / "ae-sweep", "ae.yaml")
    server = subprocess.Popen([sys.executable, "-m", "sweeps.cli", "dashboard", str(experiment), "--port", "0"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        first = server.stdout.readline()  # the URL, once the port is bound
        assert "http://127.0.0.1:" in first, server.stderr.read()
        url = first.split("http://", 1)[1].split("/", 1)[0]
        deadline = time.monotonic() + 60
        while True:
            try:
                studies = get_json(f"http://{url}/api/studies")["study_summaries"]
                break
            except OSError:
                assert time.monotonic() < deadline, "the dashboard did not answer within a minute"
                time.sleep(0.2)
        assert [s["study_name"] for s in studies] == ["ae-sweep"]
        study = get_json(f"http://{url}/api/studies/{studies[0]['study_id']}")
        trials = {t["state"]: t for t in study["trials"]}
        assert set(trials) == {"Complete", "Pruned"} and study["has_intermediate_values"]
        for state, curve in CURVES.items():
            shown = trials[state.capitalize()]["intermediate_values"]
            assert [(v["step"], v["value"]) for v in shown] == list(enumerate(curve, start=1))
        assert {p["name"] for p in trials["Complete"]["params"]} == {"latent_dim", "lr", "batch_size"}
    finally:
        server.kill()
        server.communicate()


def test_an_experiment_without_a_study_says_why(tmp_path, capsys):
    pbt = write_experiment(tmp_path / "pbt", "gan-pbt.yaml", study=False)
    assert main(["dashboard", str(pbt)]) == 2
    assert "population-based training sweep, which keeps no Optuna study" in capsys.readouterr().err
    unstarted = write_experiment(tmp_path / "unstarted", "ae.yaml", study=False)
    assert main(["dashboard", str(unstarted)]) == 2
    assert "has no study yet" in capsys.readouterr().err
    Experiment.at(str(unstarted)).write(RERUN_FILE, json.dumps({"source": "runs/ae-sweep"}))
    assert main(["dashboard", str(unstarted)]) == 2
    assert "`sweeps dashboard runs/ae-sweep` shows the sweep's" in capsys.readouterr().err


def test_without_optuna_dashboard_the_message_says_how_to_install_it(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "optuna_dashboard", None)  # what `import optuna_dashboard` finds: ImportError
    assert main(["dashboard", str(write_experiment(tmp_path / "ae-sweep", "ae.yaml"))]) == 2
    assert f"optuna-dashboard is not installed: {INSTALL}" in capsys.readouterr().err
    assert INSTALL == "pip install 'latent-sweeps[dashboard]'"
