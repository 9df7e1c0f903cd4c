"""The watcher's settings, read once at start from `NEWSFLOW_WATCHER_*` variables."""

from pathlib import Path

from pydantic import Field, model_validator
from pydantic_settings import SettingsConfigDict

from newsflow.core.settings import ServiceSettings
from newsflow.core.topics import DEADLETTER, RAW


class WatcherSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="NEWSFLOW_WATCHER_")
    service_name = "watcher"

    metrics_port: int = Field(default=9101, ge=0, le=65535)
    inbox: Path = Field(default=Path("inbox"), description="The folder people drop files into.")
    processed_dir: Path = Field(
        default=Path("data/processed"), description="Sent files, by date (YYYY-MM-DD/)."
    )
    failed_dir: Path = Field(
        default=Path("data/failed"), description="Rejected files, each with <name>.error.json."
    )
    state_dir: Path = Field(
        default=Path("data/state/watcher"), description="The ledger of files already sent."
    )
    settle_seconds: float = Field(
        default=1.0, ge=0, description="A file is read only once unchanged for this long."
    )
    max_file_bytes: int = Field(default=10 * 1024 * 1024, gt=0)
    force_polling: bool = Field(
        default=False, description="Poll the inbox instead of inotify (network file systems)."
    )
    rescan_seconds: float = Field(
        default=30.0, gt=0, description="A full rescan catches any event the OS dropped."
    )
    max_files_in_flight: int = Field(
        default=2000, gt=0, description="Files read but not yet acknowledged, at most."
    )
    max_folder_depth: int = Field(
        default=32,
        ge=1,
        le=256,
        description="Folders nested deeper in the inbox are quarantined whole, never walked.",
    )
    parser_processes: int = Field(
        default=2, ge=1, le=64, description="Processes that parse files, side by side."
    )
    parse_seconds_per_file: float = Field(
        default=10.0,
        gt=0,
        description="A file whose parsing takes longer is stopped and quarantined (too_slow).",
    )
    max_articles_per_file: int = Field(
        default=10_000,
        ge=1,
        description="A file holding more articles (a JSON array or lines) is rejected whole.",
    )
    raw_topic: str = RAW.name
    deadletter_topic: str = DEADLETTER.name

    @model_validator(mode="after")
    def _folders_apart(self) -> "WatcherSettings":
        # A processed or failed folder inside the inbox would be watched and re-read forever.
        inbox = self.inbox.resolve()
        for name in ("processed_dir", "failed_dir", "state_dir"):
            folder = getattr(self, name).resolve()
            if folder == inbox or folder.is_relative_to(inbox):
                raise ValueError(
                    f"NEWSFLOW_WATCHER_{name.upper()}={folder} must not be inside the inbox {inbox}"
                )
        return self
