"""The sink restarts itself in place when records wait on its partitions (or on partitions
no instance holds) and it has stored nothing for `stall_seconds`; waiting on purpose for the
store is not a stall. The decision alone, without a broker or a store."""

import time

import pytest
from kafka import TopicPartition

from newsflow.runtime.service import Health, Runtime, StopRequest
from newsflow.sink import service as sink_service
from newsflow.sink.settings import SinkSettings

ENRICHED = [TopicPartition("articles.enriched", n) for n in range(2)]


class Lag:
    interval = 5.0

    def __init__(self, waiting, unheld=()):
        self.waiting, self.unheld = waiting, set(unheld)

    def fresh_reading(self, max_age_seconds):
        return dict(self.waiting), set(self.unheld)


class Consumer:
    def __init__(self, assigned):
        self.assigned = set(assigned)

    def assignment(self):
        return self.assigned

    def pause(self, *partitions):
        pass

    def poll(self, timeout_ms):
        time.sleep(timeout_ms / 1000)
        return {}


@pytest.fixture
def restarts(monkeypatch):
    why = []
    monkeypatch.setattr(sink_service, "restart_in_place", why.append)
    return why


def sink(tmp_path, lag, assigned):
    settings = SinkSettings(store_url=f"sqlite:///{tmp_path}/store.db", stall_seconds=0.5)
    runtime = Runtime(health=Health(), stopping=StopRequest(), status_port=0, lag=lag)
    result = sink_service.Sink(settings, runtime)
    result.consumer = Consumer(assigned)
    result.stall.progressed()  # the period starts now, whatever opening the store took
    return result


def test_records_waiting_on_a_partition_nobody_holds_with_nothing_stored_restart_it(
    tmp_path, restarts
):
    # Out of its group: it still believes it holds ENRICHED[0], the group holds nothing.
    stuck = sink(tmp_path, Lag({ENRICHED[0]: 3, ENRICHED[1]: 5}, unheld=ENRICHED), [ENRICHED[0]])
    stuck._restart_if_stalled()
    assert restarts == []
    time.sleep(0.6)
    stuck._restart_if_stalled()
    assert len(restarts) == 1 and restarts[0].startswith("sink stalled: 8 records wait")


def test_records_waiting_on_another_instances_partitions_are_not_its_stall(tmp_path, restarts):
    fine = sink(tmp_path, Lag({ENRICHED[1]: 5}), [ENRICHED[0]])
    time.sleep(0.6)
    fine._restart_if_stalled()
    assert restarts == []


def test_waiting_for_the_store_to_come_back_is_not_a_stall(tmp_path, restarts):
    waiting = sink(tmp_path, Lag({ENRICHED[0]: 3}), [ENRICHED[0]])
    waiting._wait_paused(0.7)  # what the sink does between two attempts at the store
    waiting._restart_if_stalled()
    assert restarts == []
