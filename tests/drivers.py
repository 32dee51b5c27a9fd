"""A sweep's driver as a real process, killed mid-sweep as a crash or a lost head would kill it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path


def kill_after_first_trial(argv: list[str], log: Path, while_running: Callable[[], None] = lambda: None,
                           saved: Callable[[], bool] = lambda: True) -> None:
    """Run `sweeps ARGV` in a session of its own, logging to `log`; once a trial has finished, call `while_running`,
    let Tune snapshot the experiment (every second; under load its copy to the storage can take longer, so until
    `saved` says the stored experiment shows what the test needs, up to 60 s), then SIGKILL the driver and whatever
    it left behind (Ray's own processes)."""
    with log.open("w") as out:
        driver = subprocess.Popen([sys.executable, "-m", "sweeps.cli", *argv], stdout=out, stderr=subprocess.STDOUT,
                                  start_new_session=True)
    try:
        deadline = time.monotonic() + 240
        while "1 finished" not in log.read_text():
            assert driver.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.2)
        while_running()
        time.sleep(1.5)
        deadline = time.monotonic() + 60
        while not saved() and time.monotonic() < deadline:
            time.sleep(0.2)
    finally:
        try:
            os.killpg(driver.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        driver.wait()
