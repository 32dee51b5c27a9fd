"""Sweeps on a real Ray cluster of a head and two worker nodes on this machine, with token authentication:
trials spread over the nodes, a worker node lost mid-trial, a cluster that wants a token we lack."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.clusters.local_cluster import LocalCluster

SPECS = Path(__file__).parents[2] / "sweeps" / "specs"
EPOCHS = 6


@pytest.fixture(scope="module")
def cluster():
    """One cluster for the module: the tests of tokens need only its head, whichever workers it has or lost."""
    cluster = LocalCluster()
    cluster.start_head()
    yield cluster
    cluster.stop()


def reported(trial_folder: Path) -> list[tuple[int, str, int]]:
    """(epoch, node_id, timestamp) of each result Tune recorded for a trial, in order."""
    results = trial_folder / "result.json"
    lines = results.read_text().splitlines() if results.exists() else []
    return [(r["epoch"], r["node_id"], r["timestamp"]) for r in map(json.loads, lines)]


def test_a_sweep_spreads_over_the_nodes_and_survives_losing_one(cluster, real_source, tmp_path):
    from analysis import load_experiment

    cluster.add_worker("worker-1")
    cluster.add_worker("worker-2")
    nodes = cluster.node_ids()
    assert len(set(nodes.values())) == 3
    experiment = tmp_path / "runs" / "ae"
    started = time.monotonic()
    sweep = subprocess.Popen(
        [sys.executable, "-m", "sweeps.cli", "run", str(SPECS / "ae.yaml"), "--preset", "smoke",
         "--set", "num_samples=3", "--set", "max_concurrent=3", "--set", f"fixed.epochs={EPOCHS}",
         "--set", "data.limit=1000", "--set", "scheduler={type: none}", "--set", "max_failures=3",
         *real_source.sweep_args, "--address", cluster.address, "--storage", str(experiment.parent),
         "--name", "ae"],
        env=cluster.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    # Wait until the trial on worker-1 has checkpointed two epochs, then lose worker-1.
    victim = None
    while victim is None:
        assert sweep.poll() is None, sweep.communicate()[0]
        assert time.monotonic() - started < 240, "no trial reached epoch 2 on worker-1"
        history = {trial.name: reported(trial) for trial in experiment.glob("*") if trial.is_dir()}
        victim = next((trial for trial, rows in history.items()
                       if rows and rows[-1][1] == nodes["worker-1"] and 2 <= rows[-1][0] < EPOCHS), None)
        time.sleep(0.2)
    lost_at = history[victim][-1][0]
    cluster.kill("worker-1")
    killed = time.time()
    output, _ = sweep.communicate(timeout=300)
    assert sweep.returncode == 0, output
    elapsed = time.monotonic() - started

    table = load_experiment(str(experiment))
    assert len(table) == 3 and table["trial_id"].is_unique, table  # every trial exactly once
    assert (table["status"] == "finished").all() and (table["epochs"] == EPOCHS).all(), table
    history = {trial: reported(experiment / trial) for trial in table["trial_id"]}
    assert {rows[0][1] for rows in history.values()} == set(nodes.values())  # one trial started on each node
    epochs = [epoch for epoch, *_ in history[victim]]
    # Resumed from its last checkpoint: every epoch reported once, none from 1 again.
    assert epochs == list(range(1, EPOCHS + 1)), history[victim]
    after = [(node, at) for epoch, node, at in history[victim] if epoch > lost_at]
    assert after and nodes["worker-1"] not in {node for node, _ in after}  # finished on another node
    resumed_on = next(name for name, node in nodes.items() if node == after[0][0])
    print(f"\nnode loss: worker-1 killed after epoch {lost_at} of {EPOCHS} of trial {victim}; epoch "
          f"{lost_at + 1} reported {after[0][1] - killed:.0f} s later from {resumed_on}; sweep {elapsed:.0f} s")


@pytest.mark.parametrize("address", ["HOST:PORT", "auto"])
def test_a_cluster_that_wants_a_token_refuses_a_sweep_without_it_in_seconds(address, cluster, tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAY_AUTH")} | {"HOME": str(tmp_path)}
    if address == "auto":  # as on a node of the cluster
        address, env["RAY_ADDRESS"] = "auto", cluster.address
    else:
        address = cluster.address
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "sweeps.cli", "run", str(SPECS / "ae.yaml"), "--preset", "smoke",
         "--set", "data.dataset=digits", "--address", address, "--storage", str(tmp_path / "runs")],
        env=env, capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
    port = cluster.address.rsplit(":", 1)[1]  # auto names the node's own address for 127.0.0.1
    assert f":{port} requires its token" in done.stderr
    assert "RAY_AUTH_TOKEN_PATH" in done.stderr
    assert not (tmp_path / "runs").exists()  # nothing written
    assert time.monotonic() - started < 30  # Ray alone retries for 20 s, then says it could not connect
