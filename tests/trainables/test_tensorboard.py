"""Each epoch's image grid: fixed inputs, training untouched, written where storage cannot append, never fatal.
The grids of real Tune trials are checked in test_tune.py."""

import logging

import numpy as np
from pyarrow import fs

from tests.families import fast_config
from tests.trainables.test_tune import read_events
from trainables.registry import FAMILIES
from trainables.tensorboard import EpochImages, draw_grid, tile


def test_tile_lays_images_out_row_by_row():
    images = np.arange(4)[:, None, None] * np.ones((4, 2, 3))  # image i filled with i
    assert tile(images, 2).tolist() == [[0, 0, 0, 1, 1, 1]] * 2 + [[2, 2, 2, 3, 3, 3]] * 2


def test_the_grid_shows_the_same_inputs_each_time_and_leaves_training_as_it_was(tiny):
    family, cfg = FAMILIES["ae"], fast_config("ae", epochs=2)
    plain = [metrics for metrics, _ in family.fit(cfg, tiny, None, "cpu", None)]
    drawn = []
    for metrics, state in family.fit(cfg, tiny, None, "cpu", None):
        grid = draw_grid(family, cfg, tiny, state)
        assert grid.shape == (112, 112) and 0 <= grid.min() and grid.max() <= 1
        assert np.array_equal(grid, draw_grid(family, cfg, tiny, state))
        drawn.append(metrics)
    assert drawn == plain  # building the grid's network drew nothing from the training's random numbers


def trained_states(model: str, data, epochs: int = 2) -> tuple:
    family, cfg = FAMILIES[model], fast_config(model, epochs=epochs)
    return family, cfg, [state for _, state in family.fit(cfg, data, None, "cpu", None)]


def test_grids_are_uploaded_after_each_epoch_where_storage_is_not_a_filesystem(tiny, tmp_path):
    family, cfg, states = trained_states("ae", tiny)
    bucket = fs.SubTreeFileSystem(str(tmp_path), fs.LocalFileSystem())  # pyarrow's kind of an object store's
    images = EpochImages(family, cfg, tiny, bucket, "exp/trial")
    images.write(states[0])
    assert read_events(str(tmp_path / "exp" / "trial"))[0] == {"reconstructions": [(1, (112, 112))]}
    images.write(states[1])
    images.close()
    assert read_events(str(tmp_path / "exp" / "trial"))[0] == {"reconstructions": [(1, (112, 112)), (2, (112, 112))]}


def test_a_failed_write_is_logged_and_the_trial_goes_on(tiny, tmp_path, caplog):
    family, cfg, [state] = trained_states("ae", tiny, epochs=1)
    blocked = tmp_path / "trial"
    blocked.write_text("a file where the trial's folder should be")
    images = EpochImages(family, cfg, tiny, fs.LocalFileSystem(), str(blocked))
    with caplog.at_level(logging.WARNING, logger="trainables.tensorboard"):
        images.write(state)
        images.close()
    assert f"the images of epoch 1 were not written to {blocked}" in caplog.text
