"""`newsflow stance`: the Faust worker around the stance labeller.

Reads `articles.tagged`; each article, with a `stance` section listing its stance toward
each claim (its own headline, its story's lead headline, the operators' claims file), goes
to `articles.enriched`. The model is loaded once at start and runs on the batch runner's
thread, so the event loop keeps heartbeating; the claims file is re-read by a timer when it
changes. The stage keeps no state, so it needs no tables: a redelivered record is simply
labelled again (the same model gives the same answer).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence

from threadpoolctl import ThreadpoolController

from newsflow.core.records import EnrichedArticle, StanceSection, TaggedArticle
from newsflow.core.settings import SettingsError, load
from newsflow.core.stage import Output, Source, Stage
from newsflow.runtime import logs
from newsflow.runtime.batches import BatchRunner, StageMetrics
from newsflow.runtime.faust_app import faust_app
from newsflow.runtime.worker import run_worker

from . import metrics
from .claims import ClaimsFile
from .labeller import StanceLabeller
from .model import ModelError, StanceModel
from .settings import StanceWorkerSettings

log = logging.getLogger(__name__)


class StanceStage(Stage[TaggedArticle, StanceSection]):
    name = "stance"
    input_record = TaggedArticle

    def __init__(
        self, labeller: StanceLabeller, claims: ClaimsFile, settings: StanceWorkerSettings
    ):
        self.labeller = labeller
        self.claims = claims
        self.settings = settings
        self.model_version = labeller.model_version
        # OpenMP's thread count is per calling thread, so it is set around each batch, on
        # the runner's thread where the model runs (the limit costs microseconds).
        self.threads = ThreadpoolController()

    def prepare(self, records: Sequence[TaggedArticle]) -> list[StanceSection]:
        started = time.perf_counter()
        # One snapshot per batch: a reload in the middle of a batch applies to the next one.
        with self.threads.limit(limits=self.settings.model_threads):
            sections = self.labeller.label(records, self.claims.claims)
        elapsed = time.perf_counter() - started
        for _ in records:
            metrics.MODEL_SECONDS.observe(elapsed / len(records))
        return sections

    def finish(self, record: TaggedArticle, section: StanceSection, source: Source) -> list[Output]:
        for claim in section.claims:
            metrics.LABELS.labels(claim.claim_source.value, claim.label.value).inc()
            metrics.PROBABILITY.labels(claim.label.value).observe(
                getattr(claim.probabilities, claim.label.value)
            )
        metrics.CLAIMS_PER_ARTICLE.observe(len(section.claims))
        enriched = self.passed_on(record, EnrichedArticle, stance=section)
        return [Output(self.settings.enriched_topic, record.article_id, enriched)]


def claims_file(settings: StanceWorkerSettings) -> ClaimsFile:
    def loaded(claims) -> None:
        metrics.CLAIMS_LOADED.set(len(claims))
        metrics.CLAIMS_RELOADS.inc()
        metrics.CLAIMS_FILE_OK.set(1)

    def failed(_message: str) -> None:
        metrics.CLAIMS_FILE_ERRORS.inc()
        metrics.CLAIMS_FILE_OK.set(0)

    return ClaimsFile(settings.claims_file, on_loaded=loaded, on_error=failed)


def build(settings: StanceWorkerSettings, model: StanceModel):
    """The Faust app with its agent and the claims timer; separate from `main` for the tests."""
    app = faust_app("stance", settings)
    claims = claims_file(settings)
    claims.refresh()
    stage = StanceStage(StanceLabeller(model), claims, settings)
    runner = BatchRunner(app, stage, settings, StageMetrics("stance"))
    source = app.topic(settings.tagged_topic, key_type=bytes, value_type=bytes)

    @app.agent(source, name="stance")
    async def stance(stream):
        await runner.run(stream)

    @app.timer(settings.claims_check_seconds)
    async def reload_claims() -> None:
        # Off the event loop: reading a file may block (a slow mounted volume).
        await asyncio.get_running_loop().run_in_executor(None, claims.refresh)

    return app


def load_model(settings: StanceWorkerSettings) -> StanceModel:
    try:
        return StanceModel.load(settings.model_dir, settings.sentence_encoder_dir)
    except ModelError as error:
        raise SettingsError(f"NEWSFLOW_STANCE_MODEL_DIR: {error}") from None


def main() -> None:
    settings = load(StanceWorkerSettings)
    # Before `run_worker` (which configures it again): loading the model and the claims
    # file already logs.
    logs.configure(settings.service_name, settings.log_level)
    model = load_model(settings)
    log.info("stance model %s loaded from %s", model.version, settings.model_dir)
    run_worker(build(settings, model), settings)
