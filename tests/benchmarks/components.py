"""The speeds the eval commands print, by the same functions: `newsflow eval dedup`
(articles/s), `newsflow eval entities` (words/s) and `newsflow eval stance` (pairs/s). Each
figure is per CPU second (what one core does), with the wall-clock figure beside it.
"""

from __future__ import annotations

import json
import logging
import tempfile
from pathlib import Path

from .corpus import FNC1_DIR, BenchCorpus

log = logging.getLogger("bench")

REPO = Path(__file__).resolve().parents[2]
CONLL_DEV = FNC1_DIR.parent / "conll2003" / "dev.txt"


def dedup(corpus: BenchCorpus, runs: int) -> dict:
    """`newsflow eval dedup` over the development stream from FNC-1, else the synthetic
    articles as a stream (their scores mean nothing then; only the speed is reported)."""
    from newsflow.core.sentences import SentenceEncoder
    from newsflow.lab.dedup import devstream
    from newsflow.lab.dedup.evaluation import evaluate, read_stream

    with tempfile.TemporaryDirectory(prefix="newsflow-bench-dedup-") as folder:
        stream = Path(folder) / "stream.jsonl"
        if corpus.source == "fnc1":
            devstream.build(FNC1_DIR, stream, 13)
            data = "dedup development stream built from FNC-1 (newsflow eval build-dedup-stream)"
        else:
            _synthetic_stream(corpus, stream)
            data = "SYNTHETIC articles of the benchmark corpus (FNC-1 not found)"
        articles = list(read_stream(stream))
    meaning = SentenceEncoder(REPO / "models" / "sentence-encoder").vector
    results = []
    for _ in range(runs):
        report = evaluate(articles, meaning=meaning)
        results.append(
            {
                "articles": report.articles,
                "per_cpu_second": round(report.articles_per_second, 1),
                "per_wall_second": round(report.articles / report.wall_seconds, 1),
            }
        )
    return {"command": "newsflow eval dedup", "unit": "articles/s", "data": data, "runs": results}


def entities(runs: int) -> dict:
    if not CONLL_DEV.is_file():
        return {"command": "newsflow eval entities", "skipped": f"{CONLL_DEV} not found"}
    from newsflow.lab.entities.evaluation import evaluate

    results = []
    for _ in range(runs):
        report = evaluate(CONLL_DEV, REPO / "models" / "ner")
        results.append(
            {
                "words": report.words,
                "per_cpu_second": round(report.words_per_second, 1),
                "per_wall_second": round(report.words_per_wall_second, 1),
            }
        )
    return {
        "command": "newsflow eval entities",
        "unit": "words/s",
        "data": "CoNLL-2003 dev.txt",
        "runs": results,
    }


def stance(runs: int) -> dict:
    if not (FNC1_DIR / "train_bodies.csv").is_file():
        return {"command": "newsflow eval stance", "skipped": f"{FNC1_DIR} not found"}
    from newsflow.lab.stance import fnc
    from newsflow.lab.stance.evaluation import evaluate
    from newsflow.stance.model import StanceModel

    _, holdout = fnc.official_split(fnc.read_training_data(FNC1_DIR))
    model = StanceModel.load(REPO / "models" / "stance", REPO / "models" / "sentence-encoder")
    results = []
    for _ in range(runs):
        report = evaluate(model, "ours", holdout)
        results.append(
            {
                "pairs": report.pairs,
                "per_cpu_second": round(report.pairs_per_second, 1),
                "per_wall_second": round(report.pairs / report.wall_seconds, 1),
            }
        )
    return {
        "command": "newsflow eval stance",
        "unit": "pairs/s",
        "data": "FNC-1 official development split, hold-out side (training data only)",
        "runs": results,
    }


def _synthetic_stream(corpus: BenchCorpus, path: Path) -> None:
    from newsflow.watcher.parsing import InputRejected, parse_file_bytes

    with path.open("w", encoding="utf-8") as out:
        for item in corpus.files:
            try:
                parsed = parse_file_bytes(item.name, item.data)
            except InputRejected:
                continue
            for number, article in enumerate(parsed.articles):
                line = {"id": f"{item.name}:{number}", "title": article.title, "body": article.body}
                out.write(json.dumps(line) + "\n")


def measure(corpus: BenchCorpus, runs: int) -> dict:
    figures = {}
    for name, run in (
        ("dedup", lambda: dedup(corpus, runs)),
        ("entities", lambda: entities(runs)),
        ("stance", lambda: stance(runs)),
    ):
        log.info("component: %s", name)
        figures[name] = run()
    return figures
