"""The entity worker's settings, read once at start from `NEWSFLOW_ENTITIES_*` variables."""

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from newsflow.core.topics import DEDUPED, TAGGED
from newsflow.runtime.worker import WorkerSettings

# The models shipped in models/: the fine-tuned transformer (accurate, the default) and the
# spaCy CNN it replaced (about three times faster, about two points of F1 lower).
MODEL_FOLDERS = {"accurate": Path("models/ner"), "fast": Path("models/ner-fast")}


class EntitiesWorkerSettings(WorkerSettings):
    model_config = SettingsConfigDict(env_prefix="NEWSFLOW_ENTITIES_")
    service_name = "entities"

    metrics_port: int = Field(default=9103, ge=0, le=65535)
    state_dir: Path = Field(default=Path("data/state/entities"))
    model: Literal["accurate", "fast"] = Field(
        default="accurate",
        description="accurate: the fine-tuned transformer (models/ner); fast: the spaCy CNN "
        "(models/ner-fast), for raw speed.",
    )
    model_dir: Path | None = Field(
        default=None, description="A model folder of your own; overrides `model`."
    )
    batch_size: int = Field(default=32, gt=0, description="Articles tagged together at most.")
    deduped_topic: str = DEDUPED.name
    tagged_topic: str = TAGGED.name

    @property
    def model_folder(self) -> Path:
        return self.model_dir or MODEL_FOLDERS[self.model]
