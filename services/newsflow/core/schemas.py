"""JSON Schemas of the topics' records, generated from the pydantic models.

`schemas/<topic>.v<version>.json` is what consumers in other languages build on; a test
fails when the committed files and the models drift apart.
"""

import json
from pathlib import Path
from typing import Any

from newsflow.core.records import SCHEMA_VERSION
from newsflow.core.topics import ALL, Topic

DIALECT = "https://json-schema.org/draft/2020-12/schema"


def file_name(topic: Topic) -> str:
    return f"{topic.name}.v{SCHEMA_VERSION}.json"


def json_schema(topic: Topic) -> dict[str, Any]:
    schema = topic.record.model_json_schema(mode="serialization")
    return {
        "$schema": DIALECT,
        "$id": f"urn:newsflow:schema:{topic.name}:v{SCHEMA_VERSION}",
        "title": f"{topic.name} record (v{SCHEMA_VERSION})",
        "description": topic.description,
        **{key: value for key, value in schema.items() if key not in ("title", "description")},
    }


def render(topic: Topic) -> str:
    """The exact text of a schema file: stable key order, trailing newline, diff-friendly."""
    return json.dumps(json_schema(topic), indent=2, ensure_ascii=False) + "\n"


def write_all(directory: Path) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for topic in ALL:
        path = directory / file_name(topic)
        path.write_text(render(topic), encoding="utf-8")
        written.append(path)
    return written


def stale(directory: Path) -> list[str]:
    """Names of schema files that are missing or differ from what the models generate."""
    return [
        file_name(topic)
        for topic in ALL
        if not (directory / file_name(topic)).is_file()
        or (directory / file_name(topic)).read_text(encoding="utf-8") != render(topic)
    ]
