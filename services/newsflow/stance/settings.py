"""The stance worker's settings, read once at start from `NEWSFLOW_STANCE_*` variables."""

from pathlib import Path

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from newsflow.core.sentences import DEFAULT_FOLDER as SENTENCE_ENCODER_FOLDER
from newsflow.core.topics import ENRICHED, TAGGED
from newsflow.runtime.worker import WorkerSettings


class StanceWorkerSettings(WorkerSettings):
    model_config = SettingsConfigDict(env_prefix="NEWSFLOW_STANCE_")
    service_name = "stance"

    metrics_port: int = Field(default=9104, ge=0, le=65535)
    state_dir: Path = Field(default=Path("data/state/stance"))
    tagged_topic: str = TAGGED.name
    enriched_topic: str = ENRICHED.name
    model_dir: Path = Field(
        default=Path("models/stance"), description="The folder of the trained stance model."
    )
    sentence_encoder_dir: Path = Field(
        default=SENTENCE_ENCODER_FOLDER,
        description="The sentence encoder that finds the body's sentences about a claim.",
    )
    claims_file: Path | None = Field(
        default=None,
        description="The operators' claims (YAML: a `claims:` list of id and text); "
        "re-read when it changes. None: only headlines are claims.",
    )
    claims_check_seconds: float = Field(
        default=1.0, gt=0, description="How often the claims file is checked for changes."
    )
    model_threads: int = Field(
        default=1,
        ge=1,
        description="Threads the model may use for a batch (OpenMP: the boosting). One: "
        "each of its hundreds of trees is a parallel region of its own, and the workers "
        "share the machine's cores, so more threads mostly wait.",
    )
