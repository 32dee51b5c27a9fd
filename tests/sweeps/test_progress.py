"""The one-line progress of a running sweep."""

from types import SimpleNamespace

from sweeps.progress import Progress


def trial(trial_id: str, status: str, result: dict | None = None) -> SimpleNamespace:
    """What the progress line reads of one of Tune's trials."""
    return SimpleNamespace(trial_id=trial_id, status=status, config={"epochs": 2}, last_result=result or {})


def test_the_progress_line_counts_each_trial_once_and_reads_only_those_still_going():
    progress = Progress("val_mse", "min", epochs=2)
    progress.setup()
    trials = [trial("a", "RUNNING", {"epoch": 1}), trial("b", "PENDING")]
    assert progress.summary(trials)[0] == "1 running · 1 pending"
    trials[0].status, trials[0].last_result = "TERMINATED", {"epoch": 2}
    trials += [trial("c", "ERROR"), trial("d", "TERMINATED", {"epoch": 1})]  # new trials: one failed, one stopped
    assert progress.summary(trials)[0] == "1 pending · 1 finished · 1 stopped · 1 errored"
    trials[0].last_result = None  # an ended trial's outcome is kept, not read again
    trials[1].status = "RUNNING"
    assert progress.summary(trials)[0] == "1 running · 1 finished · 1 stopped · 1 errored"


def test_a_resumed_sweep_s_progress_line_starts_from_the_best_its_restored_trials_reached():
    progress = Progress("val_mse", "min", epochs=2)
    progress.setup()
    restored = [trial("a", "TERMINATED", {"val_mse": 0.1, "epoch": 2}), trial("b", "PENDING", {"val_mse": 0.3})]
    assert progress.summary(restored)[1] == "1 pending · 1 finished | best val_mse 0.1 (trial a, epoch 2)"
    progress.on_trial_result(0, restored, restored[1], {"val_mse": 0.05, "epoch": 2})
    assert progress.summary(restored)[1].endswith("best val_mse 0.05 (trial b, epoch 2)")
