"""The search side on its own, with a real Optuna study in a journal file: conditions, restarts, PBT bounds."""

import heapq
import random

import optuna
import pytest
import yaml

from experiments.experiment import Experiment
from experiments.spec import read_spec
from sweeps.search import KeepInBounds, SearchSpace, StudySearch, build_searcher, open_study_storage

SPEC = read_spec(yaml.safe_dump({
    "model": "glo", "metric": "fid", "num_samples": 8, "fixed": {"epochs": 3},
    "search": {
        "lr_latent": {"type": "float", "low": 1.0e-3, "high": 0.1, "log": True},
        "sampler": {"type": "categorical", "choices": ["normal_sphere", "gmm"]},
        "gmm_components": {"type": "int", "low": 2, "high": 10, "when": {"sampler": "gmm"}},
    },
}, sort_keys=False), "test")


def test_conditional_parameters_are_searched_only_when_their_condition_holds():
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    space = SearchSpace(SPEC)
    for _ in range(20):
        trial = study.ask()
        assert space(trial) == {"epochs": 3}  # define-by-run returns the fixed values only
        assert ("gmm_components" in trial.params) == (trial.params["sampler"] == "gmm")
        study.tell(trial, 1.0)
    assert {t.params["sampler"] for t in study.trials} == {"normal_sphere", "gmm"}


@pytest.mark.parametrize("searcher_name", ["tpe", "random"])
def test_the_start_with_configs_are_the_first_trials(searcher_name, tmp_path):
    first = {"lr_latent": 0.01, "sampler": "normal_sphere"}  # no gmm_components: its condition does not hold
    second = {"lr_latent": 0.05, "sampler": "gmm", "gmm_components": 7}
    spec = SPEC.model_copy(update={"start_with": [first, second], "searcher": searcher_name})
    (tmp_path / "s").mkdir()
    search = build_searcher(spec, Experiment(str(tmp_path), "s"))
    configs = [search.suggest(str(i)) for i in range(4)]
    study = search._ot_study
    assert [t.params for t in study.trials[:2]] == [first, second]
    assert study.trials[2].params != first and configs[0] == {**first, "epochs": 3}


def searcher(experiment: Experiment) -> StudySearch:
    return StudySearch(space=SearchSpace(SPEC), metric="fid", mode="min", sampler=optuna.samplers.TPESampler(seed=0),
                       experiment=experiment, spec=SPEC, study_name="s")


@pytest.mark.parametrize("new_head", [False, True])
def test_a_restored_search_closes_orphans_and_ignores_what_it_cannot_place(new_head, tmp_path, monkeypatch):
    # Remote storage (file://, as s3://): the driver keeps the journal in its cache dir and copies it up.
    monkeypatch.setenv("SWEEPS_CACHE_DIR", str(tmp_path / "head"))
    experiment, state = Experiment(f"file://{tmp_path}/runs", "s"), tmp_path / "searcher.pkl"
    (tmp_path / "runs" / "s").mkdir(parents=True)
    first = searcher(experiment)
    first.suggest("a"), first.suggest("b")
    first.on_trial_result("a", {"fid": 500.0, "epoch": 1})
    first.on_trial_complete("a", {"fid": 400.0, "epoch": 3})
    first.save(str(state))  # Tune's snapshot
    first.suggest("c")  # handed out after the snapshot, then the driver dies
    if new_head:  # resumed by a driver with nothing but the experiment's copy of the journal
        experiment.sync_study(up=True)
        monkeypatch.setenv("SWEEPS_CACHE_DIR", str(tmp_path / "new-head"))
        experiment.sync_study(up=False)

    second = searcher(experiment)
    second.restore(str(state))
    trials = {t.number: t.state.name for t in second._ot_study.get_trials()}
    assert trials == {0: "COMPLETE", 1: "RUNNING", 2: "FAIL"}  # c belongs to no Tune trial: closed
    second.on_trial_complete("a", {"fid": 1.0, "epoch": 3})  # finished before the crash
    second.on_trial_result("errored", {"fid": 1.0, "epoch": 1})  # a trial it never knew
    second.on_trial_result("b", {"fid": 300.0, "epoch": 1})
    second.on_trial_complete("b", {"fid": 300.0, "epoch": 3})
    study = optuna.load_study(study_name="s", storage=open_study_storage(experiment.study_journal))
    assert [(t.state.name, t.value) for t in study.trials] == [("COMPLETE", 400.0), ("COMPLETE", 300.0),
                                                               ("FAIL", None)]


def test_the_study_records_every_epoch_the_tune_trial_and_how_each_trial_ended(tmp_path):
    (tmp_path / "s").mkdir()
    experiment = Experiment(str(tmp_path), "s")
    search = build_searcher(SPEC.model_copy(update={"max_concurrent": None}), experiment)  # ASHA, 3 epochs
    for trial_id in ("finished", "stopped", "diverged", "errored"):
        search.suggest(trial_id)
    for epoch in (1, 2):  # Tune sends a trial's last result to on_trial_complete only
        search.on_trial_result("finished", {"fid": 100.0 / epoch, "epoch": epoch})
    search.on_trial_complete("finished", {"fid": 30.0, "epoch": 3, "config/epochs": 3})
    search.on_trial_complete("stopped", {"fid": 90.0, "epoch": 1, "config/epochs": 3})  # ASHA stopped it
    search.on_trial_complete("diverged", {"fid": 1e4, "epoch": 2, "diverged": True})  # its worst value
    search.on_trial_complete("errored", None, error=True)

    study = optuna.load_study(study_name="s", storage=open_study_storage(experiment.study_journal))
    trials = {t.user_attrs["tune_trial_id"]: t for t in study.trials}
    assert {k: t.state.name for k, t in trials.items()} == {
        "finished": "COMPLETE", "stopped": "PRUNED", "diverged": "COMPLETE", "errored": "FAIL"}
    assert trials["finished"].intermediate_values == {1: 100.0, 2: 50.0, 3: 30.0} and trials["finished"].value == 30
    assert trials["stopped"].intermediate_values == {1: 90.0} and trials["stopped"].value == 90  # as Optuna's pruners
    assert trials["diverged"].user_attrs["diverged"] and trials["diverged"].value == 1e4
    assert trials["finished"].user_attrs["tune_trial_dir"] == f"{experiment.path}/finished"


def test_population_based_training_stays_inside_the_searched_range():
    spec = read_spec(yaml.safe_dump({
        "model": "gan", "metric": "fid", "num_samples": 4, "scheduler": {"type": "pbt"}, "fixed": {"epochs": 6},
        "search": {"beta1": {"type": "float", "low": 0.0, "high": 0.9},
                   "batch_size": {"type": "int", "low": 16, "high": 128}},
    }), "pbt")
    keep = KeepInBounds(spec)
    assert keep({"beta1": 1.08, "batch_size": 153.6, "lr_g": 5.0}) == {"beta1": 0.9, "batch_size": 128, "lr_g": 5.0}
    assert keep({"beta1": -0.1, "batch_size": 12.8}) == {"beta1": 0.0, "batch_size": 16}


@pytest.mark.parametrize(("searcher", "sampler"), [("tpe", optuna.samplers.TPESampler),
                                                   ("random", optuna.samplers.RandomSampler)])
def test_the_sweep_file_picks_optunas_sampler(searcher, sampler, tmp_path):
    spec = SPEC.model_copy(update={"searcher": searcher, "max_concurrent": None})
    (tmp_path / "s").mkdir(), (tmp_path / "t").mkdir()
    study_search = build_searcher(spec, Experiment(str(tmp_path), "s"))
    assert isinstance(study_search._ot_study.sampler, sampler)
    first = [study_search.suggest(str(i)) for i in range(3)]
    again = build_searcher(spec, Experiment(str(tmp_path), "t"))  # the same seed: the same configs
    assert [again.suggest(str(i)) for i in range(3)] == first


def test_tpe_models_a_window_of_trials_past_its_size():
    """Below its window WindowedTPE is Optuna's TPE, suggestion for suggestion; past it, TPE sees the 25 best
    trials, the most recent others up to the window, and every running one."""
    from sweeps.internals import Window, WindowedTPE

    def study(sampler, n: int):
        made = optuna.create_study(sampler=sampler)
        made.optimize(lambda t: (t.suggest_float("x", -10, 10) - 2) ** 2, n_trials=n)
        return made

    plain = study(optuna.samplers.TPESampler(seed=3, n_startup_trials=5), 40)
    windowed = study(WindowedTPE(window=40, seed=3, n_startup_trials=5), 40)
    assert [t.params for t in windowed.trials] == [t.params for t in plain.trials]

    running = [windowed.ask() for _ in range(3)]
    shown = Window(windowed, 30)._get_trials(deepcopy=False)
    finished = [t for t in shown if t.state.is_finished()]
    best = sorted(windowed.get_trials(states=(optuna.trial.TrialState.COMPLETE,)), key=lambda t: t.value)[:25]
    assert len(finished) == 30 and {t.number for t in best} <= {t.number for t in finished}
    assert {t.number for t in running} <= {t.number for t in shown}
    assert max(t.number for t in finished) == 39  # the most recent


def test_the_window_kept_between_asks_is_the_window_chosen_anew():
    """Window folds the leading finished trials once; what it shows is what choosing from every trial shows, as
    trials finish out of order, fail, tie and are enqueued (an enqueued trial runs ahead of later numbers)."""
    from sweeps.internals import Window

    def anew(trials: list, size: int) -> list:  # the window chosen from every trial, as it was before folding
        finished = [t for t in trials if t.state.is_finished()]
        if len(finished) <= size:
            return trials
        complete = [t for t in finished if t.state == optuna.trial.TrialState.COMPLETE]
        chosen = {t.number for t in heapq.nsmallest(25, complete, key=lambda t: t.value)}
        chosen |= {t.number for t in [t for t in finished if t.number not in chosen][len(chosen) - size:]}
        return [t for t in trials if not t.state.is_finished() or t.number in chosen]

    rng, study, running = random.Random(0), optuna.create_study(), []
    window, states = Window(study, 40), optuna.trial.TrialState
    queries = [{"states": (states.COMPLETE, states.PRUNED, states.RUNNING)}, {"states": (states.COMPLETE,)}, {}]
    for step in range(600):
        if rng.random() < 0.03:
            study.enqueue_trial({}, skip_if_exists=False)
        if rng.random() < 0.5 or not running:
            running.append(study.ask())
        else:
            trial = running.pop(rng.randrange(min(len(running), 8)) if rng.random() < 0.9 else -1)
            state = rng.choices([states.COMPLETE, states.PRUNED, states.FAIL], [8, 1, 1])[0]
            value = rng.choices([1.0, 2.0, rng.random(), -step], [1, 1, 1, 6])[0]  # ties; the newest mostly best
            study.tell(trial, value if state == states.COMPLETE else None, state=state)
        for query in queries:
            shown = window._get_trials(deepcopy=False, use_cache=True, **query)
            assert [t.number for t in shown] == [t.number for t in anew(study._get_trials(False, **query), 40)]

    other = optuna.create_study()  # another storage, the same study id: the same sampler's window keeps them apart
    for _ in range(700):
        other.tell(other.ask(), rng.random())
    shown = Window(other, 40, window.folded)._get_trials(deepcopy=False, use_cache=True)
    assert [t.number for t in shown] == [t.number for t in anew(other._get_trials(False), 40)]


def test_an_earlier_studys_trials_seed_a_changed_space_as_they_ran(tmp_path):
    from sweeps.search import best_configs, seed_study

    def ae(search: dict, fixed: dict):
        return read_spec(yaml.safe_dump({"model": "ae", "metric": "val_mse", "num_samples": 4, "search": search,
                                         "fixed": {"epochs": 3, **fixed}}), "ae")

    lr = {"type": "float", "low": 1e-3, "high": 1e-2, "log": True}
    batch = {"type": "categorical", "choices": [16, 32]}
    earlier_spec = ae({"lr": lr, "batch_size": batch}, {"activation": "leaky_relu"})
    distributions = {"lr": optuna.distributions.FloatDistribution(1e-3, 1e-2, log=True),
                     "batch_size": optuna.distributions.CategoricalDistribution([16, 32])}
    earlier = optuna.create_study()
    for value, (params, state) in enumerate([({"lr": 0.002, "batch_size": 16}, "COMPLETE"),
                                             ({"lr": 0.008, "batch_size": 32}, "COMPLETE"),
                                             ({"lr": 0.005, "batch_size": 32}, "PRUNED")]):
        earlier.add_trial(optuna.trial.create_trial(
            state=getattr(optuna.trial.TrialState, state), values=[0.1 + value] if state == "COMPLETE" else None,
            params=params, distributions=distributions, intermediate_values={1: 0.5 + value},
            user_attrs={"tune_trial_id": f"t{value}"}))

    # lr narrowed above 0.004, batch size 16 dropped, activation searched (the earlier trials ran leaky_relu).
    spec = ae({"lr": {**lr, "low": 4e-3}, "batch_size": {**batch, "choices": [32, 64]},
               "activation": {"type": "categorical", "choices": ["relu", "leaky_relu"]}}, {})
    study = optuna.create_study(storage=open_study_storage(str(tmp_path / "j")), study_name="round-2")
    seeded = seed_study(study, earlier.get_trials(), earlier_spec, spec)
    assert [(t.user_attrs["tune_trial_id"], t.state.name, t.params) for t in study.trials] == [
        ("t1", "COMPLETE", {"lr": 0.008, "batch_size": 32, "activation": "leaky_relu"}),
        ("t2", "PRUNED", {"lr": 0.005, "batch_size": 32, "activation": "leaky_relu"})]  # t0: outside, left out
    assert study.trials[1].intermediate_values == {1: 2.5} and study.trials[0].value == 1.1
    assert best_configs(seeded, spec, 3) == [{"lr": 0.008, "batch_size": 32, "activation": "leaky_relu"}]


def test_a_remote_study_is_sent_as_appended_parts_and_read_back_whole(tmp_path, monkeypatch):
    """A remote experiment's journal goes up as the records new since the last upload (linear bytes), comes back
    whole on another head, and a whole upload replaces the parts; a part the whole file already holds counts once."""
    from experiments.experiment import STUDY_FILE, STUDY_PARTS

    monkeypatch.setenv("SWEEPS_CACHE_DIR", str(tmp_path / "head"))
    experiment = Experiment(f"file://{tmp_path}/bucket", "remote")
    study = optuna.create_study(storage=open_study_storage(experiment.study_journal), study_name="s")
    study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=3)
    experiment.sync_study(up=True)
    study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=2)
    experiment.sync_study(up=True)
    experiment.sync_study(up=True)  # nothing new: nothing sent
    parts = sorted((tmp_path / "bucket/remote" / STUDY_PARTS).iterdir())
    journal = (tmp_path / "head/studies" / experiment.study_journal.rsplit("/", 1)[1]).read_bytes()
    assert len(parts) == 2 and int(parts[1].name) == parts[0].stat().st_size
    assert b"".join(p.read_bytes() for p in parts) == journal

    monkeypatch.setenv("SWEEPS_CACHE_DIR", str(tmp_path / "new-head"))
    experiment.sync_study(up=False)
    read = optuna.load_study(study_name="s", storage=open_study_storage(experiment.study_journal))
    assert [t.params for t in read.trials] == [t.params for t in study.trials]

    left = parts[1].read_bytes()
    experiment.sync_study(up=True, whole=True)
    assert (tmp_path / "bucket/remote" / STUDY_FILE).read_bytes() == journal
    assert not (tmp_path / "bucket/remote" / STUDY_PARTS).exists()
    experiment.write(f"{STUDY_PARTS}/{parts[1].name}", left)  # as a driver killed while replacing them leaves it
    assert experiment.remote_journal() == journal
