"""`python -m newsflow_stance.train`: trains the stance model (and the FNC-1 baseline beside
it) on the training side of FNC-1's official split and scores both on the hold-out.

Only FNC-1's training files are read. The split is the official one (by body id), so the
hold-out shares no body with training; it does share claims (headlines), as in FNC-1.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from threadpoolctl import threadpool_limits
from tqdm import tqdm

from . import fnc
from .baseline import BaselineModel
from .evaluation import evaluate, format_report
from .model import StanceModel, TrainingOptions

REPORT_FILE = "training-report.json"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m newsflow_stance.train", description=__doc__)
    parser.add_argument("--data", type=Path, default=Path("../shared/data/fnc1"))
    parser.add_argument("--out", type=Path, default=Path("models/stance"))
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--baseline", action=argparse.BooleanOptionalAction, default=True,
        help="also train the FNC-1 baseline (reference) into the same folder",
    )  # fmt: skip
    parser.add_argument(
        "--write-split", type=Path, metavar="DIR",
        help="also write the split as FNC-format files into DIR (keep it out of the repository)",
    )  # fmt: skip
    parser.add_argument(
        "--new-claims-check", action="store_true",
        help="also train and score ours and the baseline on a split that holds out whole "
        "stories (claims never seen in training); nothing of it is saved but the figures",
    )  # fmt: skip
    parser.add_argument("--threads", type=int, default=1, help="threads for training")
    args = parser.parse_args(argv)
    with threadpool_limits(args.threads):
        return train(args)


def train(args: argparse.Namespace) -> int:

    def say(message: str) -> None:
        tqdm.write(f"[stance train] {message}", file=sys.stderr)

    if not (args.data / "train_stances.csv").is_file():
        say(f"no FNC-1 training files in {args.data}")
        return 2
    started = time.perf_counter()
    data = fnc.read_training_data(args.data)
    training, holdout = fnc.official_split(data)
    say(
        f"official split: {len(training.bodies)} bodies / {len(training.pairs)} pairs to train, "
        f"{len(holdout.bodies)} bodies / {len(holdout.pairs)} pairs held out"
    )
    if args.write_split:
        for name, part in (("train", training), ("holdout", holdout)):
            fnc.write_bodies(part.bodies, args.write_split / f"{name}_bodies.csv")
            fnc.write_stances(
                part.pairs, [p.stance for p in part.pairs], args.write_split / f"{name}_stances.csv"
            )
        say(f"wrote the split to {args.write_split}/{{train,holdout}}_{{bodies,stances}}.csv")

    options = TrainingOptions(seed=args.seed)
    model = StanceModel.train(training, options, progress=tqdm, report=say)
    report = evaluate(model, "ours", holdout)
    model.info = {
        "seed": args.seed,
        "trained_on": "FNC-1 train_bodies.csv + train_stances.csv, official split, training side",
        "training_pairs": len(training.pairs),
        "holdout": report.figures(),
    }
    path = model.save(args.out)
    say(f"saved {path} ({path.stat().st_size / 1e6:.2f} MB), version {model.version}")
    tqdm.write(format_report(report))
    summary = {"ours": {"version": model.version, **report.figures()}}

    if args.baseline:
        say("training the FNC-1 baseline (its features, 200 boosted trees)")
        baseline = BaselineModel.train(training, progress=tqdm)
        baseline_report = evaluate(baseline, "baseline", holdout)
        baseline_path = baseline.save(args.out)
        say(f"saved {baseline_path} ({baseline_path.stat().st_size / 1e6:.2f} MB)")
        tqdm.write(format_report(baseline_report))
        summary["baseline"] = {"version": baseline.version, **baseline_report.figures()}

    if args.new_claims_check:
        summary["new_claims_check"] = new_claims_check(data, options, say)

    summary["seed"] = args.seed
    (args.out / REPORT_FILE).write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    say(f"done in {time.perf_counter() - started:.0f} s")
    return 0


def new_claims_check(data: fnc.Dataset, options: TrainingOptions, say) -> dict:
    """Ours and the baseline on whole held-out stories: how they do on claims never seen."""
    training, held_out = fnc.story_split(data)
    say(
        f"new-claims check: {len(training.pairs)} pairs to train, {len(held_out.pairs)} pairs "
        f"of {len({p.headline for p in held_out.pairs})} unseen claims held out"
    )
    figures = {"training_pairs": len(training.pairs), "held_out_pairs": len(held_out.pairs)}
    model = StanceModel.train(training, options, progress=tqdm, report=say)
    report = evaluate(model, "ours (new claims)", held_out)
    tqdm.write(format_report(report))
    figures["ours"] = report.figures()
    baseline = BaselineModel.train(training, progress=tqdm)
    report = evaluate(baseline, "baseline (new claims)", held_out)
    tqdm.write(format_report(report))
    figures["baseline"] = report.figures()
    return figures


if __name__ == "__main__":
    sys.exit(main())
