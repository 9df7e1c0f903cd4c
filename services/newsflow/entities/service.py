"""`newsflow entities`: the Faust worker around the tagger.

Reads `articles.deduped` (exact copies never get here; near copies are tagged like any
article) and writes each article with its `entities` section to `articles.tagged`. The model
is loaded once at start and runs on a thread, a batch at a time, so the event loop keeps
heartbeating however long an article is.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from newsflow.core.records import DedupedArticle, EntitiesSection, TaggedArticle
from newsflow.core.settings import load
from newsflow.core.stage import Output, Source, Stage
from newsflow.core.topics import DEDUPED
from newsflow.runtime.batches import BatchRunner, StageMetrics
from newsflow.runtime.faust_app import faust_app
from newsflow.runtime.worker import run_worker

from . import metrics
from .settings import EntitiesWorkerSettings
from .tagging import Tagger


class EntitiesStage(Stage[DedupedArticle, EntitiesSection]):
    name = "entities"
    input_record = DedupedArticle

    def __init__(self, tagger: Tagger, settings: EntitiesWorkerSettings) -> None:
        self.tagger = tagger
        self.settings = settings
        self.model_version = tagger.model_version

    def prepare(self, records: Sequence[DedupedArticle]) -> list[EntitiesSection]:
        started = time.perf_counter()
        sections = self.tagger.tag_many([record.body for record in records])
        per_article = (time.perf_counter() - started) / max(len(records), 1)
        for _ in records:
            metrics.MODEL_SECONDS.observe(per_article)
        return sections

    def finish(
        self, record: DedupedArticle, section: EntitiesSection, source: Source
    ) -> list[Output]:
        metrics.MENTIONS_PER_ARTICLE.observe(len(section.mentions))
        for entity in section.entities:
            metrics.ENTITIES.labels(entity.label.value).inc()
        tagged = self.passed_on(record, TaggedArticle, entities=section)
        return [Output(self.settings.tagged_topic, record.article_id, tagged)]


def build(settings: EntitiesWorkerSettings):
    """The Faust app with its agent; separate from `main` for the tests."""
    app = faust_app("entities", settings, topic_partitions=DEDUPED.partitions)
    stage = EntitiesStage(Tagger.load(settings.model_folder), settings)
    runner = BatchRunner(app, stage, settings, StageMetrics("entities"))
    source = app.topic(settings.deduped_topic, key_type=bytes, value_type=bytes)

    @app.agent(source, name="entities")
    async def tag(stream):
        await runner.run(stream)

    return app


def main() -> None:
    settings = load(EntitiesWorkerSettings)
    run_worker(build(settings), settings)
