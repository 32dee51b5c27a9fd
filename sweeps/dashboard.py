"""`sweeps dashboard`: optuna-dashboard on an experiment's Optuna study, served to this machine only."""

from __future__ import annotations

import errno
import shlex
from pathlib import Path
from socketserver import ThreadingMixIn
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from experiments.errors import SweepError
from experiments.experiment import RERUN_FILE, Experiment, open_experiment, open_study_storage

HOST = "127.0.0.1"  # the dashboard can change the study (tell or delete trials): never open to the network
INSTALL = "pip install 'latent-sweeps[dashboard]'"


def study_journal(path: str) -> str:
    """The local journal file of an experiment's study (a copy, for an experiment in remote storage), or a SweepError
    saying why it has none."""
    experiment, spec = open_experiment(path)
    quoted = shlex.quote(experiment.path)
    record = experiment.read_json(RERUN_FILE)
    if record is not None:
        source = record.get("source", "SWEEP") if isinstance(record, dict) else "SWEEP"
        raise SweepError(f"{experiment.path} is a rerun: it retrains chosen configs and keeps no Optuna study; "
                         f"`sweeps dashboard {shlex.quote(source)}` shows the sweep's")
    if spec.scheduler.type == "pbt":
        raise SweepError(f"{experiment.path} is a population-based training sweep, which keeps no Optuna study: watch "
                         f"its trials with `tensorboard --logdir {quoted}`, or `sweeps status {quoted}`")
    experiment.sync_study(up=False)
    journal = Path(experiment.study_journal)
    if not journal.is_file():
        raise SweepError(f"{experiment.path} has no study yet (no {journal}): its sweep had not asked for a trial; "
                         f"see `sweeps status {quoted}`")
    return str(journal)


class Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True  # Ctrl-C ends the server without waiting for a browser's open requests


class QuietHandler(WSGIRequestHandler):
    def log_message(self, format, *args) -> None:
        """Nothing: the dashboard polls the study every few seconds, a line each."""


def serve_dashboard(path: str, port: int) -> None:
    """Serve optuna-dashboard on the experiment's study at http://127.0.0.1:PORT/ (port 0: any free one) until
    Ctrl-C. A local experiment's study is read as the sweep writes it; a remote one's is this moment's copy."""
    if not 0 <= port <= 65535:
        raise SweepError(f"--port {port}: a port is a number from 1 to 65535 (0: any free one), e.g. --port 8080")
    try:
        import optuna_dashboard
    except ImportError:
        raise SweepError(f"optuna-dashboard is not installed: {INSTALL}") from None
    journal = study_journal(path)
    app = optuna_dashboard.wsgi(open_study_storage(journal))
    try:
        server = make_server(HOST, port, app, server_class=Server, handler_class=QuietHandler)
    except OSError as e:
        taken = " (another dashboard's?)" if e.errno == errno.EADDRINUSE else ""
        raise SweepError(f"--port {port}: {e.strerror}{taken}: choose another port") from None
    print(f"optuna-dashboard of {path} (study {journal}): http://{HOST}:{server.server_port}/ (Ctrl-C stops it)")
    if not Experiment.at(path).is_local:
        print("the study as it is now, copied from the experiment's storage: start again to see newer trials")
    with server:
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass
