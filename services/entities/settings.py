"""The entity worker's settings, read once at start from `NEWSFLOW_ENTITIES_*` variables."""

from pathlib import Path

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from newsflow.topics import DEDUPED, TAGGED
from newsflow.worker import WorkerSettings


class EntitiesWorkerSettings(WorkerSettings):
    model_config = SettingsConfigDict(env_prefix="NEWSFLOW_ENTITIES_")
    service_name = "entities"

    metrics_port: int = Field(default=9103, ge=0, le=65535)
    state_dir: Path = Field(default=Path("data/state/entities"))
    model_dir: Path = Field(
        default=Path("models/ner"), description="The trained spaCy pipeline (models/ner)."
    )
    batch_size: int = Field(default=32, gt=0, description="Articles tagged together at most.")
    deduped_topic: str = DEDUPED.name
    tagged_topic: str = TAGGED.name
