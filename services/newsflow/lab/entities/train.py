"""Train the fast spaCy NER model: `python -m newsflow.lab.entities.train` (`make ner-fast-model`).

Every step runs on one CPU thread with a fixed seed, and writes only to a cache outside the
repository (`~/.cache/newsflow/ner`) until the last one:

1. convert CoNLL-2003 train and dev (IOB1) into spaCy's format;
2. build the static vectors: Brown clusters of English words (`vectors.write_cluster_vectors`);
3. write the unlabelled text: CoNLL train's tokens and FNC-1's article bodies;
4. with `--pretrain`, pretrain the tok2vec layer on it (`spacy pretrain`, predicting
   words' characters);
5. train the pipeline of `ner.cfg` from there, keeping the best model on dev;
6. write it to `models/ner-fast` (MODEL_CARD.md is kept) and score it on dev.

Steps 2-4 are reused from the cache when their inputs and settings have not changed
(`--fresh` redoes them).
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from spacy.language import Language

logger = logging.getLogger("newsflow.lab.entities.train")  # also when run as __main__

PACKAGE_DIR = Path(__file__).resolve().parent
DEFAULT_CONFIG = PACKAGE_DIR / "ner.cfg"
MODEL_NAME = "newsflow_ner"
MODEL_VERSION = "1.0.0"
KEPT_FILES = ("MODEL_CARD.md",)  # hand-written files in the model folder survive retraining


def data_arguments(parser: argparse.ArgumentParser, unlabelled_help: str) -> None:
    """`--data` (CoNLL-2003) and `--unlabelled` (news text), as both trainers read them."""
    parser.add_argument(
        "--data",
        type=Path,
        default=Path("../shared/data/conll2003"),
        help="folder with CoNLL-2003 train.txt and dev.txt (default: %(default)s)",
    )
    parser.add_argument(
        "--unlabelled",
        type=Path,
        default=Path("../shared/data/fnc1/train_bodies.csv"),
        help=unlabelled_help,
    )


def arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m newsflow.lab.entities.train",
        description="Train the entity worker's spaCy NER model on CoNLL-2003 (CPU, one thread).",
    )
    data_arguments(
        parser,
        "FNC-1 article bodies, unlabelled news text for pretraining "
        "(default: %(default)s; without it only CoNLL train's tokens are used)",
    )
    parser.add_argument(
        "--config", type=Path, default=DEFAULT_CONFIG, help="spaCy config (default: ner.cfg)"
    )
    parser.add_argument(
        "--cache",
        type=Path,
        default=Path.home() / ".cache/newsflow/ner",
        help="corpora, vectors, pretraining and training runs, never committed "
        "(default: %(default)s)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=Path("models/ner-fast"),
        help="model folder (default: %(default)s)",
    )
    parser.add_argument("--seed", type=int, default=13, help="random seed (default: %(default)s)")
    parser.add_argument(
        "--max-steps", type=int, help="stop after this many updates (default: the config's)"
    )
    parser.add_argument(
        "--pretrain",
        action="store_true",
        help="pretrain the tok2vec layer on the unlabelled text first (about 30 minutes more)",
    )
    parser.add_argument("--fresh", action="store_true", help="redo the vectors and the pretraining")
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="SECTION.KEY=VALUE",
        help="override a config value, e.g. --set training.dropout=0.2 (repeatable)",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = arguments(argv)
    # spaCy logs through its own handler; ours goes to the package logger only, not the root.
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    package_logger = logging.getLogger("newsflow.entities")
    package_logger.addHandler(handler)
    package_logger.setLevel(logging.INFO)
    # One thread, so the figures hold for a one-core worker and training is reproducible.
    for variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[variable] = "1"
    for split in ("train", "dev"):
        if not (args.data / f"{split}.txt").is_file():
            logger.error(
                "no %s (pass --data, the folder with CoNLL-2003)", args.data / f"{split}.txt"
            )
            return 2
    model = train(args)
    publish(model, args.out, args.data)
    from .evaluation import evaluate, format_report

    report = evaluate(args.data / "dev.txt", args.out)
    print(f"model in {args.out}; on {args.data / 'dev.txt'}:\n{format_report(report)}")
    return 0


def fingerprint(*parts: object) -> str:
    """A short hash of files (their bytes) and settings, naming a cached step's output."""
    digest = hashlib.sha256()
    for part in parts:
        if isinstance(part, Path) and part.is_file():
            digest.update(part.read_bytes())
        else:
            digest.update(repr(part).encode())
    return digest.hexdigest()[:12]


def train(args: argparse.Namespace) -> Path:
    """Steps 1-5; returns the folder of the best model on dev."""
    from spacy.cli.train import train as spacy_train
    from spacy.util import load_config

    from . import vectors as static_vectors
    from .corpus import convert
    from .vectors import write_jsonl, write_unlabelled_text

    corpus = args.cache / "corpus"
    for split in ("train", "dev"):
        entities = convert(args.data / f"{split}.txt", corpus / f"{split}.spacy")
        logger.info("converted %s: %d entities", args.data / f"{split}.txt", entities)

    vectors_key = fingerprint(
        args.seed,
        static_vectors.CLUSTER_PREFIXES,
        static_vectors.LOG_PROBABILITY_BUCKETS,
        static_vectors.CLUSTER_CODE_DIM,
    )
    vectors = args.cache / f"vectors-{vectors_key}"
    if args.fresh or not (vectors / "meta.json").is_file():
        static_vectors.write_cluster_vectors(vectors, seed=args.seed)

    unlabelled = args.unlabelled if args.unlabelled.is_file() else None
    if unlabelled is None:
        logger.warning("no %s: pretraining sees CoNLL train only", args.unlabelled)
    text_dir = args.cache / f"unlabelled-{fingerprint(args.data / 'train.txt', unlabelled)}"
    jsonl_file = text_dir / "text.jsonl"
    if args.fresh or not jsonl_file.is_file():
        tokens = write_unlabelled_text(args.data / "train.txt", unlabelled, text_dir / "text.txt")
        write_jsonl(text_dir / "text.txt", jsonl_file)
        logger.info("unlabelled text: %d tokens", tokens)
    overrides: dict[str, object] = {
        "paths.train": str(corpus / "train.spacy"),
        "paths.dev": str(corpus / "dev.spacy"),
        "paths.vectors": str(vectors),
        "paths.raw_text": str(jsonl_file),
        "system.seed": args.seed,
    }
    for override in args.overrides:
        key, _, value = override.partition("=")
        overrides[key] = _config_value(value)

    if args.pretrain:
        overrides["paths.init_tok2vec"] = str(pretrain(args, overrides, text_dir))
    if args.max_steps is not None:
        overrides["training.max_steps"] = args.max_steps
    load_config(args.config, overrides=overrides)  # fail early on a bad override
    output = args.cache / "training"
    spacy_train(args.config, output, use_gpu=-1, overrides=overrides)
    return output / "model-best"


def pretrain(args: argparse.Namespace, overrides: dict[str, object], text_dir: Path) -> Path:
    """Pretrain the tok2vec layer of `ner.cfg` on the unlabelled text; the weights file."""
    from spacy.training.pretrain import pretrain as spacy_pretrain
    from spacy.util import load_config

    config = load_config(args.config, overrides=overrides, interpolate=False)
    settings = config.interpolate()
    sections = {key: settings[key] for key in ("pretraining", "components", "system")}
    output = text_dir / f"pretrain-{fingerprint(sections)}"
    weights = output / f"model{settings['pretraining']['max_epochs'] - 1}.bin"
    if weights.is_file() and not args.fresh:
        logger.info("reusing pretrained tok2vec weights %s", weights)
        return weights
    if output.exists():
        shutil.rmtree(output)
    output.mkdir(parents=True)
    config.to_disk(output / "config.cfg")
    logger.info("pretraining the tok2vec layer into %s", output)
    spacy_pretrain(settings, output, use_gpu=-1, silent=False)
    return weights


def _config_value(text: str) -> object:
    import json

    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def publish(trained: Path, out: Path, data: Path) -> None:
    """Write the trained pipeline to `out` with CoNLL-style tokenisation and a clear meta."""
    import spacy

    nlp = spacy.load(trained)
    conll_tokenisation(nlp)
    nlp.meta.update(
        {
            "name": MODEL_NAME,
            "version": MODEL_VERSION,
            "description": "newsflow's English NER (PER, ORG, LOC, MISC): a CNN tok2vec and a "
            "transition-based NER trained on CoNLL-2003 train, selected on dev.",
            "author": "newsflow",
            "license": "see MODEL_CARD.md (training data: Reuters RCV1 text, research use)",
            "sources": [
                {
                    "name": "CoNLL-2003 English NER, train and dev (eng.train, eng.testa)",
                    "license": "Reuters Corpus (RCV1) text: research agreement; see MODEL_CARD",
                }
            ],
        }
    )
    nlp.meta.pop("performance", None)
    # The string store holds every word seen in training and on dev; the model hashes words
    # and needs none of them, and the corpus stays out of the repository, so keep only the
    # language's own strings and the labels.
    labels = set(nlp.get_pipe("ner").labels)
    kept = set(spacy.blank(nlp.lang).vocab.strings) | labels | {"O", "-"}
    kept |= {f"{move}-{label}" for move in "BILU" for label in labels}
    nlp.vocab.strings._reset_and_load(sorted(kept))
    with tempfile.TemporaryDirectory(dir=out.parent if out.parent.exists() else None) as staging:
        staged = Path(staging) / "model"
        nlp.to_disk(staged)
        forget_training_paths(staged / "config.cfg")
        out.mkdir(parents=True, exist_ok=True)
        for path in out.iterdir():
            if path.name in KEPT_FILES:
                continue
            shutil.rmtree(path) if path.is_dir() else path.unlink()
        for path in staged.iterdir():
            shutil.move(str(path), out / path.name)
    logger.info("wrote %s (trained from %s, data %s)", out, trained, data)


def forget_training_paths(config_file: Path) -> None:
    """Null the `[paths]` of a saved config: they name this machine's training cache."""
    from spacy.util import load_config

    config = load_config(config_file, interpolate=False)
    for key in config["paths"]:
        config["paths"][key] = None
    config.to_disk(config_file)


def conll_tokenisation(nlp: Language) -> None:
    """Keep names with hyphens whole ("Jean-Bertrand", "Tu-160"), as CoNLL-2003 does.

    The model learnt from CoNLL's tokens, where a hyphenated word is one token; spaCy's
    English rules split every hyphen between letters, which would show the model token
    sequences it never saw. Two exceptions keep spaCy's split: dashes other than "-", and a
    hyphen before a lower-case ending ("US-funded", "Caracas-based"), so that the name in
    such a word can be found on its own. The rules live in the saved tokenizer, so
    `spacy.load` keeps them.
    """
    from spacy.lang.char_classes import ALPHA, HYPHENS
    from spacy.util import compile_infix_regex

    letter_hyphen_letter = rf"(?<=[{ALPHA}0-9])(?:{HYPHENS})(?=[{ALPHA}])"
    dashes = "|".join(dash for dash in HYPHENS.split("|") if dash != "-")
    infixes = [pattern for pattern in nlp.Defaults.infixes if pattern != letter_hyphen_letter]
    if len(infixes) != len(nlp.Defaults.infixes) - 1:
        raise RuntimeError("spaCy's infix rules changed: review conll_tokenisation")
    infixes += [
        rf"(?<=[{ALPHA}0-9])(?:{dashes})(?=[{ALPHA}])",
        rf"(?<=[{ALPHA}0-9.])-(?=[a-z]+$)",
    ]
    nlp.tokenizer.infix_finditer = compile_infix_regex(infixes).finditer


if __name__ == "__main__":
    sys.exit(main())
