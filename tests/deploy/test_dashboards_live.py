"""Every Grafana panel shows real data: the whole pipeline (every service the `newsflow`
command runs) on the real broker, a real Prometheus (Debian's package) with the local scrape
config (deploy/prometheus/prometheus.local.yml, moved to the test's ports) and the rules
loaded, the seed articles plus a few hundred generated ones dropped into the inbox (with
exact copies, a malformed file and a malformed record per stage), and then every query of
every dashboard evaluated over the run. Also: every scrape target is up, every rule
evaluates, every recording rule has data.

Prometheus must be installed (`apt-get install prometheus`; .ci/run does it)."""

from __future__ import annotations

import json
import random
import shutil
import subprocess
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
import yaml

from newsflow.cli.main import SERVICES
from newsflow.runtime import kafka as newsflow_kafka
from tests.support.dashboards import REPO, queries
from tests.support.helpers import ServiceProcess, pipeline_env, pipeline_topics, wait_for
from tests.support.local import free_port

pytestmark = pytest.mark.kafka

SEEDS = REPO.parent / "shared/data/seeds"
LOCAL_CONFIG = REPO / "deploy/prometheus/prometheus.local.yml"
GENERATED_ARTICLES = 300
EXACT_COPIES = 20
SCRAPE_SECONDS = 1
# What Grafana would put in the dashboards' variables, for the whole run.
VARIABLES = {"$__rate_interval": "20s", "$__interval": "2s", "$service": ".*"}

PEOPLE = ["Angela Merkel", "Mike Pompeo", "Emmanuel Macron", "Jacinda Ardern", "Nicolas Maduro"]
ORGANISATIONS = ["the United Nations", "NATO", "the World Health Organization", "Reuters"]
PLACES = ["Berlin", "Caracas", "Geneva", "Wellington", "Paris", "Moscow", "Nairobi"]
TOPICS = ["fishing quotas", "a new trade agreement", "vaccine supplies", "border controls"]


def generated_article(number: int, rng: random.Random) -> str:
    person, organisation, place = rng.choice(PEOPLE), rng.choice(ORGANISATIONS), rng.choice(PLACES)
    subject = rng.choice(TOPICS)
    title = f"{person} talks about {subject} in {place} (report {number})"
    body = " ".join(
        [
            f"{person} met officials of {organisation} in {place} on Tuesday to discuss {subject}.",
            f"The talks, the {number}th this year, ended without a joint statement.",
            f"Officials in {rng.choice(PLACES)} said {organisation} would meet again next month.",
            f"Analysts said the {subject} question could take years, citing case {number * 7919}.",
        ]
    )
    return f"{title}\n\n{body}\n"


def http_json(url: str, params: dict[str, str] | None = None) -> dict:
    if params:
        url += "?" + urllib.parse.urlencode(params)
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            return json.loads(response.read())
    except urllib.error.HTTPError as error:
        return json.loads(error.read() or b"{}") | {"http_status": error.code}


def local_config(service_ports: dict[str, int], prometheus_port: int) -> dict:
    """deploy/prometheus/prometheus.local.yml (what `make up OBSERVE=1` runs) with the
    test's ports: each target keeps its job and labels and moves to the port its service or
    Prometheus listens on here. Scrapes and rule evaluations every second, so a short run
    has enough points for rate()."""
    config = yaml.safe_load(LOCAL_CONFIG.read_text(encoding="utf-8"))
    config["global"]["scrape_interval"] = f"{SCRAPE_SECONDS}s"
    config["global"]["evaluation_interval"] = f"{SCRAPE_SECONDS}s"
    config["rule_files"] = [str(LOCAL_CONFIG.parent / rules) for rules in config["rule_files"]]
    configured = set()
    for job in config["scrape_configs"]:
        job.pop("file_sd_configs", None)  # the further instances `make up` started
        for group in job["static_configs"]:
            service = group.get("labels", {}).get("service")
            if job["job_name"] == "prometheus":
                port = prometheus_port
            else:
                assert service in service_ports, (
                    f"{LOCAL_CONFIG.name}: job {job['job_name']} scrapes {group['targets']} "
                    f"with service={service!r}, not one of {sorted(service_ports)}"
                )
                configured.add(service)
                port = service_ports[service]
            group["targets"] = [f"127.0.0.1:{port}" for _ in group["targets"]]
    missing = set(service_ports) - configured
    assert not missing, f"{LOCAL_CONFIG.name} does not scrape {sorted(missing)}"
    return config


class Prometheus:
    """A real Prometheus (Debian's package) with the local scrape config, rules loaded."""

    def __init__(self, service_ports: dict[str, int], home: Path) -> None:
        binary = shutil.which("prometheus")
        if binary is None:
            pytest.fail(
                "prometheus is not installed: `apt-get install prometheus` (Debian's package; "
                ".ci/run installs it)"
            )
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = local_config(service_ports, self.port)
        (home / "prometheus.yml").write_text(yaml.safe_dump(config))
        self.log = home / "prometheus.log"
        self.process = subprocess.Popen(
            [
                binary,
                f"--config.file={home / 'prometheus.yml'}",
                f"--storage.tsdb.path={home / 'tsdb'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
            ],
            stdout=self.log.open("wb"),
            stderr=subprocess.STDOUT,
        )
        wait_for(self.ready, 60, f"Prometheus to be ready (log: {self.log})", every=0.5)

    def ready(self) -> bool:
        if self.process.poll() is not None:
            raise AssertionError(f"prometheus exited:\n{self.log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(f"{self.url}/-/ready", timeout=2) as response:
                return response.status == 200
        except OSError:
            return False

    def query(self, expr: str) -> list[dict]:
        answer = http_json(f"{self.url}/api/v1/query", {"query": expr})
        assert answer.get("status") == "success", f"{expr}: {answer}"
        return answer["data"]["result"]

    def query_range(self, expr: str, start: float, end: float) -> dict:
        return http_json(
            f"{self.url}/api/v1/query_range",
            {"query": expr, "start": f"{start:.3f}", "end": f"{end:.3f}", "step": "2"},
        )

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()


def has_numbers(answer: dict) -> bool:
    return any(
        value not in ("NaN", "+Inf", "-Inf")
        for series in answer["data"]["result"]
        for _, value in series["values"]
    )


def concrete(expr: str) -> str:
    for variable, value in VARIABLES.items():
        expr = expr.replace(variable, value)
    return expr


@pytest.fixture
def pipeline(request, kafka_bootstrap, kafka_admin, unique_name):
    """Every service on its own topics, group, state and port; yields (root, services,
    topics). The services' logs stay in root when the test fails."""
    failures_before = request.session.testsfailed
    root = Path(tempfile.mkdtemp(prefix="newsflow-test-pipeline-"))
    prefix = unique_name("obs")
    topics = pipeline_topics(kafka_admin, prefix)
    env = pipeline_env(root, kafka_bootstrap, prefix, topics, SERVICES)
    processes = {
        service: ServiceProcess(service, env, root / f"{service}.log") for service in SERVICES
    }
    try:
        for process in processes.values():
            process.start(wait_ready=False)
        for process in processes.values():
            wait_for(process.ready, 120, f"{process.service} to be ready ({process.log_path})")
        yield root, processes, topics
    finally:
        for process in processes.values():
            process.kill()
        kafka_admin.delete_topics([topic.name for topic in topics.values()])
        if request.session.testsfailed == failures_before:
            shutil.rmtree(root, ignore_errors=True)


def drop_articles(inbox: Path) -> int:
    """The seed articles, generated articles, exact copies and a malformed file. Returns
    how many files."""
    seeds = sorted(SEEDS.glob("*.txt"))
    if not seeds:
        pytest.fail(f"no seed articles in {SEEDS} (kept beside the repository, in ../shared)")
    rng = random.Random(8)
    files = 0
    for seed in seeds:
        shutil.copy(seed, inbox / seed.name)
        files += 1
    texts = [generated_article(number, rng) for number in range(GENERATED_ARTICLES)]
    texts += rng.sample(texts, EXACT_COPIES)  # same content, other file names
    for number, text in enumerate(texts):
        # Written under a temporary name and renamed, as a well-behaved producer does.
        part = inbox / f".article-{number:04d}.txt.part"
        part.write_text(text, encoding="utf-8")
        part.rename(inbox / f"article-{number:04d}.txt")
        files += 1
    (inbox / "broken.json").write_text('{"title": "half a record", "body": ', encoding="utf-8")
    return files + 1


def send_malformed_records(settings, topics: dict) -> None:
    """One record per stage's input that no stage can decode: each dead-letters it."""
    producer = newsflow_kafka.producer(settings)
    for name in ("articles.raw", "articles.deduped", "articles.tagged", "articles.enriched"):
        producer.send(topics[name].name, key=b"malformed", value=b"{not json")
    producer.flush()
    producer.close()


LAG = "newsflow_consumer_lag_records"


def idle(root: Path, processes: dict[str, ServiceProcess], files: int) -> bool:
    """Every file sent or rejected, every malformed record dead-lettered, and every consumer
    group has read everything."""
    watcher = processes["watcher"]
    done = watcher.metric("newsflow_watcher_files_sent_total") + sum(
        watcher.metric("newsflow_watcher_files_failed_total", f'reason="{reason}"')
        for reason in ("invalid_json", "empty_file", "missing_body")
    )
    if done < files or any((root / "inbox").iterdir()):
        return False
    for service, process in processes.items():
        if service == "watcher":
            continue
        _, text = process.http("/metrics")
        samples = {
            name: float(value)
            for name, _, value in (line.rpartition(" ") for line in text.splitlines())
            if name and not name.startswith("#")
        }
        # The malformed record sent to each stage's input: counted once it is dead-lettered.
        if (
            samples.get(f'newsflow_{service}_dead_letters_total{{reason="malformed_record"}}', 0)
            < 1
        ):
            return False
        lags = [v for name, v in samples.items() if name.startswith(LAG + "{")]
        if not lags or sum(lags) > 0:
            return False
    return True


def targets_not_up(prometheus: Prometheus) -> list[str]:
    """Every target of the scrape config that is not up (or never scraped), with why."""
    answer = http_json(f"{prometheus.url}/api/v1/targets")
    return [
        f"{target['labels'].get('job')}/{target['labels'].get('service', '-')} "
        f"{target['scrapeUrl']}: {target.get('health')} {target.get('lastError', '')}".rstrip()
        for target in answer["data"]["activeTargets"]
        if target.get("health") != "up"
    ]


def rules(prometheus: Prometheus) -> list[dict]:
    answer = http_json(f"{prometheus.url}/api/v1/rules")
    return [rule for group in answer["data"]["groups"] for rule in group["rules"]]


@pytest.mark.timeout(600)
def test_every_panel_shows_data_while_the_pipeline_runs(pipeline, kafka_settings):
    root, processes, topics = pipeline
    home = Path(tempfile.mkdtemp(prefix="newsflow-test-prometheus-"))
    prometheus = Prometheus({s: p.port for s, p in processes.items()}, home)
    try:
        started = time.time()
        # Prometheus starts scraping a few seconds after it is ready; counters must be seen
        # at zero before anything happens, or their first increase is invisible to rate().
        wait_for(
            lambda: len(prometheus.query('up{job="newsflow"} == 1')) == len(SERVICES),
            60,
            "Prometheus to scrape every service",
            every=0.5,
        )
        time.sleep(3 * SCRAPE_SECONDS)
        files = drop_articles(root / "inbox")
        send_malformed_records(kafka_settings, topics)
        wait_for(
            lambda: idle(root, processes, files),
            300,
            f"the pipeline to take in {files} files and catch up (logs in {root})",
            every=1,
        )
        time.sleep(5 * SCRAPE_SECONDS)  # the last readings scraped, the rules evaluated
        finished = time.time()

        assert not targets_not_up(prometheus), f"targets not up: {targets_not_up(prometheus)}"
        scraped = {s["metric"]["service"] for s in prometheus.query('up{job="newsflow"} == 1')}
        assert scraped == set(SERVICES), f"scraped and up: {sorted(scraped)}"

        empty = []
        for query in queries():
            answer = prometheus.query_range(concrete(query.expr), started, finished)
            if answer.get("status") != "success":
                empty.append(f"{query}: query failed: {answer.get('error')}")
            elif not has_numbers(answer):
                empty.append(f"{query}: no data\n    {concrete(query.expr)}")
        assert not empty, f"{len(empty)} panel queries show no data:\n" + "\n".join(empty)

        # The rules the alerts stand on evaluate without error, and every recording rule
        # has data (the alerts read them).
        loaded = rules(prometheus)
        assert {r["type"] for r in loaded} == {"recording", "alerting"}, loaded
        broken = [f"{r['name']}: {r.get('lastError')}" for r in loaded if r["health"] != "ok"]
        assert not broken, f"rules failing to evaluate: {broken}"
        # A rule's first numbers may come a few evaluations after the panels' (Prometheus
        # evaluates rule groups on its own schedule, later still on a busy machine).
        deadline = time.monotonic() + 60
        while True:
            silent = [
                r["name"]
                for r in loaded
                if r["type"] == "recording"
                and not has_numbers(prometheus.query_range(r["name"], started, time.time()))
            ]
            if not silent or time.monotonic() > deadline:
                break
            time.sleep(2)
        assert not silent, f"recording rules without data after 60 s: {silent}"
    finally:
        prometheus.stop()
        shutil.rmtree(home, ignore_errors=True)
