"""Each model's Tune trainable, run for 2 epochs by a real local Ray."""

import math

import pytest
from ray import tune

from experiments.spec import reported_metrics
from sweeps.internals import KeptResults
from tests.families import NAMES, fast_config, fast_values
from trainables.registry import FAMILIES
from trainables.tune import build_trainable


@pytest.mark.ray
@pytest.mark.parametrize("model", NAMES)
def test_trainable_runs_under_tune(model, local_ray, tiny, digits_judge, tmp_path):
    trainable = build_trainable(model, tiny, digits_judge)
    tuner = tune.Tuner(
        tune.with_resources(trainable, {"cpu": 1}),
        param_space={**fast_values(model), "epochs": 2, "seed": tune.grid_search([0, 1])},
        run_config=tune.RunConfig(
            name=model, storage_path=str(tmp_path), verbose=0,
            checkpoint_config=tune.CheckpointConfig(num_to_keep=1),
        ),
    )
    results = tuner.fit()
    assert not results.errors
    # Sweep files are validated against `reported_metrics`: the trainable must really report each one.
    promised = reported_metrics(FAMILIES[model], fast_config(model))
    for result in results:
        history = result.metrics_dataframe
        assert list(history["epoch"]) == [1, 2]
        assert set(promised) <= set(history.columns)
        assert history[list(promised)].map(math.isfinite).all().all()
        assert result.checkpoint is not None and (result.checkpoint.path.endswith("checkpoint_000001"))
        # TensorBoard finds each epoch's grid in the trial's folder, beside Ray's scalars.
        images, scalars = read_events(result.path)
        assert images == {image_tag(model): [(1, (112, 112)), (2, (112, 112))]} and "ray/tune/epoch" in scalars


def image_tag(model: str) -> str:
    return "samples" if FAMILIES[model].samples else "reconstructions"


def read_events(folder: str) -> tuple[dict[str, list[tuple[int, tuple[int, int]]]], list[str]]:
    """What TensorBoard reads from a trial's folder: (step, (height, width)) of each image by tag, and the scalar
    tags."""
    from tensorboard.backend.event_processing.event_accumulator import IMAGES, EventAccumulator

    events = EventAccumulator(folder, size_guidance={IMAGES: 0})  # 0: every image, not a sample of them
    events.Reload()
    images = {tag: [(e.step, (e.height, e.width)) for e in events.Images(tag)] for tag in events.Tags()["images"]}
    return images, events.Tags()["scalars"]


def test_unknown_config_key_fails_the_trial_naming_the_field(local_ray, tiny, tmp_path):
    tuner = tune.Tuner(
        build_trainable("ae", tiny),
        param_space={"latnt_dim": 4, "epochs": 1},
        run_config=tune.RunConfig(storage_path=str(tmp_path), verbose=0),
    )
    results = tuner.fit()
    assert len(results.errors) == 1 and "did you mean `latent_dim`" in str(results.errors[0])


def test_models_scored_by_the_judge_need_one(tiny):
    with pytest.raises(ValueError, match="load_judge"):
        build_trainable("gan", tiny)


def test_a_failed_trial_resumes_from_its_last_checkpoint(local_ray, tiny, tmp_path):
    from trainables.tune import to_arrays, train_trial

    def crashes_once(config, **kwargs):
        first_attempt = tune.get_checkpoint() is None
        train_trial(config, **kwargs)
        if first_attempt:
            raise RuntimeError("the node went away")

    tuner = tune.Tuner(
        tune.with_parameters(crashes_once, model="ae", arrays=to_arrays(tiny), judge=None),
        param_space={**fast_values("ae"), "epochs": 2},
        run_config=tune.RunConfig(
            storage_path=str(tmp_path), verbose=0, failure_config=tune.FailureConfig(max_failures=1),
            callbacks=[KeptResults()],  # as sweeps run it: the restart keeps the epochs reported before the crash
        ),
    )
    [result] = tuner.fit()
    assert result.error is None
    assert list(result.metrics_dataframe["epoch"]) == [1, 2]  # restored at epoch 2: nothing trained twice
    assert read_events(result.path)[0] == {"reconstructions": [(1, (112, 112)), (2, (112, 112))]}  # kept on restore


@pytest.mark.parametrize("cpus", [1, 2])
def test_a_trial_trains_with_as_many_torch_threads_as_it_has_cpus(cpus, request, tiny, tmp_path):
    import torch

    request.getfixturevalue("fresh_ray" if cpus == 2 else "local_ray")  # a trial of both CPUs: see fresh_ray

    from trainables.tune import to_arrays, train_trial

    def probe(config, **kwargs):
        torch.set_num_threads(3)  # as a user's OMP_NUM_THREADS or a reused worker would leave it
        train_trial(config, **kwargs)
        tune.report({"threads": torch.get_num_threads()})

    tuner = tune.Tuner(
        tune.with_resources(tune.with_parameters(probe, model="ae", arrays=to_arrays(tiny), judge=None), {"cpu": cpus}),
        param_space={**fast_values("ae"), "epochs": 1},
        run_config=tune.RunConfig(storage_path=str(tmp_path), verbose=0),
    )
    [result] = tuner.fit()
    assert result.metrics["threads"] == cpus
