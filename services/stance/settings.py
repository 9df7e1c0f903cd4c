"""The stance worker's settings, read once at start from `NEWSFLOW_STANCE_*` variables."""

from pathlib import Path

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from newsflow.topics import ENRICHED, TAGGED
from newsflow.worker import WorkerSettings


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
        description="Threads the model may use for a batch (OpenMP). One: a batch is a few "
        "hundred pairs, each of the boosting's hundreds of trees is a parallel region of "
        "its own, and the workers share the machine's cores, so more threads mostly wait.",
    )
