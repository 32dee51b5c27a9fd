"""Ray for the duration of a command: a cluster joined, or a local Ray started and stopped; Ray's and Optuna's
log messages into the experiment's log file, not the terminal, and logging as it was afterwards."""

from __future__ import annotations

import contextlib
import logging

from experiments.errors import SweepError
from sweeps import internals


@contextlib.contextmanager
def connected(address: str | None, log_file):
    """Ray for the duration of a sweep: a cluster at `address`, or a local one started (and stopped) here.
    Ray's and Optuna's log messages go to `log_file`, not the terminal."""
    import optuna
    import ray

    started = not ray.is_initialized()
    if started:
        check_reachable(address)  # before anything is written: a wrong address leaves no experiment behind
    log_file.parent.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(log_file)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root, terminals = logging.getLogger(), list(logging.getLogger().handlers)
    for terminal in terminals:
        terminal.addFilter(not_ray_or_optuna)
    root.addHandler(handler)
    kept = {name: (logging.getLogger(name).propagate, list(logging.getLogger(name).handlers))
            for name in ("ray", "optuna")}
    logging.getLogger("ray").propagate = True  # Ray sends its messages to its own stderr handler otherwise
    optuna.logging.disable_default_handler()
    optuna.logging.enable_propagation()
    try:
        if started:
            start_ray(address)
        yield
    finally:
        if started:
            ray.shutdown()
        root.removeHandler(handler)
        handler.close()
        for terminal in terminals:
            terminal.removeFilter(not_ray_or_optuna)
        for name, (propagate, handlers) in kept.items():  # as the caller had them
            logging.getLogger(name).propagate, logging.getLogger(name).handlers[:] = propagate, handlers


def not_ray_or_optuna(record: logging.LogRecord) -> bool:
    return not record.name.startswith(("ray", "optuna"))


def start_ray(address: str | None) -> None:
    import ray
    from ray.exceptions import AuthenticationError

    try:
        # "local" starts a new Ray even where another runs on this machine: --address joins one.
        ray.init(address=address or "local", include_dashboard=False, log_to_driver=False, configure_logging=False)
    except (ConnectionError, RuntimeError, OSError, AuthenticationError) as error:
        if address is None:
            raise SweepError(f"could not start a local Ray: {error}") from None
        raise SweepError(f"no Ray cluster answers at {address}: {error}\n{START_A_CLUSTER}") from None


START_A_CLUSTER = ("Start one (`ray up cluster.yaml`, or `ray start --head`), check the address, or leave out "
                   "--address to run on a local Ray")


def check_reachable(address: str | None, timeout_s: float = 5.0) -> None:
    """Fail in seconds, with the fix, where no cluster answers (for auto: none runs on this machine), where
    something else listens, or where the cluster wants a token we lack; Ray retries, then blames the network."""
    import socket

    from ray.exceptions import AuthenticationError, RpcError

    if address == "auto":
        try:
            address = internals.auto_address()
        except ConnectionError:
            raise SweepError(f"no Ray cluster runs on this machine (--address auto)\n{START_A_CLUSTER}") from None
    if address in (None, "local") or "://" in address:
        return
    host, _, port = address.rpartition(":")
    try:
        with socket.create_connection((host, int(port)), timeout=timeout_s):
            pass
    except (OSError, ValueError) as error:
        raise SweepError(f"no Ray cluster answers at {address}: {error}\n{START_A_CLUSTER}") from None
    try:
        internals.check_gcs(address)
    except RpcError as error:  # something listens there, and it is not a Ray head
        raise SweepError(f"no Ray cluster answers at {address}: something else does ({error}). Give the head's "
                         "address and port (`ray start --head --port`, 6379 in cluster.yaml; not the dashboard's)"
                         ) from None
    except AuthenticationError:
        raise SweepError(
            f"the Ray cluster at {address} requires its token (Ray's token authentication), and this process "
            "has none that it accepts: copy the cluster's token file (on a `ray up` cluster: `ray exec "
            "cluster.yaml 'cat ~/.ray/auth_token' > FILE`) and set RAY_AUTH_MODE=token "
            "RAY_AUTH_TOKEN_PATH=FILE"
        ) from None


