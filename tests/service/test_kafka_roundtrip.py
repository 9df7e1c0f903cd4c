"""A record written by the kafka-python side (watcher, sink) is read intact by aiokafka, the
client Faust's workers use, and matches the published schema."""

import asyncio
import json
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer
from jsonschema import Draft202012Validator

from newsflow.core import records, schemas, topics
from newsflow.runtime import kafka as newsflow_kafka
from tests.support.examples import raw_article

pytestmark = pytest.mark.kafka

SCHEMA_DIR = Path(__file__).resolve().parents[2] / "schemas"


async def consume_one(bootstrap: str, topic: str, group: str):
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, group_id=group, auto_offset_reset="earliest"
    )
    await consumer.start()
    try:
        return await asyncio.wait_for(consumer.getone(), timeout=30)
    finally:
        await consumer.stop()


def test_article_round_trip_kafka_python_to_aiokafka(
    kafka_settings, kafka_bootstrap, new_topic, consumer_group
):
    topic = new_topic("raw")
    article = raw_article()
    producer = newsflow_kafka.producer(kafka_settings)
    try:
        metadata = producer.send(
            topic, key=article.article_id.encode(), value=records.encode(article)
        ).get(timeout=30)
    finally:
        producer.close()

    message = asyncio.run(consume_one(kafka_bootstrap, topic, consumer_group))

    assert (message.partition, message.offset) == (metadata.partition, metadata.offset)
    assert message.key.decode() == article.article_id
    schema = json.loads((SCHEMA_DIR / schemas.file_name(topics.RAW)).read_text())
    Draft202012Validator(schema).validate(json.loads(message.value))
    assert records.decode(records.RawArticle, message.value) == article
