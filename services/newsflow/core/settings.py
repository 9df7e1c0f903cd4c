"""Settings read once at a service's start from environment variables (and `.env`).

Each service has its own class with its own prefix (`NEWSFLOW_WATCHER_…`); every service
shares the Kafka connection settings (`NEWSFLOW_KAFKA_…`). A bad value stops the service at
start with a message naming the variable, never deep inside the code later.
"""

from pathlib import Path
from typing import Any, ClassVar, Literal, TypeVar

from pydantic import Field, SecretStr, ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from newsflow.core.redaction import redacted

ENV_FILE = ".env"


class SettingsError(Exception):
    """A setting is missing or invalid; the message names the environment variable."""


class KafkaSettings(BaseSettings):
    """How every client reaches the brokers. SASL and TLS options are used when configured."""

    model_config = SettingsConfigDict(
        env_prefix="NEWSFLOW_KAFKA_", env_file=ENV_FILE, extra="ignore", frozen=True
    )

    bootstrap_servers: str = "127.0.0.1:9092"
    client_id: str = "newsflow"
    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = None
    sasl_username: str | None = None
    sasl_password: SecretStr | None = None
    ssl_cafile: Path | None = None
    ssl_certfile: Path | None = None
    ssl_keyfile: Path | None = None

    @model_validator(mode="after")
    def _sasl_complete(self) -> "KafkaSettings":
        # Caught here rather than as a refused login (or a silently unauthenticated one).
        uses_sasl = self.security_protocol.startswith("SASL_")
        if uses_sasl:
            missing = [
                f"NEWSFLOW_KAFKA_{name.upper()}"
                for name in ("sasl_mechanism", "sasl_username", "sasl_password")
                if not getattr(self, name)
            ]
            if missing:
                raise ValueError(
                    f"NEWSFLOW_KAFKA_SECURITY_PROTOCOL={self.security_protocol} needs "
                    + ", ".join(missing)
                )
        elif self.sasl_mechanism:
            raise ValueError(
                f"NEWSFLOW_KAFKA_SASL_MECHANISM={self.sasl_mechanism} is set but "
                f"NEWSFLOW_KAFKA_SECURITY_PROTOCOL={self.security_protocol} does not use SASL "
                "(SASL_SSL or SASL_PLAINTEXT does)"
            )
        return self

    def kafka_python(self) -> dict[str, Any]:
        """Connection arguments for kafka-python clients (producer, consumer, admin)."""
        config: dict[str, Any] = {
            "bootstrap_servers": self.bootstrap_servers.split(","),
            "client_id": self.client_id,
            "security_protocol": self.security_protocol,
        }
        if self.sasl_mechanism:
            config["sasl_mechanism"] = self.sasl_mechanism
            config["sasl_plain_username"] = self.sasl_username
            config["sasl_plain_password"] = (
                self.sasl_password.get_secret_value() if self.sasl_password else None
            )
        for name in ("ssl_cafile", "ssl_certfile", "ssl_keyfile"):
            if getattr(self, name):
                config[name] = str(getattr(self, name))
        return config


class ServiceSettings(BaseSettings):
    """What every service has: where it serves metrics and health, how it logs and drains."""

    model_config = SettingsConfigDict(env_file=ENV_FILE, extra="ignore", frozen=True)
    service_name: ClassVar[str]

    metrics_host: str = Field(
        default="127.0.0.1", description="Address of /metrics, /healthz and /readyz."
    )
    metrics_port: int = Field(ge=0, le=65535)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    drain_timeout_seconds: float = Field(
        default=30.0, gt=0, description="How long SIGTERM waits for in-flight work."
    )
    kafka: KafkaSettings = Field(default_factory=KafkaSettings)


S = TypeVar("S", bound=BaseSettings)


def load(settings_class: type[S], **overrides: Any) -> S:
    """Read a settings class once, turning validation errors into one readable message.

    Explicit arguments win over the environment (tests and tools pass them).
    """
    try:
        return settings_class(**overrides)
    except ValidationError as error:
        # Nested settings (the Kafka ones) fail with their own class's name and prefix.
        failed_class = next(
            (cls for cls in (settings_class, KafkaSettings) if cls.__name__ == error.title),
            settings_class,
        )
        prefix = failed_class.model_config.get("env_prefix", "")
        problems = []
        for problem in error.errors():
            if not problem["loc"]:  # a check across fields: its message names them
                problems.append(problem["msg"].removeprefix("Value error, "))
                continue
            variable = prefix + "_".join(str(part) for part in problem["loc"]).upper()
            given = problem.get("input")
            secret = "PASSWORD" in variable or isinstance(given, dict)
            shown = "" if secret else f" (got {given!r})"
            problems.append(f"{variable}: {problem['msg']}{shown}")
        # A mistyped URL is shown back whole, so its password must not come with it.
        raise SettingsError(redacted("invalid settings: " + "; ".join(problems))) from None
