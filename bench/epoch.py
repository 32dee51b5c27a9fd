"""Where one epoch's time goes, per model at the report's settings: training steps, the per-epoch
evaluation, and the checkpoint each epoch writes.

    python -m bench.epoch [--models ae dae gan glo] [--dataset mnist] [--limit N] [--repeats 3]

Each repeat runs one epoch of the model's training loop (the family's `fit`, what a trial runs) and times it,
then times the evaluation alone (the same function the loop calls, on the trained model) and, in turns,
the one it replaced (AE and DAE: the k-NN fitted on every training code rather than `knn_size`), and
saving the epoch's resumable state with `torch.save` (its size too). Training = epoch - evaluation.
GAN and GLO score samples through the judge, whose statistics of the real images are computed once per
trial ("trial set-up", not per epoch). GLO encodes held-out images every `encode_every` epochs (and
after the last): its evaluation is timed with and without that, and averaged over such a cycle. One
CPU thread, in every thread pool: what a 1-CPU trial gets.
"""

from __future__ import annotations

import dataclasses
import io
import time
from statistics import median

import torch

from bench.common import build_parser, emit, limit_threads, run
from trainables.autoencoder import evaluate_autoencoder
from trainables.config import parse_config
from trainables.data import DATASETS, load_data
from trainables.gan import fixed_noise, generate
from trainables.glo import evaluate_glo
from trainables.judge import load_judge
from trainables.metrics import SampleScorer
from trainables.registry import FAMILIES


def autoencoder_evaluations(cfg, data, net, noise_stds: tuple[float, ...] = ()) -> dict:
    every_code = dataclasses.replace(cfg, knn_size=len(data.train))
    return {"shipped": lambda: evaluate_autoencoder(net, data, cfg, noise_stds),
            "knn_on_every_training_code": lambda: evaluate_autoencoder(net, data, every_code, noise_stds)}


def gan_evaluations(cfg, data, net, scorer) -> dict:
    noise = fixed_noise(net, cfg.eval_size)
    return {"shipped": lambda: scorer.score(generate(net, noise))}


def glo_evaluations(cfg, data, net, scorer) -> dict:
    return {"shipped": lambda: evaluate_glo(net, data, scorer, cfg, held_out=True),
            "without_held_out": lambda: evaluate_glo(net, data, scorer, cfg, held_out=False)}


# The per-epoch evaluation of the families this bench splits out of an epoch, and the alternatives it replaced.
# Another family's epoch is timed whole.
EVALUATIONS = {
    "ae": lambda cfg, data, net, scorer: autoencoder_evaluations(cfg, data, net),
    "dae": lambda cfg, data, net, scorer: autoencoder_evaluations(cfg, data, net, cfg.eval_noise_stds),
    "gan": gan_evaluations, "glo": glo_evaluations,
}


def evaluations(model: str, cfg, data, state: dict, judge) -> tuple[dict, float]:
    """Functions running `model`'s per-epoch evaluation on the network in `state`, by name: as the loop runs
    it ("shipped"), and the alternatives it replaced; and the time the scorer's set-up took."""
    family = FAMILIES[model]
    if model not in EVALUATIONS:
        return {}, 0.0
    net = family.build(cfg, state)
    if not family.needs_judge:
        return EVALUATIONS[model](cfg, data, net, None), 0.0
    start = time.perf_counter()
    scorer = SampleScorer(judge, data.val.images[: cfg.eval_size])
    return EVALUATIONS[model](cfg, data, net, scorer), time.perf_counter() - start


def main() -> None:
    parser = build_parser(__doc__)
    parser.add_argument("--models", nargs="+", default=list(FAMILIES), choices=list(FAMILIES))
    parser.add_argument("--dataset", default="mnist", choices=list(DATASETS))
    parser.add_argument("--limit", type=int, help="images per partition (default: all)")
    args = parser.parse_args()
    limit_threads(1)
    full = load_data(args.dataset, args.data_dir)
    data = full.limit(args.limit)
    results = {"dataset": args.dataset, "train_images": len(data.train), "repeats": args.repeats}
    summary = [f"one epoch on {len(data.train)} {args.dataset} images, 1 thread (median of {args.repeats}):"]
    for model in args.models:
        judge = load_judge(full).build() if FAMILIES[model].needs_judge else None
        cfg = parse_config(FAMILIES[model].config, {"epochs": 1})
        epoch, save_s, setup_s, evaluate_s = [], [], [], {}
        for _ in range(args.repeats):
            start = time.perf_counter()
            [(_, state)] = FAMILIES[model].fit(cfg, data, judge, "cpu", None)
            epoch.append(time.perf_counter() - start)
            variants, setup = evaluations(model, cfg, data, state, judge)
            setup_s.append(setup)
            for name, evaluate in variants.items():  # in turns
                start = time.perf_counter()
                evaluate()
                evaluate_s.setdefault(name, []).append(time.perf_counter() - start)
            buffer, start = io.BytesIO(), time.perf_counter()
            torch.save(state, buffer)
            save_s.append(time.perf_counter() - start)
        evaluate_s = {name: median(s) for name, s in evaluate_s.items()}
        evaluation_s = evaluate_s.get("shipped", 0.0)  # 0: not split out of the epoch
        training_s = median(epoch) - evaluation_s  # a one-epoch run: its evaluation is the shipped one
        if "without_held_out" in evaluate_s:  # the mean over encode_every epochs, one of which encodes held-out images
            evaluation_s = (evaluation_s + (cfg.encode_every - 1) * evaluate_s["without_held_out"]) / cfg.encode_every
        r = {
            "epoch_s": training_s + evaluation_s, "training_s": training_s, "evaluation_s": evaluation_s,
            **{f"evaluation_{name}_s": s for name, s in evaluate_s.items()},
            "checkpoint_mb": len(buffer.getvalue()) / 1e6, "checkpoint_save_s": median(save_s),
            "trial_setup_s": median(setup_s),
        }
        r = {k: round(v, 4) for k, v in r.items()}
        r["evaluation_share"] = round(r["evaluation_s"] / r["epoch_s"], 3)
        results[model] = r
        summary.append(f"  {model:>3}: {r['epoch_s']:6.2f} s = training {r['training_s']:6.2f} s + evaluation "
                       f"{r['evaluation_s']:5.2f} s ({r['evaluation_share']:.0%}); "
                       f"checkpoint {r['checkpoint_mb']:.1f} MB")
        summary += [f"       evaluation {name.replace('_', ' ')}: {seconds:.2f} s"
                    for name, seconds in evaluate_s.items() if name != "shipped"]
    emit(results, summary)


if __name__ == "__main__":
    run(main)
