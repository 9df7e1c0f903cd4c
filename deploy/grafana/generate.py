"""Writes the Grafana dashboards in deploy/grafana/dashboards/ (run it after editing here):

    python3 deploy/grafana/generate.py

One overview of the pipeline and one dashboard per service. Every panel is declared once
below with its PromQL, its unit and a description an operator can act on; layout, ids,
datasource and styling come from the helpers. Standard library only.
"""

from __future__ import annotations

import json
from pathlib import Path

DASHBOARDS = Path(__file__).resolve().parent / "dashboards"
DATASOURCE = {"type": "prometheus", "uid": "newsflow-prometheus"}
RATE = "$__rate_interval"
# Metric-name patterns shared by every stage (see newsflow.runtime.batches.StageMetrics).
RECORDS_IN = '__name__=~"newsflow_[a-z]+_records_in_total"'
RECORDS_OUT = '__name__=~"newsflow_[a-z]+_records_out_total"'
DEAD_LETTERS = '__name__=~"newsflow_[a-z]+_dead_letters_total"'
STAGE_ERRORS = '__name__=~"newsflow_[a-z]+_errors_total"'


def target(expr: str, legend: str = "", ref: str = "A") -> dict:
    return {
        "datasource": DATASOURCE,
        "expr": expr,
        "legendFormat": legend,
        "range": True,
        "refId": ref,
    }


def panel(kind: str, title: str, description: str, unit: str, queries, **options) -> dict:
    """`queries`: (expr, legend) pairs."""
    defaults = {"unit": unit, "color": {"mode": "palette-classic"}}
    if kind == "timeseries":
        defaults["custom"] = {
            "drawStyle": "line",
            "lineWidth": 1,
            "fillOpacity": 10,
            "showPoints": "never",
            "spanNulls": False,
        }
        defaults["min"] = 0
    defaults.update(options.pop("defaults", {}))
    result = {
        "type": kind,
        "title": title,
        "description": description,
        "datasource": DATASOURCE,
        "width": options.pop("width", 12),
        "height": options.pop("height", 8),
        "fieldConfig": {"defaults": defaults, "overrides": []},
        "targets": [
            target(expr, legend, chr(ord("A") + n)) for n, (expr, legend) in enumerate(queries)
        ],
    }
    if kind == "timeseries":
        result["options"] = {
            "legend": {"displayMode": "list", "placement": "bottom", "showLegend": True},
            "tooltip": {"mode": "multi", "sort": "desc"},
        }
    else:
        result["options"] = {
            "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
            "colorMode": "value",
            "graphMode": "area",
            "justifyMode": "auto",
            "orientation": "auto",
            "textMode": "value_and_name",
        }
    result.update(options)
    return result


def timeseries(title, description, unit, queries, **options) -> dict:
    return panel("timeseries", title, description, unit, queries, **options)


def stat(title, description, unit, queries, **options) -> dict:
    return panel("stat", title, description, unit, queries, **options)


def row(title: str) -> dict:
    return {"type": "row", "title": title, "collapsed": False, "panels": [], "width": 24}


def quantiles(histogram: str, selector: str, by: str = "") -> list[tuple[str, str]]:
    """p50, p95 and p99 of a histogram (summed over instances, optionally kept apart by)."""
    labels = f"{by}, le" if by else "le"
    prefix = f"{{{{{by}}}}} " if by else ""
    return [
        (
            f"histogram_quantile({q}, sum by ({labels}) "
            f"(rate({histogram}_bucket{{{selector}}}[{RATE}])))",
            f"{prefix}p{int(q * 100)}",
        )
        for q in (0.5, 0.95, 0.99)
    ]


def dashboard(uid: str, title: str, description: str, panels: list[dict], variables=()) -> dict:
    """Lays the panels out left to right, top to bottom, and numbers them."""
    x = y = row_height = 0
    laid_out = []
    for number, item in enumerate(panels, start=1):
        width, height = item.pop("width"), item.pop("height", 1)
        if item["type"] == "row":
            height = 1
        if x + width > 24:
            x, y, row_height = 0, y + row_height, 0
        item = {"id": number, **item, "gridPos": {"h": height, "w": width, "x": x, "y": y}}
        laid_out.append(item)
        x += width
        row_height = max(row_height, height)
    return {
        "uid": uid,
        "title": title,
        "description": description,
        "tags": ["newsflow"],
        "timezone": "browser",
        "editable": True,
        "graphTooltip": 1,
        "schemaVersion": 39,
        "version": 1,
        "refresh": "10s",
        "time": {"from": "now-30m", "to": "now"},
        "timepicker": {},
        "annotations": {"list": []},
        "links": [
            {
                "type": "dashboards",
                "tags": ["newsflow"],
                "title": "newsflow",
                "asDropdown": True,
                "includeVars": False,
                "keepTime": True,
            }
        ],
        "templating": {"list": list(variables)},
        "panels": laid_out,
    }


SERVICE_VARIABLE = {
    "name": "service",
    "label": "Service",
    "type": "query",
    "datasource": DATASOURCE,
    "definition": 'label_values(up{job="newsflow"}, service)',
    "query": {
        "qryType": 1,
        "query": 'label_values(up{job="newsflow"}, service)',
        "refId": "PrometheusVariableQueryEditor-VariableQuery",
    },
    "refresh": 2,
    "sort": 1,
    "multi": True,
    "includeAll": True,
    "allValue": ".*",
    "current": {"selected": True, "text": ["All"], "value": ["$__all"]},
    "options": [],
    "hide": 0,
    "regex": "",
    "skipUrlSync": False,
}

UP_MAPPINGS = {
    "color": {"mode": "thresholds"},
    "decimals": 0,
    "thresholds": {
        "mode": "absolute",
        "steps": [{"color": "red", "value": None}, {"color": "green", "value": 1}],
    },
    "mappings": [
        {
            "type": "value",
            "options": {
                "0": {"text": "DOWN", "color": "red", "index": 0},
                "1": {"text": "UP", "color": "green", "index": 1},
            },
        }
    ],
}


def health_panels(selector: str) -> list[dict]:
    """Up, memory, CPU, file descriptors and restarts of the selected services."""
    return [
        stat(
            "Service up",
            "Whether Prometheus could scrape the service's /metrics endpoint at the last "
            "attempt (up). DOWN: not started, crashed or unreachable.",
            "none",
            [(f'up{{job="newsflow", {selector}}}', "{{service}}")],
            width=24,
            height=4,
            defaults=UP_MAPPINGS,
            options={
                "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
                "colorMode": "background",
                "graphMode": "none",
                "justifyMode": "center",
                "orientation": "vertical",
                "textMode": "value_and_name",
            },
        ),
        timeseries(
            "Resident memory",
            "Resident set size of each service's process (process_resident_memory_bytes). "
            "Compare with the container memory limit in docker-compose.yml.",
            "bytes",
            [(f'process_resident_memory_bytes{{job="newsflow", {selector}}}', "{{service}}")],
        ),
        timeseries(
            "CPU",
            "CPU time used per second of wall time (rate of process_cpu_seconds_total): 100% "
            "is one full core.",
            "percentunit",
            [
                (
                    f'rate(process_cpu_seconds_total{{job="newsflow", {selector}}}[{RATE}])',
                    "{{service}}",
                )
            ],
        ),
        timeseries(
            "Open file descriptors",
            "File descriptors each process holds open (process_open_fds): sockets, watched "
            "folders, files being read. Steady growth means a leak.",
            "short",
            [(f'process_open_fds{{job="newsflow", {selector}}}', "{{service}}")],
        ),
        timeseries(
            "Restarts",
            "How often each process started in the last hour (changes of "
            "process_start_time_seconds): above zero means crashes or a restart loop.",
            "short",
            [
                (
                    f'changes(process_start_time_seconds{{job="newsflow", {selector}}}[1h])',
                    "{{service}}",
                )
            ],
            defaults={"decimals": 0},
        ),
    ]


def lag_panel(service: str) -> dict:
    return timeseries(
        "Consumer lag per partition",
        f"Records on {service}'s input partitions that its consumer group has not committed "
        "yet (newsflow_consumer_lag_records, read from the broker every 5 s). Rising: the "
        "stage is slower than its input.",
        "short",
        [
            (
                "max by (topic, partition) "
                f'(newsflow_consumer_lag_records{{job="newsflow", service="{service}"}})',
                "{{topic}}[{{partition}}]",
            )
        ],
    )


def worker_panels(service: str, input_topic: str) -> list[dict]:
    """What every Faust worker exports (newsflow.runtime.batches.StageMetrics), for one worker."""
    sel = f'job="newsflow", service="{service}"'
    return [
        row(f"{service}: throughput, latency, lag, errors"),
        timeseries(
            "Records in and out",
            f"Records consumed from {input_topic} and produced per output topic, per second.",
            "suffix: records/s",
            [
                (f"sum(rate(newsflow_{service}_records_in_total{{{sel}}}[{RATE}]))", "in"),
                (
                    f"sum by (topic) (rate(newsflow_{service}_records_out_total{{{sel}}}[{RATE}]))",
                    "out: {{topic}}",
                ),
            ],
        ),
        timeseries(
            "Processing time per record",
            "Each batch's time (from records in to outputs acknowledged by Kafka) divided "
            "among its records: p50, p95, p99.",
            "s",
            quantiles(f"newsflow_{service}_processing_seconds", sel),
        ),
        lag_panel(service),
        timeseries(
            "Batch time (p95)",
            "95th percentile of the time to process one batch, outputs acknowledged.",
            "s",
            [
                (
                    "histogram_quantile(0.95, sum by (le) "
                    f"(rate(newsflow_{service}_batch_seconds_bucket{{{sel}}}[{RATE}])))",
                    "p95",
                )
            ],
        ),
        timeseries(
            "Dead letters by reason",
            "Inputs sent to articles.deadletter per second, by reason: malformed or invalid "
            "records, or records that failed every attempt.",
            "suffix: records/s",
            [
                (
                    f"sum by (reason) (rate(newsflow_{service}_dead_letters_total{{{sel}}}"
                    f"[{RATE}]))",
                    "{{reason}}",
                )
            ],
        ),
        timeseries(
            "Failed attempts",
            "Failed attempts at processing a record and outputs Kafka refused (retried), per "
            "second. A record is dead-lettered after its last attempt.",
            "suffix: errors/s",
            [(f"sum(rate(newsflow_{service}_errors_total{{{sel}}}[{RATE}]))", "errors")],
        ),
    ]


def overview() -> dict:
    svc = 'job="newsflow", service=~"$service"'
    panels = [
        row("Pipeline"),
        timeseries(
            "Files in",
            "Files read from the inbox, files sent (Kafka acknowledged their records) and "
            "files rejected to failed/, per second.",
            "suffix: files/s",
            [
                (f'sum(rate(newsflow_watcher_files_seen_total{{job="newsflow"}}[{RATE}]))', "read"),
                (f'sum(rate(newsflow_watcher_files_sent_total{{job="newsflow"}}[{RATE}]))', "sent"),
                (
                    f'sum(rate(newsflow_watcher_files_failed_total{{job="newsflow"}}[{RATE}]))',
                    "rejected",
                ),
            ],
        ),
        timeseries(
            "Records per stage",
            "Records into and out of each stage per second: the watcher's acknowledged "
            "articles, each worker's consumed and produced records, the sink's stored articles.",
            "suffix: records/s",
            [
                (
                    "sum by (service) "
                    f"(rate(newsflow_watcher_articles_sent_total{{{svc}}}[{RATE}]))",
                    "{{service}} out",
                ),
                (f"sum by (service) (rate({{{RECORDS_IN}, {svc}}}[{RATE}]))", "{{service}} in"),
                (f"sum by (service) (rate({{{RECORDS_OUT}, {svc}}}[{RATE}]))", "{{service}} out"),
                (
                    "sum by (service) "
                    f"(rate(newsflow_sink_articles_written_total{{{svc}}}[{RATE}]))",
                    "{{service}} stored",
                ),
            ],
        ),
        timeseries(
            "End-to-end latency",
            "From an article's file first seen by the watcher to its row committed in the "
            "store: p50, p95, p99. Objective: p95 under 30 s (alert NewsflowEndToEndLatencyHigh).",
            "s",
            quantiles("newsflow_sink_end_to_end_latency_seconds", 'job="newsflow"'),
        ),
        timeseries(
            "Consumer lag per stage",
            "Records waiting in front of each stage: its consumer group's uncommitted records, "
            "summed over partitions. Where it rises, records pile up.",
            "short",
            [
                (
                    "sum by (service, topic) (max by (service, topic, partition) "
                    f"(newsflow_consumer_lag_records{{{svc}}}))",
                    "{{service}} ← {{topic}}",
                )
            ],
        ),
        timeseries(
            "Dead letters by stage and reason",
            "Records and files sent to articles.deadletter per second, by stage and reason.",
            "suffix: records/s",
            [
                (
                    f"sum by (service, reason) (rate({{{DEAD_LETTERS}, {svc}}}[{RATE}]))",
                    "{{service}}: {{reason}}",
                )
            ],
        ),
        timeseries(
            "Errors by stage",
            "Failed attempts and refused sends per second, by stage: the workers' failed "
            "attempts, the watcher's send and move errors, the sink's store and Kafka errors "
            "(a flat zero while the sink consumes means none). Details in each service's "
            "dashboard and log.",
            "suffix: errors/s",
            [
                (f"sum by (service) (rate({{{STAGE_ERRORS}, {svc}}}[{RATE}]))", "{{service}}"),
                (
                    f"sum by (service) (rate(newsflow_watcher_send_errors_total{{{svc}}}[{RATE}]))"
                    " + on(service) sum by (service) "
                    f"(rate(newsflow_watcher_move_errors_total{{{svc}}}[{RATE}]))",
                    "{{service}}",
                ),
                (
                    "sum by (service) (rate({__name__=~"
                    f'"newsflow_sink_(store|kafka)_errors_total", {svc}}}[{RATE}])) or on(service) '
                    "(0 * sum by (service) "
                    f"(rate(newsflow_sink_records_in_total{{{svc}}}[{RATE}])))",
                    "{{service}}",
                ),
            ],
        ),
        timeseries(
            "Duplicates by verdict",
            "Dedup verdicts per second: unique, exact_duplicate (dropped to "
            "articles.duplicates), near_duplicate (linked to the article it copies).",
            "suffix: articles/s",
            [
                (
                    "sum by (verdict) "
                    f'(rate(newsflow_dedup_verdicts_total{{job="newsflow"}}[{RATE}]))',
                    "{{verdict}}",
                )
            ],
        ),
        timeseries(
            "Entities by type",
            "Distinct entities found per second, by type (PER, ORG, LOC, MISC).",
            "suffix: entities/s",
            [
                (
                    "sum by (label) "
                    f'(rate(newsflow_entities_entities_total{{job="newsflow"}}[{RATE}]))',
                    "{{label}}",
                )
            ],
        ),
        timeseries(
            "Stances by label",
            "Stance labels given per second (agree, disagree, discuss, unrelated), over "
            "headline and operator claims.",
            "suffix: labels/s",
            [
                (
                    "sum by (label) "
                    f'(rate(newsflow_stance_labels_total{{job="newsflow"}}[{RATE}]))',
                    "{{label}}",
                )
            ],
        ),
        timeseries(
            "Inbox backlog",
            "Files noticed in the inbox and not read yet, and files read and sent but not yet "
            "acknowledged. A backlog that does not shrink fires NewsflowInboxBacklogNotShrinking.",
            "short",
            [
                ('sum(newsflow_watcher_inbox_backlog_files{job="newsflow"})', "waiting"),
                ('sum(newsflow_watcher_files_in_flight{job="newsflow"})', "in flight"),
            ],
        ),
        row("Services"),
        *health_panels('service=~"$service"'),
    ]
    return dashboard(
        "newsflow-overview",
        "newsflow overview",
        "The pipeline at a glance: files in, records per stage, end-to-end latency, lag, "
        "dead letters, errors, and the health of every service.",
        panels,
        [SERVICE_VARIABLE],
    )


def watcher() -> dict:
    sel = 'job="newsflow", service="watcher"'
    panels = [
        row("watcher: inbox to articles.raw"),
        timeseries(
            "Files",
            "Files read, sent (acknowledged, moved to processed/) and rejected (moved to "
            "failed/ with a reason), per second.",
            "suffix: files/s",
            [
                (f"sum(rate(newsflow_watcher_files_seen_total{{{sel}}}[{RATE}]))", "read"),
                (f"sum(rate(newsflow_watcher_files_sent_total{{{sel}}}[{RATE}]))", "sent"),
                (
                    f"sum by (reason) (rate(newsflow_watcher_files_failed_total{{{sel}}}[{RATE}]))",
                    "rejected: {{reason}}",
                ),
            ],
        ),
        timeseries(
            "Articles sent",
            "Article records Kafka acknowledged on articles.raw, per second.",
            "suffix: articles/s",
            [(f"sum(rate(newsflow_watcher_articles_sent_total{{{sel}}}[{RATE}]))", "articles")],
        ),
        timeseries(
            "Inbox backlog",
            "Files noticed and not read yet; files sent and waiting for Kafka's acknowledgement.",
            "short",
            [
                (f"sum(newsflow_watcher_inbox_backlog_files{{{sel}}})", "waiting"),
                (f"sum(newsflow_watcher_files_in_flight{{{sel}}})", "in flight"),
            ],
        ),
        timeseries(
            "Bytes read",
            "Bytes of article files read per second.",
            "Bps",
            [(f"sum(rate(newsflow_watcher_bytes_read_total{{{sel}}}[{RATE}]))", "read")],
        ),
        timeseries(
            "Parse time per file",
            "Time to read and parse one file: p50, p95, p99.",
            "s",
            quantiles("newsflow_watcher_parse_seconds", sel),
        ),
        timeseries(
            "File seen to acknowledged",
            "From a file first seen to all its records acknowledged by Kafka, including the "
            "settle period: p50, p95, p99.",
            "s",
            quantiles("newsflow_watcher_file_to_ack_seconds", sel),
        ),
        timeseries(
            "Dead letters by reason",
            "Dead letters Kafka acknowledged, per second, by reason (one per rejected file "
            "or bad JSON line).",
            "suffix: records/s",
            [
                (
                    f"sum by (reason) (rate(newsflow_watcher_dead_letters_total{{{sel}}}[{RATE}]))",
                    "{{reason}}",
                )
            ],
        ),
        timeseries(
            "Errors and recoveries",
            "Records Kafka did not acknowledge (retried), files that could not be moved out "
            "of the inbox, and files found already sent after a crash (moved, not resent).",
            "suffix: events/s",
            [
                (f"sum(rate(newsflow_watcher_send_errors_total{{{sel}}}[{RATE}]))", "send errors"),
                (f"sum(rate(newsflow_watcher_move_errors_total{{{sel}}}[{RATE}]))", "move errors"),
                (
                    f"sum(rate(newsflow_watcher_resends_avoided_total{{{sel}}}[{RATE}]))",
                    "resends avoided",
                ),
            ],
        ),
        row("watcher: process"),
        *health_panels('service="watcher"'),
    ]
    return dashboard(
        "newsflow-watcher",
        "newsflow watcher",
        "The watcher: files from the inbox to article records on articles.raw.",
        panels,
    )


def dedup() -> dict:
    sel = 'job="newsflow", service="dedup"'
    panels = [
        *worker_panels("dedup", "articles.raw"),
        row("dedup: verdicts and index"),
        timeseries(
            "Verdicts",
            "Articles per second by verdict: unique, exact_duplicate, near_duplicate.",
            "suffix: articles/s",
            [
                (
                    f"sum by (verdict) (rate(newsflow_dedup_verdicts_total{{{sel}}}[{RATE}]))",
                    "{{verdict}}",
                )
            ],
        ),
        timeseries(
            "Similarity of near duplicates",
            "How close near duplicates are to the article they copy (containment): p50, p95, p99.",
            "percentunit",
            quantiles("newsflow_dedup_similarity_ratio", sel),
        ),
        timeseries(
            "Articles in the index",
            "Articles in the near-duplicate index (grows with traffic, shrinks as articles "
            "expire).",
            "short",
            [(f"sum(newsflow_dedup_index_articles{{{sel}}})", "indexed")],
        ),
        timeseries(
            "Expired and redelivered",
            "Articles expired from the index, and records seen again after a restart "
            "(answered with their first verdict), per second.",
            "suffix: articles/s",
            [
                (f"sum(rate(newsflow_dedup_expired_total{{{sel}}}[{RATE}]))", "expired"),
                (f"sum(rate(newsflow_dedup_redelivered_total{{{sel}}}[{RATE}]))", "redelivered"),
            ],
        ),
        row("dedup: process"),
        *health_panels('service="dedup"'),
    ]
    return dashboard(
        "newsflow-dedup",
        "newsflow dedup",
        "The dedup worker: articles.raw to articles.deduped and articles.duplicates.",
        panels,
    )


def entities() -> dict:
    sel = 'job="newsflow", service="entities"'
    panels = [
        *worker_panels("entities", "articles.deduped"),
        row("entities: what the model finds"),
        timeseries(
            "Entities by type",
            "Distinct entities found per second, by type.",
            "suffix: entities/s",
            [
                (
                    f"sum by (label) (rate(newsflow_entities_entities_total{{{sel}}}[{RATE}]))",
                    "{{label}}",
                )
            ],
        ),
        timeseries(
            "Mentions per article",
            "Entity mentions found in one article: p50, p95, p99.",
            "short",
            quantiles("newsflow_entities_mentions_per_article", sel),
        ),
        timeseries(
            "Model time per article",
            "NER model time per article (its batch's tagging time divided among its "
            "articles): p50, p95, p99.",
            "s",
            quantiles("newsflow_entities_model_seconds", sel),
        ),
        row("entities: process"),
        *health_panels('service="entities"'),
    ]
    return dashboard(
        "newsflow-entities",
        "newsflow entities",
        "The entity worker: articles.deduped to articles.tagged.",
        panels,
    )


def stance() -> dict:
    sel = 'job="newsflow", service="stance"'
    panels = [
        *worker_panels("stance", "articles.tagged"),
        row("stance: labels and claims"),
        timeseries(
            "Labels by claim source",
            "Stance labels given per second, by label and where the claim came from "
            "(headline of the story, or the operators' claims file).",
            "suffix: labels/s",
            [
                (
                    f"sum by (source, label) (rate(newsflow_stance_labels_total{{{sel}}}[{RATE}]))",
                    "{{source}}: {{label}}",
                )
            ],
        ),
        timeseries(
            "Confidence by label (p50)",
            "Median probability of the label given: how sure the model was, by label.",
            "percentunit",
            [
                (
                    "histogram_quantile(0.5, sum by (label, le) "
                    f"(rate(newsflow_stance_probability_ratio_bucket{{{sel}}}[{RATE}])))",
                    "{{label}}",
                )
            ],
        ),
        timeseries(
            "Model time per article",
            "Features and both model stages for all of an article's claims: p50, p95, p99.",
            "s",
            quantiles("newsflow_stance_model_seconds", sel),
        ),
        timeseries(
            "Claims per article",
            "Claims an article was labelled against: p50, p95, p99.",
            "short",
            quantiles("newsflow_stance_claims_per_article", sel),
        ),
        timeseries(
            "Claims file",
            "Claims in force from the operators' claims file, and whether its last change "
            "was read successfully (1) or not (0: the previous claims stayed).",
            "short",
            [
                (f"max(newsflow_stance_claims_loaded{{{sel}}})", "claims loaded"),
                (f"min(newsflow_stance_claims_file_ok{{{sel}}})", "file ok"),
            ],
        ),
        row("stance: process"),
        *health_panels('service="stance"'),
    ]
    return dashboard(
        "newsflow-stance",
        "newsflow stance",
        "The stance worker: articles.tagged to articles.enriched.",
        panels,
    )


def sink() -> dict:
    sel = 'job="newsflow", service="sink"'
    flowing = f"0 * sum(rate(newsflow_sink_records_in_total{{{sel}}}[{RATE}]))"
    panels = [
        row("sink: articles.enriched to the store"),
        timeseries(
            "Records in, articles stored",
            "Records consumed from articles.enriched and articles upserted into the store, "
            "per second (a redelivered article counts again; the store keeps one row).",
            "suffix: records/s",
            [
                (f"sum(rate(newsflow_sink_records_in_total{{{sel}}}[{RATE}]))", "in"),
                (f"sum(rate(newsflow_sink_articles_written_total{{{sel}}}[{RATE}]))", "stored"),
            ],
        ),
        timeseries(
            "Rows written by table",
            "Rows written per second, by table (articles, entities, stances).",
            "suffix: rows/s",
            [
                (
                    f"sum by (table) (rate(newsflow_sink_rows_written_total{{{sel}}}[{RATE}]))",
                    "{{table}}",
                )
            ],
        ),
        timeseries(
            "End-to-end latency",
            "From the article's file first seen by the watcher to its row committed: p50, "
            "p95, p99.",
            "s",
            quantiles("newsflow_sink_end_to_end_latency_seconds", sel),
        ),
        lag_panel("sink"),
        timeseries(
            "Commit time per batch",
            "Time to write one batch and make it durable (one transaction): p50, p95, p99.",
            "s",
            quantiles("newsflow_sink_commit_seconds", sel),
        ),
        timeseries(
            "Batch size",
            "Records in one batch written to the store: p50, p95, p99.",
            "short",
            quantiles("newsflow_sink_batch_size_records", sel),
        ),
        timeseries(
            "Store and Kafka errors",
            "Failed attempts at the store by kind (unavailable: retried; rejected: a record "
            "refused) and failed dead-letter sends or offset commits, per second. A flat zero "
            "while records flow means no errors.",
            "suffix: errors/s",
            [
                (
                    f"sum by (kind) (rate(newsflow_sink_store_errors_total{{{sel}}}[{RATE}])) "
                    f"or on() ({flowing})",
                    "store {{kind}}",
                ),
                (
                    "sum by (operation) "
                    f"(rate(newsflow_sink_kafka_errors_total{{{sel}}}[{RATE}])) "
                    f"or on() ({flowing})",
                    "kafka {{operation}}",
                ),
            ],
        ),
        timeseries(
            "Dead letters by reason",
            "Records sent to articles.deadletter per second, by reason.",
            "suffix: records/s",
            [
                (
                    f"sum by (reason) (rate(newsflow_sink_dead_letters_total{{{sel}}}[{RATE}]))",
                    "{{reason}}",
                )
            ],
        ),
        stat(
            "Store up",
            "1 while the store answers, 0 while it does not (the sink then retries and is "
            "not ready).",
            "none",
            [(f"min(newsflow_sink_store_up{{{sel}}})", "store")],
            defaults=UP_MAPPINGS,
        ),
        timeseries(
            "Processing time per record",
            "Each batch's decode, write and offset commit divided among its records: p50, "
            "p95, p99.",
            "s",
            quantiles("newsflow_sink_processing_seconds", sel),
        ),
        row("sink: process"),
        *health_panels('service="sink"'),
    ]
    return dashboard(
        "newsflow-sink",
        "newsflow sink",
        "The sink: articles.enriched into the store (SQLite or PostgreSQL).",
        panels,
    )


BUILDERS = (overview, watcher, dedup, entities, stance, sink)


def main() -> None:
    for build in BUILDERS:
        board = build()
        path = DASHBOARDS / f"{board['uid']}.json"
        path.write_text(json.dumps(board, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
