"""Every private Optuna API the storage layer uses, each with why no public one does the job (the launcher's:
sweeps/internals.py).

pyproject.toml bounds Optuna to the versions these are tested with; tests/test_structure.py fails, naming the
module, where one of them moved.
"""

from __future__ import annotations

import json
from typing import Any

from optuna.storages.journal import JournalFileBackend
from optuna.storages.journal._file import get_lock_file

# Where each internal lives, for the test that checks they are all still there.
USED = {
    "optuna.storages.journal._file": ["get_lock_file", "JournalFileBackend._lock", "JournalFileBackend._file_path"],
}


class UnsyncedJournal(JournalFileBackend):
    """Optuna's journal file without its fsync after each record: a killed driver loses nothing the kernel holds
    (only a crash of the machine could), and a dozen fsyncs a trial (10 ms each here) were a tenth of the driver's
    time at a hundred trials (bench/scale.py)."""

    def append_logs(self, logs: list[dict[str, Any]]) -> None:
        with get_lock_file(self._lock):
            with open(self._file_path, "ab") as f:
                f.write(("\n".join(json.dumps(log, separators=(",", ":")) for log in logs) + "\n").encode())
