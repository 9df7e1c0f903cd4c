"""The service runtime as an operator sees it: real HTTP on a real port."""

import json
import signal
import socket
import time
import urllib.error
import urllib.request

import pytest
from prometheus_client import CollectorRegistry, Counter

from newsflow.runtime.service import Health, PortInUseError, StatusServer, StopRequest


def get(port: int, path: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


@pytest.fixture
def served():
    registry = CollectorRegistry()
    counter = Counter("newsflow_example_records_in_total", "Records read.", registry=registry)
    health = Health(stall_after_seconds=60)
    with StatusServer("127.0.0.1", 0, health, registry) as server:
        yield server.port, health, counter


def test_metrics_are_served_in_prometheus_text_format(served):
    port, _, counter = served
    counter.inc(3)
    status, body = get(port, "/metrics")
    assert status == 200
    assert "newsflow_example_records_in_total 3.0" in body


def test_ready_only_once_the_service_says_so(served):
    port, health, _ = served
    status, body = get(port, "/readyz")
    assert status == 503 and json.loads(body)["detail"] == "starting"
    health.set_ready()
    assert get(port, "/readyz")[0] == 200
    health.set_not_ready("broker unreachable")
    status, body = get(port, "/readyz")
    assert status == 503 and json.loads(body)["detail"] == "broker unreachable"


def test_live_while_the_loop_beats(served):
    assert get(served[0], "/healthz")[0] == 200


def test_a_stalled_loop_fails_liveness():
    health = Health(stall_after_seconds=0)
    with StatusServer("127.0.0.1", 0, health, CollectorRegistry()) as server:
        status, body = get(server.port, "/healthz")
    assert status == 503 and "silent" in json.loads(body)["detail"]


def test_unknown_paths_say_where_to_look(served):
    status, body = get(served[0], "/status")
    assert status == 404 and "/metrics" in body


def test_the_status_port_listens_only_on_the_configured_address():
    """NEWSFLOW_<SERVICE>_METRICS_HOST: loopback by default, 0.0.0.0 in a pod."""
    with StatusServer("127.0.0.2", 0, Health(), CollectorRegistry()) as server:
        url = f"http://127.0.0.2:{server.port}/healthz"
        with urllib.request.urlopen(url, timeout=5) as response:
            assert response.status == 200
        with socket.socket() as elsewhere, pytest.raises(ConnectionRefusedError):
            elsewhere.connect(("127.0.0.1", server.port))


def test_a_port_in_use_gives_a_clear_error():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(PortInUseError, match=f"port {port} .* already in use"):
            StatusServer("127.0.0.1", port, Health(), CollectorRegistry())


def test_a_signal_during_a_wait_ends_it_promptly():
    # The handler runs on the thread that is waiting: with a threading.Event this deadlocked.
    stopping = StopRequest()
    previous = signal.signal(signal.SIGALRM, lambda *_: stopping.set())
    try:
        signal.setitimer(signal.ITIMER_REAL, 0.2)
        started = time.monotonic()
        assert stopping.wait(10)
        assert time.monotonic() - started < 2
    finally:
        signal.signal(signal.SIGALRM, previous)
