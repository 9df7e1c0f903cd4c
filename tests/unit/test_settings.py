"""Settings: read from the environment once, and a bad value names its variable."""

import pytest
from pydantic import Field
from pydantic_settings import SettingsConfigDict

from newsflow.core.settings import KafkaSettings, ServiceSettings, SettingsError, load


class ExampleSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="NEWSFLOW_EXAMPLE_")
    service_name = "example"
    metrics_port: int = Field(default=9199, ge=0, le=65535)


def test_values_come_from_the_service_prefix(monkeypatch):
    monkeypatch.setenv("NEWSFLOW_EXAMPLE_METRICS_PORT", "9300")
    monkeypatch.setenv("NEWSFLOW_KAFKA_BOOTSTRAP_SERVERS", "broker-1:9092,broker-2:9092")
    settings = load(ExampleSettings)
    assert settings.metrics_port == 9300
    assert settings.kafka.kafka_python()["bootstrap_servers"] == ["broker-1:9092", "broker-2:9092"]


def test_a_bad_value_names_the_variable(monkeypatch):
    monkeypatch.setenv("NEWSFLOW_EXAMPLE_METRICS_PORT", "ninety")
    with pytest.raises(SettingsError, match=r"NEWSFLOW_EXAMPLE_METRICS_PORT.*'ninety'"):
        load(ExampleSettings)


def test_a_bad_kafka_value_names_the_kafka_variable(monkeypatch):
    monkeypatch.setenv("NEWSFLOW_KAFKA_SECURITY_PROTOCOL", "CARRIER_PIGEON")
    with pytest.raises(SettingsError, match="NEWSFLOW_KAFKA_SECURITY_PROTOCOL"):
        load(ExampleSettings)


def test_a_password_never_appears_in_errors_or_reprs(monkeypatch):
    monkeypatch.setenv("NEWSFLOW_KAFKA_SECURITY_PROTOCOL", "SASL_SSL")
    monkeypatch.setenv("NEWSFLOW_KAFKA_SASL_USERNAME", "newsflow")
    monkeypatch.setenv("NEWSFLOW_KAFKA_SASL_PASSWORD", "hunter2")
    monkeypatch.setenv("NEWSFLOW_KAFKA_SASL_MECHANISM", "SCRAM-SHA-1")
    with pytest.raises(SettingsError) as error:
        load(ExampleSettings)
    assert "NEWSFLOW_KAFKA_SASL_MECHANISM" in str(error.value)
    assert "hunter2" not in str(error.value)
    monkeypatch.setenv("NEWSFLOW_KAFKA_SASL_MECHANISM", "SCRAM-SHA-512")
    settings = load(KafkaSettings)
    assert "hunter2" not in repr(settings)
    assert settings.kafka_python()["sasl_plain_password"] == "hunter2"


def test_sasl_without_its_credentials_names_what_is_missing(monkeypatch):
    monkeypatch.setenv("NEWSFLOW_KAFKA_SECURITY_PROTOCOL", "SASL_SSL")
    monkeypatch.setenv("NEWSFLOW_KAFKA_SASL_MECHANISM", "SCRAM-SHA-512")
    monkeypatch.setenv("NEWSFLOW_KAFKA_SASL_USERNAME", "newsflow")
    with pytest.raises(SettingsError) as error:
        load(ExampleSettings)
    assert str(error.value) == (
        "invalid settings: NEWSFLOW_KAFKA_SECURITY_PROTOCOL=SASL_SSL needs "
        "NEWSFLOW_KAFKA_SASL_PASSWORD"
    )


def test_a_sasl_mechanism_without_a_sasl_protocol_is_refused(monkeypatch):
    monkeypatch.setenv("NEWSFLOW_KAFKA_SECURITY_PROTOCOL", "SSL")
    monkeypatch.setenv("NEWSFLOW_KAFKA_SASL_MECHANISM", "SCRAM-SHA-512")
    with pytest.raises(SettingsError, match="SASL_MECHANISM=SCRAM-SHA-512 is set but"):
        load(ExampleSettings)


def test_explicit_arguments_win_over_the_environment(monkeypatch):
    monkeypatch.setenv("NEWSFLOW_EXAMPLE_METRICS_PORT", "9300")
    assert load(ExampleSettings, metrics_port=9400).metrics_port == 9400
