"""schemas/ is what consumers in other languages build on: it must match the models, and
records the services write must validate against it with a real JSON Schema validator."""

import json
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from newsflow.core import records, schemas, topics
from tests.support.examples import dead_letter, enriched_article, raw_article

SCHEMAS = Path(__file__).resolve().parents[2] / "schemas"


def validator_for(topic: topics.Topic) -> Draft202012Validator:
    schema = json.loads((SCHEMAS / schemas.file_name(topic)).read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)


def test_committed_schemas_match_the_models():
    assert schemas.stale(SCHEMAS) == [], "schemas/ is out of date: run `make schemas`"


def test_every_topic_has_exactly_one_schema_file():
    on_disk = sorted(p.name for p in SCHEMAS.glob("*.json"))
    assert on_disk == sorted(schemas.file_name(t) for t in topics.ALL)


@pytest.mark.parametrize(
    ("topic", "example"),
    [
        (topics.RAW, raw_article),
        (topics.ENRICHED, enriched_article),
        (topics.DEADLETTER, dead_letter),
    ],
)
def test_example_records_validate_against_their_topic_schema(topic, example):
    wire = json.loads(records.encode(example()))
    errors = [e.message for e in validator_for(topic).iter_errors(wire)]
    assert errors == []


def test_a_raw_article_is_not_a_valid_enriched_record():
    wire = json.loads(records.encode(raw_article()))
    errors = {e.message for e in validator_for(topics.ENRICHED).iter_errors(wire)}
    assert "'stance' is a required property" in errors


def test_schema_rejects_an_unknown_dead_letter_reason():
    wire = json.loads(records.encode(dead_letter()))
    wire["reason"] = "cosmic_rays"
    assert not validator_for(topics.DEADLETTER).is_valid(wire)


def test_schema_rejects_a_malformed_article_id():
    wire = json.loads(records.encode(raw_article()))
    wire["article_id"] = "not-a-hash"
    assert not validator_for(topics.RAW).is_valid(wire)
