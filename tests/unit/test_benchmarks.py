"""The benchmark's code paths on a tiny corpus, so that `make bench` does not rot between
runs. No timing is asserted: benchmarks are not tests."""

from __future__ import annotations

import json

import pytest

from tests.benchmarks import corpus, endtoend, limit, profiles, report


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    # No FNC-1 here: the synthetic fallback, labelled as such.
    return corpus.build(seed=3, fnc1=tmp_path_factory.mktemp("no-fnc1"), synthetic_articles=24)


def test_the_fallback_corpus_is_labelled_synthetic_and_has_copies(tiny):
    figures = tiny.figures()
    assert figures["source"] == "synthetic"
    assert "SYNTHETIC" in figures["description"]
    assert figures["exact_copy_share"] > 0 and figures["near_copy_share"] > 0
    assert all(item.article_ids for item in tiny.files)  # every file makes an article


@pytest.fixture(scope="module")
def limit_runs(tiny, tmp_path_factory):
    folder = tmp_path_factory.mktemp("limit")
    in_process = limit.InProcessPipeline(folder / "run")
    try:
        files = corpus.write(tiny.files, folder / "files")
        return limit.run_slices(in_process, files[:4], [files[4:14], files[14:]])
    finally:
        in_process.close()


def test_the_limit_stores_every_distinct_article_once(tiny, limit_runs):
    warm, runs = limit_runs
    distinct = {a for item in tiny.files for a in item.article_ids}
    assert sum(r.files for r in [warm, *runs]) == len(tiny.files)
    assert sum(r.articles_stored for r in [warm, *runs]) == len(distinct)
    assert sum(r.exact_duplicates for r in [warm, *runs]) == len(tiny.files) - len(distinct)
    figures = runs[0].figures()
    assert figures["stages"]["entities"]["records"] > 0
    assert figures["articles_per_second"] > 0
    # The models' own time is part of each model stage's, and nothing of parsing's.
    for stage in ("entities", "stance"):
        model, total = (figures["stages"][stage][k] for k in ("model_cpu_seconds", "cpu_seconds"))
        assert 0 < model <= total
    assert figures["stages"]["parse"]["model_cpu_seconds"] == 0


def test_latency_figures_follow_the_trace():
    dropped = {"a.txt": 100.0, "b.txt": 101.0}
    rows = [
        {"file": "a.txt", "times": {"first_seen": 100.1, "watcher": 100.6, "dedup": 100.8,
                                    "entities": 101.2, "stance": 101.3, "stored": 101.9}},
        {"file": "b.txt", "times": {"first_seen": 101.1, "watcher": 101.6, "dedup": 101.7,
                                    "entities": 102.0, "stance": 102.1, "stored": 102.5}},
    ]  # fmt: skip
    figures = endtoend.latency_figures(rows, dropped)
    assert figures["articles"] == 2
    assert figures["p50"] == pytest.approx(1.7)
    assert figures["hops"]["watcher"]["p50"] == pytest.approx(0.5)
    assert figures["hops"]["sink"]["p50"] == pytest.approx(0.5)


def test_profiles_are_summarised_by_kind(tmp_path):
    raw = tmp_path / "entities.txt"
    raw.write_text(
        "main (newsflow/runtime/worker.py:1);Language.pipe (spacy/language.py:2) 30\n"
        "main (newsflow/runtime/worker.py:1);encode (newsflow/core/records.py:9) 10\n"
        "run (mode/worker.py:3);select (selectors.py:4) 10\n"
    )
    summary = profiles.summarise(profiles.read_raw(raw))
    kinds = dict(summary["by_kind"])
    assert summary["samples"] == 50
    assert kinds["model inference (spaCy/thinc)"] == 0.6
    assert kinds["record validation and serialisation (pydantic, JSON)"] == 0.2
    assert summary["top_self"][0] == ["spacy/language.py:Language.pipe", 0.6]


def _phase(name: str, files: int, rate: float | None = None) -> dict:
    rows = [
        {"file": f"{name}-{n}", "times": {"first_seen": n + 0.1, "stored": n + 1.5 + n / 100}}
        for n in range(files)
    ]
    dropped = {f"{name}-{n}": float(n) for n in range(files)}
    phase = endtoend.Phase(name, files, dropped=dropped, done_at=files + 2.0)
    phase.offered_per_second = rate
    phase.latency = endtoend.latency_figures(rows, dropped)
    phase.processes = {
        process: {"cpu_seconds": 1.0, "cores": 0.5, "records": files,
                  "records_per_second": 2.0, "cpu_ms_per_record": 20.0,
                  "cpu_ms_per_article_in": 20.0}
        for process in ("watcher", "dedup", "entities", "stance", "sink", "broker")
    }  # fmt: skip
    phase.processes["_machine"] = {
        "wall_seconds": 10.0,
        "busy_share": 0.9,
        "pipeline_cores": 1.5,
        "other_cores": 0.2,
        "cores": 2,
    }
    return phase.figures()


def test_the_report_shows_every_figure(limit_runs, tiny, tmp_path):
    warm, runs = limit_runs
    results = {
        "generated_at": "2026-01-01T00:00:00+00:00",
        "command": "test",
        "machine": {"cores": 2, "cpu": "test", "memory_bytes": 2**30, "python": "3.11",
                    "kernel": "test"},
        "load_average_start": [0.5, 0.5, 0.5],
        "load_average_end": [0.6, 0.6, 0.6],
        "sizes": {"warmup": 4, "slice": 10, "runs": 2, "profile": 0, "load_seconds": 1,
                  "component_runs": 1},
        "corpus": tiny.figures(),
        "limit": {"warmup": warm.figures(), "runs": [r.figures() for r in runs]},
        "components": {"entities": {"command": "newsflow eval entities", "skipped": "test"}},
        "pipeline": {
            "saturation": [_phase("s1", 30), _phase("s2", 30)],
            "loads": [{"share_of_saturation": s, **_phase(f"l{s}", 20, rate=s * 10)}
                      for s in (0.25, 0.5, 0.75)],
            "peak_rss_bytes": {"watcher": 2**26, "entities": 2**28},
        },
        "wall_seconds": 10.0,
    }  # fmt: skip
    report.write(results, tmp_path, tmp_path / "benchmarks.json")
    text = (tmp_path / "benchmarks.md").read_text()
    assert "SYNTHETIC CORPUS" in text
    for words in ("pipeline / limit", "50% load", "Per stage", "peak RSS", "load average"):
        assert words in text
    saved = json.loads((tmp_path / "benchmarks.json").read_text())
    assert saved["headline"]["ratio"] is not None
    assert {p.name for p in (tmp_path / "benchmarks").iterdir()} >= {
        "throughput.png",
        "latency.png",
        "cpu_per_article.png",
    }
