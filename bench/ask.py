"""TPE's ask as a sweep's driver makes it, in a process of its own: a study in the project's journal holding N
finished trials of the synthetic sweep (bench/synthetic.py's space and values) and R running ones; the project's
TPE (WindowedTPE: past 1,000 finished trials it models the 25 best, the most recent and the running) against
Optuna's own. The issue's target: p99 under 100 ms up to 10,000 finished trials.

    python -m bench.ask [--finished 1000 10000] [--running 64] [--asks 50]
"""

from __future__ import annotations

import tempfile
import time

import numpy as np

from bench.common import build_parser, emit, run
from bench.synthetic import objective


def ask_ms(sampler, finished: int, running: int, asks: int, folder: str) -> dict:
    """Median and p99 ms of `asks` asks, each followed by a tell of the oldest running trial (R stay running)."""
    import optuna

    from experiments.internals import UnsyncedJournal

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    space = {"lr": optuna.distributions.FloatDistribution(1e-4, 3e-2, log=True),
             "batch_size": optuna.distributions.CategoricalDistribution([16, 32, 64, 128])}
    storage = optuna.storages.JournalStorage(UnsyncedJournal(f"{folder}/{type(sampler).__name__}-{finished}.journal"))
    study = optuna.create_study(storage=storage, sampler=sampler)
    rng = np.random.default_rng(0)
    params = [{"lr": float(10 ** rng.uniform(-4, np.log10(3e-2))), "batch_size": int(rng.choice([16, 32, 64, 128]))}
              for _ in range(finished)]
    study.add_trials([optuna.trial.create_trial(params=p, distributions=space, value=objective(p, 1))
                      for p in params])
    pending = [study.ask(space) for _ in range(running)]
    seconds = []
    for _ in range(asks):
        start = time.perf_counter()
        trial = study.ask(space)
        seconds.append(time.perf_counter() - start)
        done = pending.pop(0)
        study.tell(done, objective(done.params, 1))
        pending.append(trial)
    return {"median_ms": round(1000 * float(np.median(seconds)), 1),
            "p99_ms": round(1000 * float(np.percentile(seconds, 99)), 1)}


def main() -> None:
    import optuna

    from sweeps.internals import WindowedTPE

    parser = build_parser(__doc__)
    parser.add_argument("--finished", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--running", type=int, default=64)
    parser.add_argument("--asks", type=int, default=50)
    args = parser.parse_args()
    results, summary = {"running": args.running, "sizes": []}, []
    with tempfile.TemporaryDirectory() as folder:
        for n in args.finished:
            windowed = ask_ms(WindowedTPE(seed=0, n_startup_trials=10, constant_liar=True), n, args.running,
                              args.asks, folder)
            optunas = ask_ms(optuna.samplers.TPESampler(seed=0, n_startup_trials=10, constant_liar=True), n,
                             args.running, args.asks, folder)
            results["sizes"].append({"finished": n, "windowed_tpe": windowed, "optuna_tpe": optunas})
            summary.append(f"{n} finished, {args.running} running: ask {windowed['median_ms']} ms (p99 "
                           f"{windowed['p99_ms']}), Optuna's TPE {optunas['median_ms']} ms (p99 {optunas['p99_ms']})")
    emit(results, summary)


if __name__ == "__main__":
    run(main)
