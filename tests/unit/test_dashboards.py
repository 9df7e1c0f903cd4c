"""The Grafana dashboards hang together: one per service plus the overview, stable uids,
the provisioned datasource everywhere, unique panel ids, a unit on every panel, and no
query reading a metric that no service exports (read from the services' code)."""

from __future__ import annotations

import json
import re

from newsflow.cli.main import SERVICES
from tests.support.dashboards import (
    DATASOURCE_UID,
    PROMETHEUS_SERIES,
    dashboard_files,
    exported_metrics,
    load,
    load_generator,
    metric_names,
    name_patterns,
    panels,
    queries,
)


def test_there_is_an_overview_and_one_dashboard_per_service():
    uids = {load(path)["uid"] for path in dashboard_files()}
    expected = {"newsflow-overview"} | {f"newsflow-{s}" for s in SERVICES}
    assert expected <= uids, f"missing dashboards: {sorted(expected - uids)}"


def test_uids_are_stable_file_names():
    # Links and bookmarks use the uid; the file is named after it, so a rename shows in git.
    for path in dashboard_files():
        assert load(path)["uid"] == path.stem, f"{path.name}: uid {load(path)['uid']!r}"


def test_the_committed_json_is_what_the_generator_writes():
    generator = load_generator()
    for build in generator.BUILDERS:
        board = build()
        path = generator.DASHBOARDS / f"{board['uid']}.json"
        assert path.is_file(), f"{path.name} missing: run python3 deploy/grafana/generate.py"
        assert json.loads(path.read_text(encoding="utf-8")) == json.loads(json.dumps(board)), (
            f"{path.name} differs from deploy/grafana/generate.py: edit the generator, run it"
        )


def test_every_panel_and_query_uses_the_provisioned_datasource():
    wrong = []
    for path in dashboard_files():
        for panel in panels(load(path)):
            for holder in (panel, *panel.get("targets", [])):
                source = holder.get("datasource")
                if panel["type"] != "row" and (source or {}).get("uid") != DATASOURCE_UID:
                    wrong.append(f"{path.name}: {panel['title']!r}: {source}")
    assert not wrong, f"not the datasource {DATASOURCE_UID}: {wrong}"


def test_panel_ids_are_unique_within_each_dashboard():
    for path in dashboard_files():
        ids = [panel["id"] for panel in panels(load(path))]
        duplicated = sorted({i for i in ids if ids.count(i) > 1})
        assert not duplicated, f"{path.name}: panel ids used twice: {duplicated}"


def test_every_panel_has_a_unit_a_description_and_a_query():
    problems = []
    for path in dashboard_files():
        for panel in panels(load(path)):
            if panel["type"] == "row":
                continue
            if not panel.get("fieldConfig", {}).get("defaults", {}).get("unit"):
                problems.append(f"{path.name}: {panel['title']!r} has no unit")
            if not panel.get("description"):
                problems.append(f"{path.name}: {panel['title']!r} has no description")
            if not [t for t in panel.get("targets", []) if t.get("expr")]:
                problems.append(f"{path.name}: {panel['title']!r} has no query")
    assert not problems, "; ".join(problems)


def test_every_metric_a_panel_reads_is_exported_by_some_service():
    exported = exported_metrics()
    unknown = []
    for query in queries():
        for name in metric_names(query.expr) - PROMETHEUS_SERIES:
            if name not in exported:
                unknown.append(f"{query}: {name}")
        for pattern in name_patterns(query.expr):
            if not any(re.fullmatch(pattern, name) for name in exported):
                unknown.append(f"{query}: no exported metric matches {pattern!r}")
    assert not unknown, "metrics no service exports:\n" + "\n".join(unknown)


def test_the_overview_has_a_service_variable():
    [overview] = [load(p) for p in dashboard_files() if p.stem == "newsflow-overview"]
    names = [variable["name"] for variable in overview["templating"]["list"]]
    assert "service" in names
