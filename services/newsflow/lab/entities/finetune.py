"""Train the entity worker's transformer NER: `python -m newsflow.lab.entities.finetune`.

`make ner-model` runs it. Training only (PyTorch and transformers, the `train` extra); the
worker runs the exported ONNX graph with ONNX Runtime. Steps, each cached in `--work` and
reused when its inputs and settings are unchanged:

1. **teacher**: Google's BERT-Base cased (pinned, checked) fine-tuned on CoNLL-2003 train,
   the epoch chosen on dev. Too slow to serve, strong enough to teach.
2. **labels**: the teacher's label probabilities for every word of CoNLL train and of
   unlabelled news (FNC-1's article bodies: 2014-2016 news, names the 1996 Reuters text
   never saw).
3. **student**: all-MiniLM-L6-v2 (pinned, checked) with casing classes, fine-tuned on CoNLL
   train (gold labels mixed with the teacher's) and the news (the teacher's), the epoch
   chosen on dev.
4. **export**: the student's weights written back into the encoder's own ONNX graph with
   the classification head, quantised to int8, scored on dev with ONNX Runtime, and
   published as a spaCy pipeline folder (`models/ner`; MODEL_CARD.md is kept).

Documents are cut into windows exactly as the worker cuts them (`transformer.windows`).
Dev chooses epochs and nothing else reads it; the CoNLL test split is never read.
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
import os
import random
import shutil
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

logger = logging.getLogger("newsflow.lab.entities.finetune")

MODEL_VERSION = "2.0.0"
# Context around a window when served. Training keeps `transformer.CONTEXT_PIECES` (32); on
# dev, serving windows without it scored as well (94.59 against 94.44) and ran 14 % faster.
SERVED_CONTEXT_PIECES = 0


@dataclass(frozen=True)
class Document:
    """Words to learn from, with a target distribution over `LABELS` per word (zeros: none)."""

    words: list[str]
    sentence_starts: list[bool]
    targets: np.ndarray  # (words, labels) float32


@dataclass(frozen=True)
class Recipe:
    """How one model is fine-tuned."""

    epochs: int
    batch: int  # windows per update
    learning_rate: float
    warmup: float  # share of the updates
    weight_decay: float = 0.01
    dropout: float = 0.1


TEACHER = Recipe(epochs=3, batch=8, learning_rate=5e-5, warmup=0.1)
STUDENT = Recipe(epochs=4, batch=8, learning_rate=1e-4, warmup=0.06)


# --- data ---------------------------------------------------------------------------------------


def conll_documents(path: Path) -> list[tuple[list[str], list[bool], list[str]]]:
    """A CoNLL file's documents: words, sentence starts, IOB2 tags (conlleval's chunks)."""
    from newsflow.entities import conll

    documents = []
    for document in conll.read(path):
        words: list[str] = []
        starts: list[bool] = []
        tags: list[str] = []
        for sentence in document.sentences:
            words += sentence.words
            starts += [True] + [False] * (len(sentence.rows) - 1)
            tags += conll.iob2(conll.chunks(sentence.tags), len(sentence.rows))
        documents.append((words, starts, tags))
    return documents


def one_hot(tags: Sequence[str]) -> np.ndarray:
    from newsflow.entities.transformer import LABEL_IDS, LABELS

    targets = np.zeros((len(tags), len(LABELS)), dtype=np.float32)
    targets[np.arange(len(tags)), [LABEL_IDS[tag] for tag in tags]] = 1.0
    return targets


def news_documents(bodies: Path) -> list[tuple[list[str], list[bool]]]:
    """FNC-1's article bodies as the worker would read them: words and sentence starts."""
    import spacy

    from newsflow.entities.onnx_ner import sentence_starts

    from .train import conll_tokenisation

    nlp = spacy.blank("en")
    conll_tokenisation(nlp)
    csv.field_size_limit(1 << 30)
    documents = []
    seen: set[str] = set()
    with bodies.open(encoding="utf-8", newline="") as rows:
        for row in csv.DictReader(rows):
            text = row["articleBody"].strip()
            if not text or text in seen:
                continue
            seen.add(text)
            doc = nlp.make_doc(text)
            documents.append(([token.text for token in doc], sentence_starts(doc)))
    return documents


# --- the model ----------------------------------------------------------------------------------


class Model:
    """An encoder with a linear head over every piece."""

    def __init__(self, backbone, dropout: float, seed: int) -> None:
        import torch

        from newsflow.entities import transformer

        torch.manual_seed(seed)
        self.backbone = backbone
        self.encoder = backbone.model(dropout)
        self.dropout = torch.nn.Dropout(dropout)
        hidden = self.encoder.config.hidden_size
        self.head = torch.nn.Linear(hidden, len(transformer.LABELS))

    def named_parameters(self):
        yield from self.encoder.named_parameters()
        yield from (("head." + name, value) for name, value in self.head.named_parameters())

    def logits(self, batch):
        import torch

        hidden = self.encoder(
            input_ids=torch.from_numpy(batch.input_ids),
            attention_mask=torch.from_numpy(batch.attention_mask),
            token_type_ids=torch.from_numpy(batch.token_type_ids),
        ).last_hidden_state
        return self.head(self.dropout(hidden))

    def predict(self, batch) -> np.ndarray:
        import torch

        with torch.no_grad():
            return self.logits(batch).numpy()

    def train(self, on: bool) -> None:
        self.encoder.train(on)
        self.dropout.train(on)

    def word_tagger(self):
        from newsflow.entities.transformer import WordTagger

        return WordTagger(
            self.backbone.tokenizer, self.predict, casing_classes=self.backbone.casing
        )

    def state(self) -> dict[str, np.ndarray]:
        return {name: value.detach().numpy().copy() for name, value in self.named_parameters()}

    def load(self, state: dict[str, np.ndarray]) -> None:
        import torch

        own = dict(self.named_parameters())
        with torch.no_grad():
            for name, value in state.items():
                own[name].copy_(torch.from_numpy(value))


def score_dev(model: Model, dev) -> dict:
    """Overall and per-type figures on dev, decoded as the worker decodes."""
    from .evaluation import score

    model.train(False)
    predicted = model.word_tagger().tag([(words, starts) for words, starts, _ in dev])
    scores = score([tags for _, _, tags in dev], predicted)
    return {
        "f1": scores.overall.f1,
        "precision": scores.overall.precision,
        "recall": scores.overall.recall,
        "per_type": {label: counts.f1 for label, counts in sorted(scores.by_type.items())},
    }


def fit(
    model: Model, documents: Sequence[Document], dev, recipe: Recipe, rng: random.Random, name: str
):
    """Fine-tune `model`; returns (the best epoch's dev figures and weights, every epoch's)."""
    import torch
    from tqdm import tqdm

    from newsflow.entities import transformer
    from newsflow.lab.finetuning import length_batches, update, warmup_then_decay

    tagger = model.word_tagger()
    examples = []
    for document in documents:
        encoded = tagger.encode(document.words, document.sentence_starts)
        for window in tagger.windows(encoded):
            examples.append((encoded, window, document.targets[window.start : window.end]))
    batches_per_epoch = -(-len(examples) // recipe.batch)
    total = batches_per_epoch * recipe.epochs
    parameters = list(model.named_parameters())
    no_decay = [p for n, p in parameters if n.endswith("bias") or "LayerNorm" in n]
    decay = [p for n, p in parameters if not (n.endswith("bias") or "LayerNorm" in n)]
    optimiser = torch.optim.AdamW(
        [
            {"params": decay, "weight_decay": recipe.weight_decay},
            {"params": no_decay, "weight_decay": 0.0},
        ],
        lr=recipe.learning_rate,
    )
    scheduler = warmup_then_decay(optimiser, recipe.warmup, total)
    cls_id, sep_id = tagger.cls_id, tagger.sep_id
    history: list[dict] = []
    best: tuple[dict, dict[str, np.ndarray]] | None = None
    started = time.time()
    logger.info("%s: %d windows, %d updates", name, len(examples), total)
    for epoch in range(1, recipe.epochs + 1):
        batches = length_batches(
            len(examples), lambda i: examples[i][1].last - examples[i][1].first, recipe.batch, rng
        )
        model.train(True)
        # disable=None: a bar on a terminal, none in a log file.
        progress = tqdm(
            batches, desc=f"{name} epoch {epoch}/{recipe.epochs}", unit="batch", disable=None
        )
        running = 0.0
        for number, indices in enumerate(progress, start=1):
            batch = transformer.make_batch([examples[i][:2] for i in indices], cls_id, sep_id)
            targets = np.zeros((*batch.input_ids.shape, len(transformer.LABELS)), dtype=np.float32)
            word_targets = np.concatenate([examples[i][2] for i in indices])
            scored = batch.columns >= 0
            targets[batch.rows[scored], batch.columns[scored]] = word_targets[scored]
            log_probabilities = torch.log_softmax(model.logits(batch), dim=-1)
            expected = torch.from_numpy(targets)
            weights = expected.sum(dim=-1)
            loss = -(expected * log_probabilities).sum() / weights.sum().clamp(min=1.0)
            running += update(loss, [p for _, p in parameters], optimiser, scheduler)
            progress.set_postfix(loss=f"{running / number:.4f}")
        figures = score_dev(model, dev)
        figures.update(
            epoch=epoch, loss=running / len(batches), minutes=(time.time() - started) / 60
        )
        history.append(figures)
        logger.info("%s epoch %d: dev F1 %.4f %s", name, epoch, figures["f1"], figures["per_type"])
        if best is None or figures["f1"] > best[0]["f1"]:
            best = (figures, model.state())
    return best, history


# --- the steps ----------------------------------------------------------------------------------


def teacher_labels(args, train, dev) -> tuple[list[np.ndarray], list, list[np.ndarray], dict]:
    """The teacher's label probabilities for CoNLL train and the news, trained if not cached."""
    from . import backbones

    backbone = backbones.teacher(args.work)
    news = news_documents(args.unlabelled) if args.unlabelled else []
    from .train import fingerprint

    key = fingerprint(args.data / "train.txt", args.unlabelled, args.seed, asdict(TEACHER), "v1")
    cached = args.work / f"teacher-labels-{key}.npz"
    report_file = args.work / f"teacher-{key}.json"
    if cached.is_file() and report_file.is_file():
        logger.info("reusing the teacher's labels in %s", cached)
        stored = np.load(cached)
        count = len(train)
        labels = [stored[f"d{i}"] for i in range(count + len(news))]
        return labels[:count], news, labels[count:], json.loads(report_file.read_text())
    model = Model(backbone, TEACHER.dropout, args.seed)
    documents = [Document(words, starts, one_hot(tags)) for words, starts, tags in train]
    (figures, state), history = fit(
        model, documents, dev, TEACHER, random.Random(args.seed), "teacher"
    )
    model.load(state)
    model.train(False)
    logger.info("labelling %d CoNLL and %d news documents with the teacher", len(train), len(news))
    tagger = model.word_tagger()
    texts = [(words, starts) for words, starts, _ in train] + news
    labels = []
    for first in range(0, len(texts), 64):
        labels += [
            np.exp(scores).astype(np.float16) for scores in tagger.scores(texts[first : first + 64])
        ]
    np.savez(cached, **{f"d{i}": value for i, value in enumerate(labels)})
    report = {
        "backbone": backbone.name,
        "recipe": asdict(TEACHER),
        "best": figures,
        "history": history,
    }
    report_file.write_text(json.dumps(report, indent=2))
    return labels[: len(train)], news, labels[len(train) :], report


def student_documents(train, train_labels, news, news_labels, gold_weight: float) -> list[Document]:
    """CoNLL train with gold mixed into the teacher's labels, and the news with the teacher's."""
    documents = []
    for (words, starts, tags), teacher in zip(train, train_labels, strict=True):
        targets = gold_weight * one_hot(tags)
        has_teacher = teacher.sum(axis=1) > 0
        targets[has_teacher] += (1 - gold_weight) * teacher[has_teacher].astype(np.float32)
        targets[~has_teacher] /= gold_weight if gold_weight else 1.0
        documents.append(Document(words, starts, targets))
    for (words, starts), teacher in zip(news, news_labels, strict=True):
        documents.append(Document(words, starts, teacher.astype(np.float32)))
    return documents


def export(model: Model, state: dict[str, np.ndarray], folder: Path) -> Path:
    """The component folder: the int8 graph, the WordPiece tokenizer and the window settings."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    from newsflow.entities import transformer
    from newsflow.lab.onnx_bert import write_classifier

    backbone = model.backbone
    folder.mkdir(parents=True, exist_ok=True)
    weights = {name: value for name, value in state.items() if not name.startswith("head.")}
    full = folder / "model-fp32.onnx"
    base_graph = backbone.files / backbone.encoder.model.base
    write_classifier(base_graph, weights, state["head.weight"], state["head.bias"], full)
    quantize_dynamic(
        full,
        folder / "model.onnx",
        weight_type=QuantType.QInt8,
        per_channel=True,
        extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},
    )
    full.unlink()
    shutil.copyfile(backbone.files / backbone.encoder.tokenizer.base, folder / "tokenizer.json")
    config = {
        "labels": list(transformer.LABELS),
        "window_pieces": transformer.WINDOW_PIECES,
        "context_pieces": SERVED_CONTEXT_PIECES,
        "casing_classes": transformer.CASING_CLASSES,
        "encoder": {
            "coordinates": backbone.encoder.coordinates,
            "file": backbone.encoder.model.name,
            "sha256": backbone.encoder.model.sha256,
            "licence": backbone.encoder.licence,
        },
    }
    (folder / "config.json").write_text(json.dumps(config, indent=2) + "\n")
    return folder


def publish(component: Path, out: Path, report: dict) -> None:
    """Write the spaCy pipeline (CoNLL-style tokenizer + the component) to `out`."""
    import spacy

    from newsflow.entities import onnx_ner

    from .train import KEPT_FILES, conll_tokenisation

    nlp = spacy.blank("en")
    conll_tokenisation(nlp)
    nlp.add_pipe(onnx_ner.FACTORY, name="ner")
    nlp.get_pipe("ner").from_disk(component)
    nlp.meta.update(
        {
            "name": "newsflow_ner_transformer",
            "version": MODEL_VERSION,
            "description": "newsflow's English NER (PER, ORG, LOC, MISC): all-MiniLM-L6-v2 with "
            "casing classes, fine-tuned on CoNLL-2003 train and a BERT-Base teacher's labels, "
            "selected on dev, int8 ONNX.",
            "author": "newsflow",
            "license": "see MODEL_CARD.md (training data: Reuters RCV1 text, research use)",
            # It reads whole documents: the document rules cost it F1 on dev (model card).
            "newsflow": {"document_rules": False},
        }
    )
    with tempfile.TemporaryDirectory(dir=out.parent if out.parent.exists() else None) as staging:
        staged = Path(staging) / "model"
        nlp.to_disk(staged)
        (staged / "training-report.json").write_text(json.dumps(report, indent=2) + "\n")
        out.mkdir(parents=True, exist_ok=True)
        for path in out.iterdir():
            if path.name not in KEPT_FILES:
                shutil.rmtree(path) if path.is_dir() else path.unlink()
        for path in staged.iterdir():
            shutil.move(str(path), out / path.name)
    logger.info("wrote %s", out)


# --- command line -------------------------------------------------------------------------------


def arguments(argv: list[str] | None) -> argparse.Namespace:
    from .train import data_arguments

    parser = argparse.ArgumentParser(
        prog="python -m newsflow.lab.entities.finetune",
        description="Train the transformer NER (teacher, labels, student, int8 ONNX export).",
    )
    data_arguments(parser, "unlabelled news: FNC-1's train_bodies.csv (default: %(default)s)")
    parser.add_argument("--out", type=Path, default=Path("models/ner"))
    parser.add_argument(
        "--work",
        type=Path,
        default=Path.home() / ".cache/newsflow/ner-finetune",
        help="teacher, labels and exports before publishing (default: %(default)s)",
    )
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument(
        "--no-teacher",
        action="store_true",
        help="train the student on CoNLL's gold labels alone (no distillation)",
    )
    parser.add_argument(
        "--gold-weight",
        type=float,
        default=0.5,
        help="on CoNLL train, the share of the gold label in the student's target",
    )
    parser.add_argument("--epochs", type=int, default=STUDENT.epochs, help="the student's")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--no-publish", action="store_true", help="stop after scoring the export")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = arguments(argv)
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False  # transformers configures the root logger too
    for split in ("train", "dev"):
        if not (args.data / f"{split}.txt").is_file():
            logger.error(
                "no %s (pass --data, the folder with CoNLL-2003)", args.data / f"{split}.txt"
            )
            return 2
    if args.unlabelled and not args.unlabelled.is_file():
        logger.warning("no %s: the teacher labels CoNLL train only", args.unlabelled)
        args.unlabelled = None
    import torch

    from . import backbones

    torch.set_num_threads(args.threads)
    np.random.seed(args.seed)
    args.work.mkdir(parents=True, exist_ok=True)
    started = time.time()
    train = conll_documents(args.data / "train.txt")
    dev = conll_documents(args.data / "dev.txt")
    recipe = STUDENT.__class__(**{**asdict(STUDENT), "epochs": args.epochs})
    report: dict = {"seed": args.seed, "student_recipe": asdict(recipe)}
    if args.no_teacher:
        documents = [Document(words, starts, one_hot(tags)) for words, starts, tags in train]
    else:
        train_labels, news, news_labels, report["teacher"] = teacher_labels(args, train, dev)
        documents = student_documents(train, train_labels, news, news_labels, args.gold_weight)
        report.update(gold_weight=args.gold_weight, news_documents=len(news))
    model = Model(backbones.student(), recipe.dropout, args.seed)
    # Its own generator: the student sees the same order whether the teacher was cached or not.
    shuffler = random.Random(args.seed)
    (figures, state), history = fit(model, documents, dev, recipe, shuffler, "student")
    report.update(best=figures, history=history, hours=(time.time() - started) / 3600)
    np.savez(args.work / "student-best.npz", **state)
    logger.info("student: best epoch %d, dev F1 %.4f", figures["epoch"], figures["f1"])
    component = export(model, state, args.work / "component")
    if args.no_publish:
        print(json.dumps(report["best"], indent=2))
        return 0
    publish(component, args.out, report)
    from .evaluation import evaluate, format_report

    result = evaluate(args.data / "dev.txt", args.out)
    print(f"model in {args.out}; on {args.data / 'dev.txt'}:\n{format_report(result)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
