"""The `sweeps` command line."""

from __future__ import annotations

import argparse
import logging
import sys
import time

from trainables.config import ConfigError, describe_fields, parse_config
from trainables.data import DATASETS, DataError, load_data
from trainables.registry import MODELS, fit_model, pick_device

log = logging.getLogger("sweeps")


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        return args.command(args)
    except (ConfigError, DataError) as error:
        kind = "config" if isinstance(error, ConfigError) else "data"
        print(f"sweeps {args.verb}: {kind} error:\n{error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sweeps", description="Hyperparameter sweeps of AE, DAE, GAN and GLO on handwritten digits."
    )
    verbs = parser.add_subparsers(dest="verb", required=True, metavar="VERB")
    train = verbs.add_parser(
        "train",
        help="train one configuration, without a sweep, printing metrics per epoch",
        description="Train one configuration of a model without Ray and print its metrics after each epoch.",
        epilog=fields_help(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    train.add_argument("model", choices=list(MODELS))
    train.add_argument(
        "--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
        help="a config field of the model (repeatable), e.g. --set epochs=1 --set latent_dim=16",
    )
    add_data_arguments(train)
    train.set_defaults(command=run_train)
    return parser


def add_data_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dataset", default="mnist", choices=list(DATASETS), help="default: mnist")
    parser.add_argument(
        "--data-dir", help="folder holding MNIST/raw/ or FashionMNIST/raw/ (default: $SWEEPS_DATA_DIR, else ./data)"
    )
    parser.add_argument("--limit", type=int, help="use only the first N images of each partition")
    parser.add_argument("--download", action="store_true", help="download the dataset with torchvision if missing")
    parser.add_argument("--cache-dir", help="where the judge classifier is cached (default: $SWEEPS_CACHE_DIR)")


def fields_help() -> str:
    lines = ["config fields (--set KEY=VALUE):"]
    for name, spec in MODELS.items():
        lines.append(f"  {name}:")
        lines += [f"    {field:<16}{default!s:<18}{text}" for field, default, text in describe_fields(spec.config)]
    return "\n".join(lines)


def parse_overrides(pairs: list[str]) -> dict[str, str]:
    problems = [f"`{pair}`: expected KEY=VALUE, e.g. epochs=1" for pair in pairs if "=" not in pair]
    if problems:
        raise ConfigError(problems)
    return dict(pair.split("=", 1) for pair in pairs)


def run_train(args: argparse.Namespace) -> int:
    import torch

    from trainables.judge import load_judge

    spec = MODELS[args.model]
    cfg = parse_config(spec.config, parse_overrides(args.overrides))
    full = load_data(args.dataset, args.data_dir, download=args.download)
    data = full.limit(args.limit)
    device = pick_device()
    log.info("%s on %s: %d train / %d validation / %d test images, %s, %d threads",
             args.model, data.name, len(data.train), len(data.val), len(data.test), device, torch.get_num_threads())
    judge = None
    if spec.needs_judge:
        trained = load_judge(full, args.cache_dir, device=str(device))
        log.info("judge: test accuracy %.2f%% (%s)", 100 * trained.accuracy, trained.fingerprint)
        judge = trained.build(device)
    start = time.perf_counter()
    for metrics, _ in fit_model(args.model, cfg, data, judge, device):
        elapsed, start = time.perf_counter() - start, time.perf_counter()
        shown = "  ".join(f"{k} {format_value(v)}" for k, v in metrics.items() if k != "epoch")
        print(f"epoch {metrics['epoch']}/{cfg.epochs}  {shown}  ({elapsed:.1f} s)", flush=True)
    return 0


def format_value(value: object) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


if __name__ == "__main__":
    sys.exit(main())
