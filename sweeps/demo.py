"""`sweeps demo`: short sweeps of every model family, a rerun of each best config, and the report of them all."""

from __future__ import annotations

import logging
import sys
import time
from pathlib import Path

from analysis.report import write_report
from analysis.summary import report_results, summarise_rerun
from experiments.experiment import load_inputs, new_experiment
from experiments.spec import SweepSpec, load_spec
from sweeps.launch import start_sweep
from sweeps.rerun import plan_rerun, start_rerun
from sweeps.session import connected
from trainables.data import DATASETS, MissingDataError, fetch_missing, raw_folder

log = logging.getLogger(__name__)

SPECS = Path(__file__).parent / "specs"


def run_demo(models: list[str], preset: str, storage: str, dataset: str | None, address: str | None, data_dir,
             cache_dir, offline: bool = False, top: int = 1, seeds: int = 2) -> Path:
    """Sweep each model by its shipped file's `preset`, rerun the `top` configs with `seeds` seeds, and write the
    report into STORAGE/demo-DATE-TIME/report; returns the report page. Where the sweep files' dataset is missing
    and cannot be downloaded, and no `dataset` was asked for, the demo runs on scikit-learn's digits."""
    specs = load_specs(models, preset, dataset)
    if dataset is None and not fetch_datasets(specs, data_dir, offline):
        specs = load_specs(models, preset, "digits")
    inputs = [load_inputs(spec, data_dir, cache_dir, offline) for spec in specs]  # data errors before Ray starts
    root = Path(storage).resolve() / f"demo-{time.strftime('%Y%m%d-%H%M%S')}"
    experiments, started = [], time.perf_counter()
    with connected(address, root / "driver.log"):
        for spec, (data, judge) in zip(specs, inputs):
            model_started = time.perf_counter()
            experiment = new_experiment(str(root), spec.model, spec.model)
            log.info("\n== %s: %d trials, %s (%s)", spec.model, spec.num_samples, spec.metric[0], spec.mode[0])
            start_sweep(experiment, spec, data, judge, ["sweeps", *sys.argv[1:]], autoscaling=address is not None)
            report_results(experiment, spec)
            rerun_spec, record = plan_rerun(experiment, spec, top, seeds, None, {})
            log.info("\n== %s: rerun of the best %d configs with %d seeds each", spec.model, top, seeds)
            rerun = start_rerun(experiment, rerun_spec, record, data, judge, "demo", ["sweeps", *sys.argv[1:]])
            summarise_rerun(rerun.path, spec.metric[0])
            experiments.append(experiment.path)
            log.info("== %s: sweep and rerun took %.0f s", spec.model, time.perf_counter() - model_started)
    log.info("\n== report (sweeps and reruns took %.0f s)", time.perf_counter() - started)
    started = time.perf_counter()
    page = write_report(experiments, root / "report", data_dir, cache_dir)
    log.info("== report took %.0f s", time.perf_counter() - started)
    return page


def load_specs(models: list[str], preset: str, dataset: str | None) -> list[SweepSpec]:
    overrides = [f"data.dataset={dataset}"] if dataset else []
    return [load_spec(SPECS / f"{model}.yaml", preset, overrides) for model in models]


def fetch_datasets(specs: list[SweepSpec], data_dir, offline: bool) -> bool:
    """Download the sweep files' datasets where missing; False, said in one line, where offline or no network."""
    for name in dict.fromkeys(spec.data.dataset for spec in specs):
        try:
            fetch_missing(name, data_dir, offline)
        except MissingDataError:
            folder, why = DATASETS[name], "--offline" if offline else "no network"
            log.warning(f"no {folder} files in {raw_folder(name, data_dir)} and {why}: this demo runs on "
                        f"scikit-learn's 1,797 bundled 8x8 digits instead; for {folder}, run it "
                        f"{'without --offline ' if offline else ''}where a network answers, or put the IDX files "
                        f"in DIR/{folder}/raw and pass --data-dir DIR")
            return False
    return True
