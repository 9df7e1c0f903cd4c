"""The limit: the pipeline's own stage code run in one process over the same files, with no
Kafka in between. Each file is read and parsed as the watcher does (`read_records`), then goes
through the workers' `Stage.prepare`/`Stage.finish` (the very objects the Faust workers
build, in batches of each worker's batch size), and optionally into the sink's store.

What is left out is exactly what the distributed pipeline adds: encoding and decoding
records, Kafka, Faust, the watcher's settle period, the changelog of dedup's tables.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path, PurePath

from newsflow.core.stage import Source

REPO = Path(__file__).resolve().parents[2]
CLAIMS_FILE = REPO / "deploy" / "stance" / "claims.yaml"  # as `make up` runs the stance worker
STAGES = ("parse", "dedup", "entities", "stance", "store")


@dataclass
class StageClock:
    """CPU and wall seconds spent in one stage, and the records it handled."""

    cpu_seconds: float = 0.0
    wall_seconds: float = 0.0
    records: int = 0
    model_cpu_seconds: float = 0.0  # inside ONNX Runtime's Session.run: the stage's floor

    def add(self, cpu: float, wall: float, records: int, model_cpu: float) -> None:
        self.cpu_seconds += cpu
        self.wall_seconds += wall
        self.records += records
        self.model_cpu_seconds += model_cpu


class ModelClock:
    """CPU spent inside ONNX Runtime (every `InferenceSession.run`, all its threads), so that
    each stage's figures say how much of it is the models' own arithmetic."""

    seconds = 0.0
    _installed = False

    @classmethod
    def install(cls) -> None:
        if cls._installed:
            return
        from onnxruntime import InferenceSession

        run = InferenceSession.run

        def timed(session, *args, **kwargs):
            started = time.process_time()
            try:
                return run(session, *args, **kwargs)
            finally:
                cls.seconds += time.process_time() - started

        InferenceSession.run = timed
        cls._installed = True


@dataclass
class LimitResult:
    files: int = 0
    articles_stored: int = 0
    exact_duplicates: int = 0
    dead_letters: int = 0
    wall_seconds: float = 0.0
    cpu_seconds: float = 0.0
    stages: dict[str, StageClock] = field(default_factory=lambda: {s: StageClock() for s in STAGES})

    def without_store(self) -> tuple[float, float]:
        """Wall and CPU seconds of the four stages the limit is defined by (no store)."""
        store = self.stages["store"]
        return self.wall_seconds - store.wall_seconds, self.cpu_seconds - store.cpu_seconds

    def figures(self) -> dict:
        wall, cpu = self.without_store()
        return {
            "files": self.files,
            "articles_stored": self.articles_stored,
            "exact_duplicates": self.exact_duplicates,
            "dead_letters": self.dead_letters,
            "wall_seconds": round(wall, 3),
            "cpu_seconds": round(cpu, 3),
            "articles_per_second": round(self.files / wall, 2) if wall else None,
            "articles_per_cpu_second": round(self.files / cpu, 2) if cpu else None,
            "with_store_wall_seconds": round(self.wall_seconds, 3),
            "with_store_articles_per_second": round(self.files / self.wall_seconds, 2)
            if self.wall_seconds
            else None,
            "stages": {
                name: {
                    "records": clock.records,
                    "cpu_seconds": round(clock.cpu_seconds, 3),
                    "wall_seconds": round(clock.wall_seconds, 3),
                    "cpu_ms_per_record": round(1000 * clock.cpu_seconds / clock.records, 3)
                    if clock.records
                    else None,
                    "model_cpu_seconds": round(clock.model_cpu_seconds, 3),
                }
                for name, clock in self.stages.items()
            },
        }


class InProcessPipeline:
    """The stages, built once (models loaded), with fresh dedup state and a fresh store."""

    def __init__(self, work: Path, store: bool = True) -> None:
        from newsflow.core.sentences import SentenceEncoder
        from newsflow.dedup.logic import Deduplicator
        from newsflow.dedup.service import DedupStage
        from newsflow.dedup.settings import DedupWorkerSettings
        from newsflow.dedup.state import DedupState
        from newsflow.entities.service import EntitiesStage
        from newsflow.entities.settings import EntitiesWorkerSettings
        from newsflow.entities.tagging import Tagger
        from newsflow.sink.stores import open_store
        from newsflow.stance.labeller import StanceLabeller
        from newsflow.stance.model import StanceModel
        from newsflow.stance.service import StanceStage, claims_file
        from newsflow.stance.settings import StanceWorkerSettings

        ModelClock.install()
        work.mkdir(parents=True, exist_ok=True)
        dedup_settings = DedupWorkerSettings(state_dir=work / "dedup")
        entities_settings = EntitiesWorkerSettings(state_dir=work / "entities")
        stance_settings = StanceWorkerSettings(
            state_dir=work / "stance",
            model_dir=REPO / "models" / "stance",
            claims_file=CLAIMS_FILE if CLAIMS_FILE.is_file() else None,
        )
        encoder = REPO / "models" / "sentence-encoder"
        self.dedup = DedupStage(
            Deduplicator(
                DedupState.in_memory(),
                dedup_settings.logic(),
                meaning=SentenceEncoder(encoder).vector,
            ),
            dedup_settings,
        )
        self.entities = EntitiesStage(
            Tagger.load(REPO / entities_settings.model_folder), entities_settings
        )
        claims = claims_file(stance_settings)
        claims.refresh()
        self.stance = StanceStage(
            StanceLabeller(StanceModel.load(stance_settings.model_dir, encoder)),
            claims,
            stance_settings,
        )
        self.batch_sizes = {
            "dedup": dedup_settings.batch_size,
            "entities": entities_settings.batch_size,
            "stance": stance_settings.batch_size,
        }
        self.duplicates_topic = dedup_settings.duplicates_topic
        self.store = None
        if store:
            self.store = open_store(f"sqlite:///{work / 'store.db'}")
            self.store.open()
        self._offset = 0

    def close(self) -> None:
        if self.store is not None:
            self.store.close()

    def run(self, paths: Sequence[Path], result: LimitResult | None = None) -> LimitResult:
        """Every file through every stage, a dedup batch at a time."""
        result = result or LimitResult()
        wall, cpu = time.perf_counter(), time.process_time()
        size = self.batch_sizes["dedup"]
        for first in range(0, len(paths), size):
            self._batch(paths[first : first + size], result)
        result.wall_seconds += time.perf_counter() - wall
        result.cpu_seconds += time.process_time() - cpu
        result.files += len(paths)
        return result

    def _batch(self, paths: Sequence[Path], result: LimitResult) -> None:
        from newsflow.sink.writer import write_batch
        from newsflow.watcher.files import FileToRead, ReadRules, Topics, read_records
        from newsflow.watcher.parsing import MAX_ARTICLES_PER_FILE

        rules = ReadRules(10 << 20, MAX_ARTICLES_PER_FILE, Topics("articles.raw", "deadletter"))

        clock = _Clock(result)
        raw = []
        with clock("parse") as counted:
            for path in paths:
                file = FileToRead(path.parent, PurePath(path.name), path.name, datetime.now(UTC))
                records = read_records(rules, file)
                raw.extend(records.articles)
                result.dead_letters += len(records.dead_letters) + (records.rejection is not None)
            counted(len(paths))

        deduped = []
        with clock("dedup") as counted:
            prepared = self.dedup.prepare(raw)
            for record, ready in zip(raw, prepared, strict=True):
                for output in self.dedup.finish(record, ready, self._source("articles.raw")):
                    if output.topic == self.duplicates_topic:
                        result.exact_duplicates += 1
                    else:
                        deduped.append(output.value)
            counted(len(raw))

        tagged = self._through("entities", self.entities, deduped, clock)
        enriched = self._through("stance", self.stance, tagged, clock)
        if self.store is not None and enriched:
            with clock("store") as counted:
                outcome = write_batch(self.store, enriched)
                counted(len(enriched))
            result.articles_stored += outcome.written.articles
        else:
            result.articles_stored += len(enriched)

    def _through(self, name: str, stage, records: list, clock: _Clock) -> list:
        outputs = []
        size = self.batch_sizes[name]
        with clock(name) as counted:
            for first in range(0, len(records), size):
                batch = records[first : first + size]
                for record, ready in zip(batch, stage.prepare(batch), strict=True):
                    source = self._source(f"{name}.in")
                    outputs.extend(output.value for output in stage.finish(record, ready, source))
            counted(len(records))
        return outputs

    def _source(self, topic: str) -> Source:
        self._offset += 1
        return Source(topic, 0, self._offset, None)


class _Clock:
    def __init__(self, result: LimitResult) -> None:
        self.result = result

    def __call__(self, stage: str):
        return _Timed(self.result.stages[stage])


class _Timed:
    def __init__(self, clock: StageClock) -> None:
        self.clock = clock
        self.records = 0

    def __enter__(self):
        self.wall, self.cpu = time.perf_counter(), time.process_time()
        self.model = ModelClock.seconds

        def counted(records: int) -> None:
            self.records = records

        return counted

    def __exit__(self, *_exc) -> None:
        self.clock.add(
            time.process_time() - self.cpu,
            time.perf_counter() - self.wall,
            self.records,
            ModelClock.seconds - self.model,
        )


def run_slices(
    pipeline: InProcessPipeline, warmup: Iterable[Path], slices: Sequence[Sequence[Path]]
) -> tuple[LimitResult, list[LimitResult]]:
    """The warm-up files (untimed figures of their own), then each slice in turn on the same
    state, as the distributed pipeline sees them."""
    first = pipeline.run(list(warmup))
    return first, [pipeline.run(list(paths)) for paths in slices]
