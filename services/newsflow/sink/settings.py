"""The sink's settings, read once at start from `NEWSFLOW_SINK_*` variables."""

from pydantic import Field, field_validator
from pydantic_settings import SettingsConfigDict

from newsflow.core.settings import ServiceSettings
from newsflow.core.topics import DEADLETTER, ENRICHED

DEFAULT_STORE_URL = "sqlite:///./data/newsflow.db"


class SinkSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="NEWSFLOW_SINK_")
    service_name = "sink"

    metrics_port: int = Field(default=9105, ge=0, le=65535)
    store_url: str = Field(
        default=DEFAULT_STORE_URL,
        description="sqlite:///path, postgresql://user:password@host:port/database or "
        "jsonl:///folder.",
    )
    batch_size: int = Field(
        default=500, gt=0, le=10_000, description="Records written in one transaction at most."
    )
    # Short for the same reason as the workers' batch wait: a backlog fills a batch at once.
    batch_timeout_seconds: float = Field(
        default=0.05, gt=0, description="How long a batch waits to fill before it is written."
    )
    retry_initial_seconds: float = Field(
        default=0.5, gt=0, description="First wait after a store error; doubles each time."
    )
    retry_max_seconds: float = Field(
        default=30.0, gt=0, description="Longest wait between two attempts at the store."
    )
    stall_seconds: float = Field(
        default=120.0,
        gt=0,
        description="Restart in place when records wait on the sink's partitions (or on "
        "partitions no instance holds) and none has been stored for this long.",
    )
    group_id: str = Field(default="newsflow-sink", min_length=1)
    enriched_topic: str = ENRICHED.name
    deadletter_topic: str = DEADLETTER.name

    @field_validator("store_url")
    @classmethod
    def _known_scheme(cls, url: str) -> str:
        from .stores import check_url

        check_url(url)
        return url
