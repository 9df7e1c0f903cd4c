"""The dedup worker's settings, read once at start from `NEWSFLOW_DEDUP_*` variables."""

from pathlib import Path

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from newsflow.core.sentences import DEFAULT_FOLDER as SENTENCE_ENCODER_FOLDER
from newsflow.core.topics import DEDUPED, DUPLICATES, RAW
from newsflow.runtime.worker import WorkerSettings

from .logic import DedupSettings

_LOGIC = DedupSettings()


class DedupWorkerSettings(WorkerSettings):
    model_config = SettingsConfigDict(env_prefix="NEWSFLOW_DEDUP_")
    service_name = "dedup"

    metrics_port: int = Field(default=9102, ge=0, le=65535)
    state_dir: Path = Field(default=Path("data/state/dedup"))
    raw_topic: str = RAW.name
    deduped_topic: str = DEDUPED.name
    duplicates_topic: str = DUPLICATES.name
    # The thresholds an operator may want to move; their defaults, and every other
    # threshold, are the logic's own, chosen on the development stream (README.md).
    expiry_days: float = Field(default=_LOGIC.expiry_days, gt=0)
    near_duplicate_containment: float = Field(default=_LOGIC.near_duplicate_containment, ge=0, le=1)
    story_threshold: float = Field(default=_LOGIC.story_threshold, ge=0, le=1)
    story_min_meaning: float = Field(default=_LOGIC.story_min_meaning, ge=-1, le=1)
    story_window_days: float = Field(default=_LOGIC.story_window_days, gt=0)
    sentence_encoder_dir: Path = Field(
        default=SENTENCE_ENCODER_FOLDER,
        description="The sentence encoder that tells whether two articles report one story.",
    )

    def logic(self) -> DedupSettings:
        return DedupSettings(
            expiry_days=self.expiry_days,
            near_duplicate_containment=self.near_duplicate_containment,
            story_threshold=self.story_threshold,
            story_min_meaning=self.story_min_meaning,
            story_window_days=self.story_window_days,
        )
