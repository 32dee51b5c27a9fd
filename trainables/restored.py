"""The checkpoint a trial restarts from (light imports: a benchmark's synthetic trial uses it too)."""

from __future__ import annotations

from pyarrow import fs
from ray import tune


def restart_checkpoint() -> tune.Checkpoint | None:
    """Tune's checkpoint of this trial, or the newest one in the trial's folder where Tune's is gone: a driver killed
    between two saves of the experiment state (sweeps.internals.save_experiment_state_adaptively) can leave a state
    that names a checkpoint Tune deleted since, as it keeps only the best and the latest."""
    checkpoint = tune.get_checkpoint()
    if checkpoint is None or checkpoint.filesystem.get_file_info(checkpoint.path).type != fs.FileType.NotFound:
        return checkpoint
    storage = tune.get_context().get_storage()
    found = storage.storage_filesystem.get_file_info(fs.FileSelector(storage.trial_fs_path))
    names = sorted(f.base_name for f in found
                   if f.type == fs.FileType.Directory and f.base_name.startswith("checkpoint_"))
    if not names:
        return None
    return tune.Checkpoint(f"{storage.trial_fs_path}/{names[-1]}", filesystem=storage.storage_filesystem)
