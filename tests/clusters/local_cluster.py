"""A real Ray cluster of several nodes on this machine, started the way `cluster.yaml` starts one: `ray start`
with token authentication, each node its own processes (one session each) and its own temp dir."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

RAY = str(Path(sys.executable).parent / "ray")
NODE_IDS = """
import json, sys, time, ray
ray.init(address=sys.argv[1], log_to_driver=False, configure_logging=False)
deadline = time.monotonic() + 60
while len(alive := {n["NodeName"]: n["NodeID"] for n in ray.nodes() if n["Alive"]}) < int(sys.argv[2]):
    assert time.monotonic() < deadline, alive
    time.sleep(0.5)
print(json.dumps(alive))
"""


class LocalCluster:
    def __init__(self):
        # Short paths: Ray's socket names must fit in 107 bytes.
        self.root = Path(tempfile.mkdtemp(prefix="rc-", dir="/tmp"))
        token = self.root / "token"
        token.write_text(uuid.uuid4().hex)
        token.chmod(0o600)
        self.env = {**os.environ, "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN_PATH": str(token),
                    "RAY_USAGE_STATS_ENABLED": "0"}
        self.address = f"127.0.0.1:{free_port()}"
        self.sessions: dict[str, int] = {}  # node name -> the session id of all its processes

    def start_head(self) -> None:
        self.start("head", "--head", f"--port={self.address.rsplit(':', 1)[1]}",
                   f"--dashboard-port={free_port()}", "--include-dashboard=false")

    def add_worker(self, name: str) -> None:
        self.start(name, f"--address={self.address}")

    def start(self, name: str, *args: str) -> None:
        log = self.root / f"{name}.log"
        with open(log, "w") as out:
            process = subprocess.Popen(
                [RAY, "start", *args, f"--node-name={name}", "--node-ip-address=127.0.0.1", "--num-cpus=1",
                 "--object-store-memory=200000000", f"--temp-dir={self.root / name}"],
                env=self.env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
            )
            assert process.wait(timeout=120) == 0, log.read_text()
        self.sessions[name] = process.pid

    def node_ids(self) -> dict[str, str]:
        """Node name -> Ray node ID, once every started node is alive."""
        done = subprocess.run([sys.executable, "-c", NODE_IDS, self.address, str(len(self.sessions))],
                              env=self.env, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout.splitlines()[-1])

    def kill(self, name: str) -> None:
        """The node dies at once, as when a machine is lost: SIGKILL to every one of its processes."""
        kill_session(self.sessions.pop(name), signal.SIGKILL)

    def stop(self) -> None:
        """Every node's processes, and nothing else (`ray stop` would stop other Rays on this machine too)."""
        sessions = list(self.sessions.values())
        self.sessions.clear()
        for sig in (signal.SIGTERM, signal.SIGKILL):
            time.sleep(1 if sig == signal.SIGKILL else 0)  # a moment to stop on SIGTERM
            for session in sessions:
                kill_session(session, sig)
        shutil.rmtree(self.root, ignore_errors=True)


def kill_session(session: int, sig: signal.Signals) -> None:
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()  # state ppid pgrp session ...
            if int(fields[3]) == session:
                os.kill(int(stat.parent.name), sig)
        except (OSError, IndexError, ValueError):
            continue


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
