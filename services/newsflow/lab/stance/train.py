"""`python -m newsflow.lab.stance.train`: trains the stance model on FNC-1's training files and
measures the recipe where production meets it, on claims it has never seen.

Each run trains on one side of a split and is scored on the other:

- `story-N` (N = each seed): whole stories held out (`fnc.story_split` with seed N): no
  held-out claim, nor another phrasing of it, nor any of its bodies is seen in training.
  This is the figure to optimise; the mean and spread over the seeds are reported.
- `official`: FNC-1's official development split (by body), for reference: its held-out
  claims all occur in training, so it rewards memorising claims.

Within a run, 15 % of the training side's stories are held back again to fit the
probabilities' calibration and the operating point, so neither is fitted on what the
model learnt from. The first story run's model is saved to `--out`; every run's figures go
to its `training-report.json`. Needs PyTorch (the `train` extra: `make train-venv`).
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
import statistics
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

from newsflow.core.sentences import SentenceEncoder
from newsflow.stance import evidence
from newsflow.stance.calibration import Calibration
from newsflow.stance.crossencoder import CrossEncoder
from newsflow.stance.features import Features, TextVectors
from newsflow.stance.model import (
    MODEL_FILE,
    RELATED_LABELS,
    STANCE_CUES,
    StanceModel,
    booster,
    load_model,
    related_inputs,
    related_scores,
    stance_scores,
)

from . import fnc
from .baseline import BaselineModel
from .evaluation import evaluate, format_report
from .finetune import Example, Recipe, export, fit

REPORT_FILE = "training-report.json"
CALIBRATION_SHARE = 0.15
logger = logging.getLogger("newsflow.lab.stance.train")


class Evidence:
    """Every body's sentence vectors and every claim's vector, computed once per process."""

    def __init__(self, encoder: SentenceEncoder) -> None:
        self.encoder = encoder
        self.bodies: dict[str, evidence.BodyEvidence] = {}
        self.claims: dict[str, np.ndarray] = {}

    def of(self, data: fnc.Dataset) -> Prepared:
        claims, texts, pairs = fnc.index_pairs(data)
        for text in texts:
            if text not in self.bodies:
                self.bodies[text] = evidence.body_evidence(self.encoder, text)
        missing = [c for c in claims if c not in self.claims]
        self.claims.update(zip(missing, self.encoder.embed(missing), strict=True))
        return Prepared(
            claims,
            texts,
            pairs,
            [self.bodies[text] for text in texts],
            np.array([self.claims[c] for c in claims]),
            np.array([pair.stance for pair in data.pairs]),
        )


@dataclass
class Prepared:
    claims: list[str]
    texts: list[str]
    pairs: list[tuple[int, int]]
    bodies: list[evidence.BodyEvidence]
    claim_vectors: np.ndarray
    labels: np.ndarray

    @property
    def related(self) -> np.ndarray:
        return self.labels != "unrelated"

    def inputs(self, features: Features) -> np.ndarray:
        return related_inputs(
            features, self.claims, self.texts, self.bodies, self.claim_vectors, self.pairs
        )


def train_model(
    data: fnc.Dataset, seed: int, found: Evidence, recipe: Recipe, folder: Path, reuse: bool
) -> StanceModel:
    fit_side, held_back = fnc.story_split(data, share=CALIBRATION_SHARE, seed=seed + 1000)
    train, calibrate = found.of(fit_side), found.of(held_back)
    logger.info(
        "seed %d: %d pairs to train, %d held back for calibration",
        seed, len(train.pairs), len(calibrate.pairs),
    )  # fmt: skip
    if reuse and (folder / MODEL_FILE).is_file():
        earlier = load_model(folder / MODEL_FILE, StanceModel, "a stance model")
        features, related = earlier.features, earlier.related
        logger.info("seed %d: the stages trained before in %s, calibrated again", seed, folder)
    else:
        features = Features(TextVectors.fit(train.claims, train.texts, seed, 48))
        related = booster(seed).fit(train.inputs(features), train.related.astype(int))
        examples = []
        for index in np.flatnonzero(train.related):
            c, b = train.pairs[index]
            passage = evidence.passage(train.claim_vectors[c], train.bodies[b])
            examples.append(Example(train.claims[c], passage, str(train.labels[index])))
        export(fit(examples, recipe, seed, name=f"cross-encoder seed {seed}"), folder)
    cross_encoder = CrossEncoder(folder)

    inputs = calibrate.inputs(features)
    which = np.flatnonzero(calibrate.related).tolist()
    logits = stance_scores(
        cross_encoder,
        calibrate.claims,
        calibrate.bodies,
        calibrate.claim_vectors,
        calibrate.pairs,
        which,
    )
    gold = np.array([RELATED_LABELS.index(label) for label in calibrate.labels[which]])
    trained_labels = [str(label) for label in train.labels[train.related]]
    prior = [trained_labels.count(label) / len(trained_labels) for label in RELATED_LABELS]
    calibration = Calibration.fit(
        related_scores(related, inputs),
        calibrate.related,
        logits,
        inputs[which][:, STANCE_CUES],
        gold,
        prior,
        float(np.mean(train.related)),
        seed,
    )
    logger.info(
        "seed %d: P(related) slope %.3f, intercept %.3f; stance regularisation C %.2f; "
        "decision weights %s",
        seed,
        calibration.related_slope,
        calibration.related_intercept,
        calibration.stance_model[-1].C,
        calibration.decision_weights,
    )
    model = StanceModel(features, related, calibration, cross_encoder.sha256, seed)
    model.attach(cross_encoder, found.encoder)
    model.version = model.fingerprint()
    model.info = {
        "seed": seed,
        "training_pairs": len(train.pairs),
        "calibration_pairs": len(calibrate.pairs),
        "recipe": asdict(recipe),
    }
    model.save(folder)
    return model


def score(model: StanceModel, name: str, held: fnc.Dataset) -> dict:
    report = evaluate(model, name, held)
    print(format_report(report), flush=True)
    return {"pairs": report.pairs, **report.figures()}


def summary(runs: list[dict]) -> dict:
    def spread(values: list[float]) -> dict:
        sd = statistics.stdev(values) if len(values) > 1 else 0.0
        return {"mean": round(statistics.mean(values), 4), "sd": round(sd, 4)}

    result = {
        "fnc_score": spread([r["fnc_score"] for r in runs]),
        "macro_f1": spread([r["macro_f1"] for r in runs]),
        "calibration_error": spread([r["calibration_error"] for r in runs]),
    }
    result["per_class_f1"] = {
        label: spread([r["per_class_f1"][label] for r in runs]) for label in fnc.LABELS
    }
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m newsflow.lab.stance.train", description=__doc__
    )
    parser.add_argument("--data", type=Path, default=Path("../shared/data/fnc1"))
    parser.add_argument("--out", type=Path, default=Path("models/stance"))
    parser.add_argument("--work", type=Path, default=Path("data/dev/stance-runs"))
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument(
        "--official", action=argparse.BooleanOptionalAction, default=True,
        help="also train and score on FNC-1's official split (for reference)",
    )  # fmt: skip
    parser.add_argument(
        "--baseline", action="store_true",
        help="also train FNC-1's baseline (the reference of `newsflow eval stance --model "
        "both`) on the official split's training side into --out",
    )  # fmt: skip
    parser.add_argument(
        "--reuse", action="store_true",
        help="keep the stages already trained in --work's run folders and only calibrate "
        "and score again (to change the calibration without hours of training)",
    )  # fmt: skip
    parser.add_argument("--epochs", type=int, default=Recipe.epochs)
    parser.add_argument(
        "--frozen-layers", type=int, default=Recipe.frozen_layers,
        help="lower encoder layers kept at their pretrained weights (0: all six trained)",
    )  # fmt: skip
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    # The quantiser logs every tensor on the root logger: only newsflow's messages are shown.
    logging.basicConfig(level=logging.WARNING, format="[stance train] %(message)s")
    logging.getLogger("newsflow").setLevel(logging.INFO)
    if not (args.data / "train_stances.csv").is_file():
        logger.error("no FNC-1 training files in %s", args.data)
        return 2
    import torch

    torch.set_num_threads(args.threads)
    started = time.perf_counter()
    data = fnc.read_training_data(args.data)
    found = Evidence(SentenceEncoder())
    recipe = Recipe(epochs=args.epochs, frozen_layers=args.frozen_layers)
    splits = [(f"story-{seed}", seed, *fnc.story_split(data, seed=seed)) for seed in args.seeds]
    if args.official:
        splits.append(("official", args.seeds[0], *fnc.official_split(data)))
    report: dict = {"recipe": asdict(recipe), "runs": {}}
    for name, seed, training, held in splits:
        run_started = time.perf_counter()
        folder = args.work / name
        model = train_model(training, seed, found, recipe, folder, args.reuse)
        with threadpool_limits(1):
            figures = score(model, name, held)
        figures["minutes"] = round((time.perf_counter() - run_started) / 60, 1)
        figures["stages_trained_before"] = args.reuse
        figures["version"] = model.version
        report["runs"][name] = figures
        logger.info("%s: %s", name, json.dumps(figures))
    stories = [report["runs"][f"story-{seed}"] for seed in args.seeds]
    report["story_split"] = summary(stories)
    logger.info("story split, %d seeds: %s", len(stories), json.dumps(report["story_split"]))

    shipped = args.work / f"story-{args.seeds[0]}"
    args.out.mkdir(parents=True, exist_ok=True)
    for name in ("stance-model.joblib", "cross-encoder.onnx", "tokenizer.json"):
        shutil.copyfile(shipped / name, args.out / name)
    report["shipped"] = f"story-{args.seeds[0]}"
    if args.baseline:
        baseline = BaselineModel.train(fnc.official_split(data)[0])
        logger.info("saved %s", baseline.save(args.out))
    report["minutes"] = round((time.perf_counter() - started) / 60, 1)
    (args.out / REPORT_FILE).write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    logger.info("saved %s to %s in %.0f min", shipped, args.out, report["minutes"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
