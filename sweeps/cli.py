"""The `sweeps` command line."""

from __future__ import annotations

import argparse
import io
import logging
import os
import sys
from pathlib import Path

from experiments.errors import SweepError
from trainables.config import ConfigError, describe_fields, parse_config
from trainables.data import DATASETS, MIN_IMAGES, DataError, fetch_missing
from trainables.registry import FAMILIES

log = logging.getLogger("sweeps")


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if isinstance(sys.stdout, io.TextIOWrapper):  # results stay in order with the log lines when piped to a file
        sys.stdout.reconfigure(line_buffering=True)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        return args.command(args)
    except (ConfigError, DataError, SweepError) as error:
        kind = "config" if isinstance(error, ConfigError) else "data" if isinstance(error, DataError) else "sweep"
        print(f"sweeps {args.verb}: {kind} error:\n{error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `sweeps status ... | head`: the reader left; say nothing more
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sweeps", description="Hyperparameter sweeps of generative models of handwritten digits: "
        + ", ".join(f"{f.title} ({name})" for name, f in FAMILIES.items()) + "."
    )
    verbs = parser.add_subparsers(dest="verb", required=True, metavar="VERB")
    train = verbs.add_parser(
        "train",
        help="train one configuration, without a sweep, printing metrics per epoch",
        description="Train one configuration of a model without Ray and print its metrics after each epoch.",
        epilog=fields_help(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    train.add_argument("model", nargs="?", choices=list(FAMILIES), help="the model (not with --from)")
    add_set_argument(train, "a config field of the model (repeatable), e.g. --set epochs=1 --set latent_dim=16")
    train.add_argument("--from", dest="source", metavar="EXPERIMENT",
                       help="reproduce a trial of this experiment: its model, config, dataset and limit")
    train.add_argument("--trial", help="with --from: the trial's id (default: the experiment's best trial)")
    add_data_arguments(train)
    train.set_defaults(command=run_train)

    run = verbs.add_parser(
        "run", help="run a sweep from a YAML sweep file on Ray Tune, guided by Optuna",
        description="Validate a sweep file, then search the model's hyperparameters with Optuna on Ray Tune "
        "(a local Ray unless --address is given). Results go to STORAGE/NAME.",
    )
    run.add_argument("file", help="sweep file, e.g. sweeps/specs/ae.yaml")
    run.add_argument("--preset", help="a named set of overrides from the file's `presets`, e.g. smoke")
    add_set_argument(run, "override a field of the sweep file by dotted path (repeatable), e.g. --set num_samples=4 "
                     "--set fixed.epochs=3 --set search.lr.high=0.1", metavar="PATH=VALUE")
    run.add_argument("--name", help="experiment name (default: MODEL-DATE-TIME)")
    run.add_argument("--storage", default="runs", help="local folder, shared filesystem or s3:// URI (default: ./runs)")
    add_address_argument(run)
    run.add_argument("--warm-start", metavar="EXPERIMENT", help="seed the search with an earlier sweep's trials "
                     "(same model and metric) and try its best configs first (the file's warm_start.top, default 3)")
    run.add_argument("--check", action="store_true", help="only validate the sweep file and print it, resolved")
    add_data_arguments(run, dataset=False)
    run.set_defaults(command=run_run)

    resume = verbs.add_parser(
        "resume", help="go on with an interrupted sweep (driver killed, Ctrl-C, reboot)",
        description="Continue a sweep: finished trials are kept, unfinished ones restart from their last "
        "checkpoint, and the Optuna study goes on where it stopped. Errored trials are reported, not rerun.",
    )
    resume.add_argument("experiment", help="the experiment directory, e.g. runs/ae-20261127-101500")
    resume.add_argument("--trust", action="store_true",
                        help="resume an experiment that this user's sweeps on this machine did not write as it is "
                        "now (copied from elsewhere, or its driver killed before it signed its files): resuming "
                        "unpickles Ray's state, which can run code")
    add_address_argument(resume)
    add_data_arguments(resume, dataset=False)
    resume.set_defaults(command=run_resume)

    extend = verbs.add_parser(
        "extend", help="more trials for a finished or interrupted sweep, its search space changed if need be",
        description="Run another round of trials in the same experiment: ranges widened or narrowed, choices or "
        "parameters added, parameters fixed (--set, --preset). Every earlier trial that fits the new space seeds the "
        "round's Optuna study, so TPE starts from what the sweep learnt; `status`, `analyze` and `report` show all "
        "rounds in one table (its `round` column). Model, metric, data, scheduler and fixed values stay as they were.",
    )
    extend.add_argument("experiment", help="the experiment directory")
    extend.add_argument("--num-samples", type=positive, help="trials to add (default: as many as the last round)")
    extend.add_argument("--preset", help="a preset of the experiment's sweep file, applied to the new round")
    add_set_argument(extend, "change the search by dotted path (repeatable), e.g. --set search.lr.high=0.1 --set "
                     "'search.activation.choices=[relu, gelu]'", metavar="PATH=VALUE")
    add_address_argument(extend)
    add_data_arguments(extend, dataset=False)
    extend.set_defaults(command=run_extend)

    status = verbs.add_parser("status", help="trials of one experiment by state, and the best so far",
                              description="Show one experiment: running or interrupted, trials by state, best trial.")
    status.add_argument("experiment", help="the experiment directory")
    status.set_defaults(command=run_status)

    dashboard = verbs.add_parser(
        "dashboard", help="optuna-dashboard on an experiment's study: trials, learning curves, importances",
        description="Serve optuna-dashboard (pip install 'latent-sweeps[dashboard]') on the experiment's Optuna "
        "study at http://127.0.0.1:PORT/, to this machine only (from another: ssh -L PORT:127.0.0.1:PORT HOST): each "
        "trial's value and parameters, its value per epoch, which trials were pruned, and the parameters' "
        "importances. It follows a running sweep in local storage; Ctrl-C stops it.",
    )
    dashboard.add_argument("experiment", help="the experiment directory")
    dashboard.add_argument("--port", type=int, default=8080, help="default: 8080; 0: any free port")
    dashboard.set_defaults(command=run_dashboard)

    listing = verbs.add_parser("list", help="every experiment under a storage path",
                               description="One line per experiment under STORAGE: model, trials, best value.")
    listing.add_argument("storage", nargs="?", default="runs", help="default: ./runs")
    listing.set_defaults(command=run_list)

    analyze = verbs.add_parser(
        "analyze", help="the trial table, best trials, cost and parameter importance; writes trials.csv",
        description="Print the best trials, the sweep's cost and each parameter's importance (and a rerun's "
        "mean ± std, for a rerun), and write EXPERIMENT/trials.csv and trials.parquet for pandas.",
    )
    analyze.add_argument("experiment", help="an experiment directory, or a rerun's (EXPERIMENT/reruns/NAME)")
    analyze.add_argument("--top", type=positive, default=10, help="best trials shown (default: 10)")
    analyze.set_defaults(command=run_analyze)

    rerun = verbs.add_parser(
        "rerun", help="retrain the best configs with several seeds, as a new Ray Tune experiment",
        description="Retrain the K best configs of a sweep with seeds 0..N-1 each (on Ray, so on a cluster with "
        "--address too), keep their best checkpoints in EXPERIMENT/reruns/NAME, and print each config's mean ± std "
        "of the sweep's metric and how well the sweep's ranking held.",
    )
    rerun.add_argument("experiment", help="the sweep's experiment directory")
    rerun.add_argument("--top", type=positive, default=3, help="configs rerun, best first (default: 3)")
    rerun.add_argument("--seeds", type=positive, default=3, help="seeds per config (default: 3)")
    rerun.add_argument("--epochs", type=positive, help="epochs of each run (default: the sweep's)")
    add_set_argument(rerun, "change a config field of every rerun (repeatable)")
    rerun.add_argument("--name", help="the rerun's name (default: MODEL-rerun-DATE-TIME)")
    add_address_argument(rerun)
    add_data_arguments(rerun, dataset=False)
    rerun.set_defaults(command=run_rerun)

    sample = verbs.add_parser(
        "sample", help="draw images from a trained model (an autoencoder's: reconstructions) into a .npy file",
        description="Write a float32 array (N, 28, 28) in [0, 1]: samples of the best (or --trial) checkpoint of "
        f"{', '.join(n for n, f in FAMILIES.items() if f.samples)}, or the reconstructions of the first N test "
        f"digits by {', '.join(n for n, f in FAMILIES.items() if not f.samples)}.",
    )
    sample.add_argument("experiment", help="an experiment directory (or a rerun's)")
    sample.add_argument("--trial", help="the trial's id (default: the best trial)")
    sample.add_argument("--n", type=positive, default=2000, help="images (default: 2000)")
    sample.add_argument("--seed", type=int, default=0, help="seeds the latents (default: 0)")
    sample.add_argument("--out", default="samples.npy", help="output file (default: samples.npy)")
    add_data_arguments(sample, dataset=False)
    sample.set_defaults(command=run_sample)

    report = verbs.add_parser(
        "report", help="a static HTML report of experiments: best configs, every figure, trial tables",
        description="Write OUT/index.html and its images: per experiment the best config and metrics (with the "
        "latest rerun's mean ± std), the model's figures from its best checkpoint, the sweep's figures and the "
        "trial table. Opens from disk, no server.",
    )
    report.add_argument("experiments", nargs="+", metavar="EXPERIMENT")
    report.add_argument("--out", help="output folder (default: EXPERIMENT/report, or report/ beside several)")
    report.add_argument("--seed", type=int, default=0, help="seeds samples and t-SNE (default: 0)")
    add_data_arguments(report, dataset=False)
    report.set_defaults(command=run_report)

    demo = verbs.add_parser(
        "demo", help="short sweeps of every model, a rerun of each best config, and the report",
        description="Sweep each model with its shipped sweep file's `demo` preset, rerun each best "
        "config (or the --top best) with two seeds, and write the HTML report; prints its path.",
    )
    demo.add_argument("--preset", default="demo", help="the sweep files' preset to run (default: demo)")
    demo.add_argument("--storage", default="runs", help="where the demo's experiments go (default: ./runs)")
    demo.add_argument("--models", nargs="+", default=list(FAMILIES), choices=list(FAMILIES), help="default: all")
    demo.add_argument("--dataset", choices=list(DATASETS), help="default: each sweep file's (mnist)")
    demo.add_argument("--top", type=positive, default=1, help="configs rerun per sweep, best first (default: 1)")
    add_address_argument(demo)
    add_data_arguments(demo, dataset=False)
    demo.set_defaults(command=run_demo)
    return parser


def positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of 1 or more, got {text!r}")
    return int(text)


def images(text: str) -> int:
    if not text.isdigit() or int(text) < MIN_IMAGES:
        raise argparse.ArgumentTypeError(f"expected at least {MIN_IMAGES} images (batch normalisation and the k-NN "
                                         f"probe need several), got {text!r}")
    return int(text)


def add_set_argument(parser: argparse.ArgumentParser, text: str, metavar: str = "KEY=VALUE") -> None:
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar=metavar, help=text)


def add_address_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--address", help="join a running Ray cluster: auto or HOST:PORT (default: start a local "
                        "Ray); a cluster with token authentication wants RAY_AUTH_MODE=token and its token")


def add_data_arguments(parser: argparse.ArgumentParser, dataset: bool = True) -> None:
    if dataset:  # a sweep file names its dataset and limit in `data:`
        parser.add_argument("--dataset", choices=list(DATASETS), help="default: mnist (or the experiment's)")
        parser.add_argument("--limit", type=images, help="use only the first N images of each partition")
    parser.add_argument(
        "--data-dir", help="folder holding MNIST/raw/ or FashionMNIST/raw/ (default: $SWEEPS_DATA_DIR, else ./data)"
    )
    parser.add_argument("--offline", action="store_true", help="never download: missing IDX files are an error "
                        "(default: download them from torchvision's mirrors, or $SWEEPS_DATA_MIRRORS)")
    parser.add_argument("--download", action="store_true", help=argparse.SUPPRESS)  # the default now; still accepted
    parser.add_argument("--cache-dir", help="where the judge classifier is cached (default: $SWEEPS_CACHE_DIR)")


def fields_help() -> str:
    lines = ["config fields (--set KEY=VALUE):"]
    for name, family in FAMILIES.items():
        lines.append(f"  {name}:")
        lines += [f"    {field:<16}{default!s:<18}{text}" for field, default, text in describe_fields(family.config)]
    return "\n".join(lines)


def parse_overrides(pairs: list[str]) -> dict[str, str]:
    problems = [f"`{pair}`: expected KEY=VALUE, e.g. epochs=1" for pair in pairs if "=" not in pair]
    if problems:
        raise ConfigError(problems)
    return dict(pair.split("=", 1) for pair in pairs)


def run_train(args: argparse.Namespace) -> int:
    from sweeps.train import train

    model, config, dataset, limit = args.model, {}, args.dataset or "mnist", args.limit
    if args.source:
        from analysis.checkpoints import pick_trial
        from experiments.trials import open_results

        results = open_results(args.source)
        experiment, sweep = results.experiment, results.spec
        trial_id = pick_trial(results, args.trial)
        model, config = sweep.model, experiment.trial_config(trial_id)
        dataset, limit = args.dataset or sweep.data.dataset, args.limit or sweep.data.limit
        log.info("trial %s of %s", trial_id, experiment.path)
    elif model is None:
        raise ConfigError(["give a model (sweeps train ae), or --from EXPERIMENT to reproduce one of its trials"])
    family = FAMILIES[model]
    cfg = parse_config(family.config, {**config, **parse_overrides(args.overrides)})
    train(family, cfg, dataset, limit, args.data_dir, args.cache_dir, args.offline)
    return 0


def run_run(args: argparse.Namespace) -> int:
    from sweeps.api import resolve_spec

    spec = resolve_spec(args.file, args.preset, args.overrides, args.warm_start)
    if args.check:
        from experiments.spec import dump_spec

        print(dump_spec(spec), end="")
        return 0
    from analysis.summary import report_results
    from sweeps.api import run

    sweep = run(spec, storage=args.storage, name=args.name, address=args.address, **data_options(args))
    return report_results(sweep.experiment, sweep.spec)


def run_resume(args: argparse.Namespace) -> int:
    from analysis.summary import report_results
    from sweeps.api import resume

    sweep = resume(args.experiment, args.address, args.trust, **data_options(args))
    return report_results(sweep.experiment, sweep.spec)


def run_extend(args: argparse.Namespace) -> int:
    from analysis.summary import report_results
    from sweeps.api import extend

    sweep = extend(args.experiment, args.num_samples, args.preset, args.overrides, args.address, **data_options(args))
    return report_results(sweep.experiment, sweep.spec)


def data_options(args: argparse.Namespace) -> dict:
    return {"data_dir": args.data_dir, "cache_dir": args.cache_dir, "offline": args.offline}


def run_status(args: argparse.Namespace) -> int:
    from analysis.results import describe_experiment

    print(describe_experiment(args.experiment))
    return 0


def run_dashboard(args: argparse.Namespace) -> int:
    from sweeps.dashboard import serve_dashboard

    serve_dashboard(args.experiment, args.port)
    return 0


def run_list(args: argparse.Namespace) -> int:
    from analysis.results import list_experiments

    table = list_experiments(args.storage)
    print(table.to_string(index=False) if len(table) else f"no experiments under {args.storage}")
    return 0


def run_analyze(args: argparse.Namespace) -> int:
    from analysis.summary import analyze

    return analyze(args.experiment, args.top)


def run_rerun(args: argparse.Namespace) -> int:
    from analysis.summary import summarise_rerun
    from sweeps.api import open as open_sweep

    sweep = open_sweep(args.experiment)
    rerun = sweep.rerun(args.top, args.seeds, args.epochs, parse_overrides(args.overrides), args.name, args.address,
                        **data_options(args))
    summary = summarise_rerun(rerun.path, sweep.spec.metric[0])
    print(f"  sweeps analyze {rerun.path}\n  sweeps report {sweep.path}")
    return 0 if summary["mean"].notna().all() else 1


def run_sample(args: argparse.Namespace) -> int:
    import numpy as np

    from sweeps.api import open as open_sweep

    out = Path(args.out if args.out.endswith(".npy") else f"{args.out}.npy").resolve()  # where np.save writes
    if out.is_dir() or not out.parent.is_dir():
        raise SweepError(f"--out {args.out}: give a .npy file in an existing folder (e.g. --out samples.npy)")
    trained, images = open_sweep(args.experiment).draw(args.n, args.trial, args.seed, data_dir=args.data_dir,
                                                       offline=args.offline)
    np.save(out, images)
    what = "samples" if trained.family.samples else "reconstructions of test digits"
    print(f"wrote {len(images)} {what} of trial {trained.trial_id} (epoch {trained.epoch}) to {out}: "
          f"float32 {images.shape} in [0, 1]")
    return 0


def run_report(args: argparse.Namespace) -> int:
    from analysis.report import write_report
    from experiments.experiment import open_experiment
    from sweeps.api import default_report_dir

    for path in args.experiments:  # missing data is fetched (or refused) before the first figure is drawn
        fetch_missing(open_experiment(path)[1].data.dataset, args.data_dir, args.offline)

    page = write_report(args.experiments, args.out or default_report_dir(args.experiments), args.data_dir,
                        args.cache_dir, args.seed)
    print(f"report: {page}")
    return 0


def run_demo(args: argparse.Namespace) -> int:
    from sweeps.demo import run_demo as demo

    page = demo(args.models, args.preset, args.storage, args.dataset, args.address, args.data_dir, args.cache_dir,
                args.offline, args.top)
    print(f"\nreport: {page}\n  open it in a browser: file://{page.resolve()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
