"""docs/benchmarks.md, its plots (docs/benchmarks/*.png) and the JSON of every figure.

Every number in the report comes from the results of the run; the hand-written part (what
was fixed, with its before and after figures) is tests/benchmarks/FIXES.md, included as is.
"""

from __future__ import annotations

import json
import statistics
from pathlib import Path

FIXES = Path(__file__).with_name("FIXES.md")
TARGET_RATIO = 0.9
TARGET_P95_SECONDS = 1.0
WORKERS = ("watcher", "dedup", "entities", "stance", "sink", "broker")


# --- figures derived from the results --------------------------------------------------------


def spread(values) -> dict:
    present = [v for v in values if v is not None]
    if not present:
        return {"median": None, "min": None, "max": None, "runs": 0}
    return {
        "median": round(statistics.median(present), 3),
        "min": round(min(present), 3),
        "max": round(max(present), 3),
        "runs": len(present),
    }


def headline(results: dict) -> dict:
    """The limit is what the machine could do with the stage code and nothing else: its
    cores times the articles the code handles per CPU second in one process. One process
    on one core (`limit_articles_per_second`) is not it on a machine of several cores."""
    cores = results["machine"]["cores"] or 1
    limit = spread(r["articles_per_second"] for r in results["limit"]["runs"])
    limit_cpu = spread(r["articles_per_cpu_second"] for r in results["limit"]["runs"])
    machine_limit = spread(
        cores * r["articles_per_cpu_second"]
        for r in results["limit"]["runs"]
        if r["articles_per_cpu_second"]
    )
    pipeline = results.get("pipeline", {})
    saturation = spread(r["articles_per_second"] for r in pipeline.get("saturation", []))
    steady = spread(r["steady_articles_per_second"] for r in pipeline.get("saturation", []))
    # Each pipeline run came right after the limit's run over the same files: the ratio of
    # each pair, so that both sides of a ratio met much the same load from other programs.
    pairs = [
        p["articles_per_second"] / (cores * q["articles_per_cpu_second"])
        for q, p in zip(results["limit"]["runs"], pipeline.get("saturation", []), strict=False)
        if p["articles_per_second"] and q["articles_per_cpu_second"]
    ]
    paired = spread(pairs)
    ratio = paired["median"]
    ratio_of_medians = (
        round(saturation["median"] / machine_limit["median"], 3)
        if saturation["median"] and machine_limit["median"]
        else None
    )
    cores_used = spread(
        run["processes"]["_machine"]["pipeline_cores"] for run in pipeline.get("saturation", [])
    )
    half = next((x for x in pipeline.get("loads", []) if x["share_of_saturation"] == 0.5), None)
    p95 = half["latency"]["p95"] if half else None
    others = [
        phase["processes"]["_machine"]["other_cores"]
        for phase in pipeline.get("saturation", []) + pipeline.get("loads", [])
    ]
    return {
        "limit_articles_per_second": limit,
        "limit_articles_per_cpu_second": limit_cpu,
        "machine_limit_articles_per_second": machine_limit,
        "pipeline_articles_per_second": saturation,
        "pipeline_cores_at_saturation": cores_used,
        "pipeline_steady_articles_per_second": steady,
        "ratio": ratio,
        "ratio_by_run": paired,
        "ratio_of_medians": ratio_of_medians,
        "ratio_met": ratio is not None and ratio >= TARGET_RATIO,
        "p95_at_half_load_seconds": p95,
        "p95_met": p95 is not None and p95 <= TARGET_P95_SECONDS,
        "other_processes_cores": spread(others),
    }


def per_stage(results: dict) -> dict[str, dict]:
    """Each process over the saturation runs: medians of its figures."""
    runs = results.get("pipeline", {}).get("saturation", [])
    peaks = results.get("pipeline", {}).get("peak_rss_bytes", {})
    table = {}
    for name in WORKERS:
        rows = [run["processes"][name] for run in runs if name in run["processes"]]
        if not rows:
            continue
        table[name] = {
            key: spread(row[key] for row in rows)
            for key in (
                "records_per_second",
                "cpu_ms_per_record",
                "cpu_ms_per_article_in",
                "cores",
            )
        }
        table[name]["peak_rss_bytes"] = peaks.get(name)
    return table


def cpu_budget(results: dict, stages: dict[str, dict]) -> dict:
    """CPU per article in, summed over the processes, against the limit's, and the most the
    two cores could carry at that cost."""
    cores = results["machine"]["cores"] or 1
    pipeline_ms = sum(s["cpu_ms_per_article_in"]["median"] or 0 for s in stages.values())
    limit_runs = results["limit"]["runs"]
    limit_ms = statistics.median(1000 * r["cpu_seconds"] / r["files"] for r in limit_runs)
    busiest = max(stages.items(), key=lambda kv: kv[1]["cpu_ms_per_article_in"]["median"] or 0)
    return {
        "pipeline_cpu_ms_per_article": round(pipeline_ms, 2),
        "limit_cpu_ms_per_article": round(limit_ms, 2),
        "overhead_factor": round(pipeline_ms / limit_ms, 2) if limit_ms else None,
        "ceiling_articles_per_second_on_all_cores": round(1000 * cores / pipeline_ms, 2)
        if pipeline_ms
        else None,
        "busiest_process": busiest[0],
        "busiest_ceiling_articles_per_second": round(
            1000 / busiest[1]["cpu_ms_per_article_in"]["median"], 2
        )
        if busiest[1]["cpu_ms_per_article_in"]["median"]
        else None,
    }


# --- plots ------------------------------------------------------------------------------------


def plots(results: dict, folder: Path, stages: dict, head: dict) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    folder.mkdir(parents=True, exist_ok=True)
    made = []
    pipeline = results.get("pipeline", {})

    def save(figure, name: str) -> None:
        figure.tight_layout()
        figure.savefig(folder / name, dpi=110)
        plt.close(figure)
        made.append(name)

    # Throughput: the limit beside the pipeline, each run a dot, the median a bar.
    figure, axes = plt.subplots(figsize=(6, 3.6))
    groups = [
        ("limit\n(one process)", [r["articles_per_second"] for r in results["limit"]["runs"]]),
        ("pipeline\n(saturation)", [r["articles_per_second"] for r in pipeline["saturation"]]),
    ]
    for index, (_label, values) in enumerate(groups):
        axes.bar(index, statistics.median(values), color=("#8da0cb", "#fc8d62")[index], width=0.6)
        axes.scatter([index] * len(values), values, color="black", zorder=3, s=14)
    axes.set_xticks(range(len(groups)), [g[0] for g in groups])
    axes.set_ylabel("articles/s (files in)")
    axes.set_title(f"Throughput: pipeline / limit = {head['ratio']} (median of paired runs)")
    save(figure, "throughput.png")

    # Latency by offered load, and the distribution at each load.
    loads = pipeline.get("loads", [])
    if loads:
        figure, (left, right) = plt.subplots(1, 2, figsize=(10, 3.8))
        shares = [int(100 * x["share_of_saturation"]) for x in loads]
        for key, style in (("p50", "o-"), ("p95", "s-"), ("p99", "^-")):
            left.plot(shares, [x["latency"][key] for x in loads], style, label=key)
        left.axhline(TARGET_P95_SECONDS, color="grey", linestyle="--", label="2 s target (p95)")
        left.set_xlabel("offered load (% of saturation throughput)")
        left.set_ylabel("seconds, file dropped to row stored")
        left.set_xticks(shares)
        left.legend()
        for load, share in zip(loads, shares, strict=True):
            samples = load["latency"]["samples"]
            if samples:
                right.plot(samples, [(i + 1) / len(samples) for i in range(len(samples))],
                           label=f"{share}%")  # fmt: skip
        earlier = pipeline.get("earlier_waits")
        if earlier and earlier["latency"]["samples"]:
            samples = earlier["latency"]["samples"]
            right.plot(samples, [(i + 1) / len(samples) for i in range(len(samples))], "--",
                       label="50%, earlier waits")  # fmt: skip
        right.set_xlabel("seconds")
        right.set_ylabel("share of articles stored within")
        right.legend(title="load")
        save(figure, "latency.png")

        # Where the latency goes: median time of each hop at each load.
        figure, axes = plt.subplots(figsize=(7, 3.8))
        hops = list(loads[0]["latency"]["hops"])
        bottom = [0.0] * len(loads)
        for hop in hops:
            values = [x["latency"]["hops"][hop]["p50"] or 0 for x in loads]
            axes.bar([str(s) + "%" for s in shares], values, bottom=bottom, label=hop)
            bottom = [b + v for b, v in zip(bottom, values, strict=True)]
        axes.set_ylabel("seconds (median of each hop)")
        axes.set_xlabel("offered load")
        axes.legend(fontsize=8, bbox_to_anchor=(1.02, 1), loc="upper left")
        save(figure, "latency_hops.png")

    # CPU per article: the pipeline's processes against the limit's stages.
    figure, axes = plt.subplots(figsize=(7, 4))
    limit_stages = results["limit"]["runs"][0]["stages"]
    files = statistics.median(r["files"] for r in results["limit"]["runs"])
    bottom = 0.0
    for name in ("parse", "dedup", "entities", "stance"):
        value = statistics.median(
            1000 * r["stages"][name]["cpu_seconds"] / r["files"] for r in results["limit"]["runs"]
        )
        axes.bar("limit", value, bottom=bottom, label=f"limit: {name}")
        bottom += value
    del limit_stages, files
    bottom = 0.0
    for name, figures in stages.items():
        value = figures["cpu_ms_per_article_in"]["median"] or 0
        axes.bar("pipeline", value, bottom=bottom, label=f"pipeline: {name}", hatch="//")
        bottom += value
    axes.set_ylabel("CPU ms per article in")
    axes.legend(fontsize=7, bbox_to_anchor=(1.02, 1), loc="upper left")
    save(figure, "cpu_per_article.png")

    # Peak memory.
    peaks = {k: v for k, v in pipeline.get("peak_rss_bytes", {}).items() if v and k in WORKERS}
    if peaks:
        figure, axes = plt.subplots(figsize=(6, 3.2))
        axes.barh(list(peaks), [v / 2**20 for v in peaks.values()], color="#66c2a5")
        axes.set_xlabel("peak RSS, MiB")
        axes.invert_yaxis()
        save(figure, "memory.png")

    # Profiles: the kinds of work in each process.
    found = pipeline.get("profiles", {})
    if found:
        kinds = []
        for summary in found.values():
            for kind, _ in summary["by_kind"]:
                if kind not in kinds:
                    kinds.append(kind)
        figure, axes = plt.subplots(figsize=(10, 3.6))
        names = list(found)
        left = [0.0] * len(names)
        colours = plt.get_cmap("tab20")
        for index, kind in enumerate(kinds):
            values = [dict(found[n]["by_kind"]).get(kind, 0.0) * 100 for n in names]
            axes.barh(names, values, left=left, label=kind, color=colours(index % 20))
            left = [a + b for a, b in zip(left, values, strict=True)]
        axes.set_xlabel("% of samples")
        axes.invert_yaxis()
        axes.legend(fontsize=7, bbox_to_anchor=(1.02, 1), loc="upper left")
        save(figure, "profiles.png")
    return made


# --- the report -------------------------------------------------------------------------------


def _n(value, digits: int = 1) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    return f"{value:,}"


def _range(s: dict, digits: int = 1) -> str:
    if not s or s.get("median") is None:
        return "n/a"
    if s["runs"] == 1:
        return _n(s["median"], digits)
    return f"{_n(s['median'], digits)} ({_n(s['min'], digits)} to {_n(s['max'], digits)})"


def _mib(value) -> str:
    return "n/a" if not value else f"{value / 2**20:,.0f}"


def markdown(results: dict, head: dict, stages: dict, budget: dict, images: list[str]) -> str:
    machine = results["machine"]
    corpus = results["corpus"]
    pipeline = results.get("pipeline", {})
    waits = _batch_waits(pipeline)
    # Reports before this was recorded counted each service's own process only.
    children = pipeline.get("cpu_of_child_processes", False)
    lines: list[str] = []
    add = lines.append
    synthetic = corpus["source"] != "fnc1"

    add("# newsflow benchmarks")
    add("")
    add(
        f"Generated by `{results['command']}` on {results['generated_at']} in "
        f"{results['wall_seconds'] / 60:.1f} minutes (all of `make bench`'s own steps: "
        f"{_total_minutes(results)}). Regenerate with `make bench`; every figure is also in "
        "[benchmarks.json](benchmarks.json)."
        + (
            f" The text was written again from that JSON on {results['rendered_at']} "
            "(`--render`, no new measurement), after tests/benchmarks/FIXES.md or the "
            "report's wording changed."
            if results.get("rendered_at")
            else ""
        )
    )
    add("")
    if synthetic:
        add(f"> **SYNTHETIC CORPUS.** {corpus['description']}.")
        add("")
    add(
        f"> **Shared machine.** {machine['cores']} cores; load average "
        f"{_loads(results['load_average_start'])} (1, 5, 15 min) at the start and "
        f"{_loads(results['load_average_end'])} at the end. While the pipeline ran, other "
        f"programs on the machine used {_range(head['other_processes_cores'], 2)} cores "
        "(median and range over the saturation and latency runs, from /proc/stat minus the "
        "pipeline's own processes). Every figure below was measured under that load."
    )
    add("")
    add("## Headline")
    add("")
    add("| | median (range) over runs | target |")
    add("|---|---|---|")
    add(
        f"| parse, dedup, entities, stance in one process on one core, no Kafka | "
        f"{_range(head['limit_articles_per_second'])} articles/s "
        f"({_range(head['limit_articles_per_cpu_second'])} per CPU second) | |"
    )
    add(
        f"| **limit**: the machine's {machine['cores']} cores times the one process's articles "
        f"per CPU second | {_range(head['machine_limit_articles_per_second'])} articles/s | |"
    )
    add(
        f"| **pipeline** at saturation: files dropped to rows stored | "
        f"{_range(head['pipeline_articles_per_second'])} articles/s | |"
    )
    add(
        f"| **pipeline / limit** (each pipeline run over the same files right after the "
        f"limit's) | **{_range(head['ratio_by_run'], 2)}** (ratio of the medians "
        f"{_n(head['ratio_of_medians'], 2)}) | ≥ {TARGET_RATIO} "
        f"{'met' if head['ratio_met'] else '**not met**'} |"
    )
    add(
        f"| cores the pipeline's processes (broker included) used at saturation | "
        f"{_range(head['pipeline_cores_at_saturation'], 2)} of {machine['cores']} | |"
    )
    for load in pipeline.get("loads", []):
        latency = load["latency"]
        met = ""
        if load["share_of_saturation"] == 0.5:
            ok = head["p95_met"]
            met = f"p95 ≤ {TARGET_P95_SECONDS:.0f} s {'met' if ok else '**not met**'}"
        add(
            f"| end-to-end latency at {int(100 * load['share_of_saturation'])}% load "
            f"(p50 / p95 / p99) | {_n(latency['p50'], 2)} / {_n(latency['p95'], 2)} / "
            f"{_n(latency['p99'], 2)} s | {met} |"
        )
    earlier = pipeline.get("earlier_waits")
    if earlier:
        latency = earlier["latency"]
        add(
            f"| the same at 50% load with the earlier batch waits (an experiment, below) | "
            f"{_n(latency['p50'], 2)} / {_n(latency['p95'], 2)} / {_n(latency['p99'], 2)} s "
            "| |"
        )
    add("")
    if "throughput.png" in images:
        add("![throughput](benchmarks/throughput.png)")
        add("")
    add(_verdict(results, head, stages, budget))
    add("")

    add("## Machine, corpus and method")
    add("")
    add(
        f"- Machine: {machine['cores']} cores ({machine['cpu']}), "
        f"{machine['memory_bytes'] / 2**30:.0f} GiB memory, Python {machine['python']}, "
        f"Linux {machine['kernel']}."
    )
    add(
        f"- Corpus ({'SYNTHETIC' if synthetic else 'FNC-1'}): {corpus['description']}. "
        f"{corpus['files']:,} files, {corpus['distinct_articles']:,} distinct articles, "
        f"{corpus['mean_words_per_file']:.0f} words per file on average; exact copies "
        f"{100 * corpus['exact_copy_share']:.1f}% and near copies "
        f"{100 * corpus['near_copy_share']:.1f}% of the files; formats "
        + ", ".join(f"{n} .{k}" for k, n in corpus["formats"].items())
        + ". Nothing of the data is kept: files live in a temporary folder for the run."
    )
    size = results["sizes"]
    add(
        f"- Order: the corpus in its arrival order, cut into a warm-up of {size['warmup']} "
        f"files, {size['runs']} saturation runs of {size['slice']} files, a profiled run of "
        f"{size['profile']} files and the latency runs. The limit runs the warm-up and the "
        "saturation runs' files in the same order on its own (growing) dedup state, each "
        "run right before the pipeline's run of the same files (the pipeline idles "
        "meanwhile), so each pair of runs is over the same articles under much the same "
        "load from other programs."
    )
    add(
        "- The limit: tests/benchmarks/limit.py builds each worker's `Stage` (the objects "
        "the Faust workers run) and calls `prepare` and `finish` in batches of each worker's "
        "batch size, after the watcher's `read_records`; no encoding, no Kafka. Articles/s is "
        "files in per wall second of the four stages (the store write is timed beside it)."
    )
    add(
        "- The pipeline: the end-to-end harness (tests/e2e/pipeline.py) starts its own "
        "broker and every service as its own process with its settings (watcher settle "
        "period 0.5 s; the other waits at their defaults), with as many instances of each "
        "model worker as `make up` starts here ("
        + (
            ", ".join(f"{n} {name}" for name, n in pipeline.get("instances", {}).items())
            or "one of each"
        )
        + "; their figures below are the instances' together); the stance worker gets "
        "deploy/stance/claims.yaml as `make up` does. Files are written to a staging folder "
        "and renamed into the inbox. Saturation: a run's files are dropped at once; "
        "throughput is files / (last row's `stored_at` minus first drop). Latency runs: Poisson "
        "arrivals at 25%, 50% and 75% of the median saturation throughput; an article's "
        "latency is its row's `stored_at` minus its file's drop time (exact copies have no "
        "row of their own and no latency). The record's trace splits it into hops."
    )
    add(
        "- Per process (a service's instances together): CPU from /proc/<pid>/stat (utime + "
        "stime, all threads"
        + (", and its child processes: the watcher's parser processes" if children else "")
        + ") between the start and the end of each run, records from each "
        "service's Prometheus counter "
        "(watcher: articles sent; workers and sink: records in), peak RSS from VmHWM."
    )
    add(
        f"- Runs: {size['runs']} of each throughput figure (medians, with min and max); one "
        "latency run per load, with the p95 of each third of the run as its spread; "
        f"{size['component_runs']} run(s) of each eval command."
    )
    add("")

    add("## The limit: the stage code in one process")
    add("")
    add(
        "| run | files | stored | exact copies | articles/s | per CPU second | with store | "
        "other programs (cores) | idle pipeline (cores) |"
    )
    add("|---|---|---|---|---|---|---|---|---|")
    for number, run in enumerate(results["limit"]["runs"], start=1):
        machine_then = run.get("machine", {})
        add(
            f"| {number} | {run['files']} | {run['articles_stored']} | "
            f"{run['exact_duplicates']} | {_n(run['articles_per_second'], 2)} | "
            f"{_n(run['articles_per_cpu_second'], 2)} | "
            f"{_n(run['with_store_articles_per_second'], 2)} | "
            f"{_n(machine_then.get('other_cores'), 2)} | "
            f"{_n(machine_then.get('idle_pipeline_cores'), 2)} |"
        )
    add("")
    add("CPU per record by stage (median over runs):")
    add("")
    add(
        "| stage | CPU ms per record | CPU ms per article in | of it in ONNX Runtime "
        "(the models' own arithmetic: the stage's floor) |"
    )
    add("|---|---|---|---|")
    for name in ("parse", "dedup", "entities", "stance", "store"):
        runs = results["limit"]["runs"]
        per_record = [r["stages"][name]["cpu_ms_per_record"] for r in runs]
        per_in = [1000 * r["stages"][name]["cpu_seconds"] / r["files"] for r in runs]
        # Reports before the model clock have no such figure.
        model = [
            1000 * r["stages"][name]["model_cpu_seconds"] / r["files"]
            for r in runs
            if "model_cpu_seconds" in r["stages"][name]
        ]
        floor = f"{_range(spread(model), 2)} ms per article in" if any(model) else "-"
        add(f"| {name} | {_range(spread(per_record), 2)} | {_range(spread(per_in), 2)} | {floor} |")
    add("")

    add("## The pipeline")
    add("")
    add("### Throughput at saturation")
    add("")
    add(
        "| run | files | seconds to last row | articles/s | steady (10th to 90th percentile "
        "of rows) | CPU used (cores) | other programs (cores) |"
    )
    add("|---|---|---|---|---|---|---|")
    for run in pipeline.get("saturation", []):
        m = run["processes"]["_machine"]
        add(
            f"| {run['name']} | {run['files']} | {_n(run['seconds_to_last_row'], 1)} | "
            f"{_n(run['articles_per_second'], 2)} | {_n(run['steady_articles_per_second'], 2)}"
            f" | {_n(m['pipeline_cores'], 2)} | {_n(m['other_cores'], 2)} |"
        )
    add("")
    add("### Latency under load")
    add("")
    add(
        "| load | offered articles/s | dropped at | articles | p50 s | p95 s (thirds) | p99 s "
        "| max s | other programs (cores) |"
    )
    add("|---|---|---|---|---|---|---|---|---|")
    rows = pipeline.get("loads", []) + (
        [pipeline["earlier_waits"]] if pipeline.get("earlier_waits") else []
    )
    for load in rows:
        latency = load["latency"]
        thirds = ", ".join(_n(v, 2) for v in latency.get("p95_thirds", []))
        add(
            f"| {_load_name(load)} | "
            f"{_n(load['offered_per_second'], 2)} | {_n(load['achieved_drop_per_second'], 2)}/s"
            f" | {latency['articles']} | {_n(latency['p50'], 2)} | {_n(latency['p95'], 2)} "
            f"({thirds}) | {_n(latency['p99'], 2)} | {_n(latency['max'], 2)} | "
            f"{_n(load['processes']['_machine']['other_cores'], 2)} |"
        )
    add("")
    if "latency.png" in images:
        add("![latency](benchmarks/latency.png)")
        add("")
    if pipeline.get("earlier_waits"):
        add(
            "*Earlier waits* is an experiment, not the product's settings: after the latency "
            "runs, the three workers and the sink were restarted with "
            + ", ".join(
                f"`{k}={v}`"
                for env in pipeline["earlier_waits"]["settings"].values()
                for k, v in env.items()
            )
            + " (the batch waits newsflow had before; by default the workers now "
            f"wait up to {waits['workers']:g} s for a batch to fill and the sink "
            f"{waits['sink']:g} s), and the 50% load ran "
            "again on new files. The watcher's settle period stayed at 0.5 s."
        )
        add("")
    add(
        "Where the time goes, per hop (median / p95 seconds): *noticed* = drop to the "
        "watcher seeing the file; *watcher* = until the file is complete (the settle period "
        "where it applies), reading and parsing; "
        "*dedup*, *entities*, *stance* = from the previous stage's trace time to the stage's "
        "own (waiting on the topic, batching, the work); *sink* = to the row's `stored_at`."
    )
    add("")
    if rows:
        hops = list(rows[0]["latency"]["hops"])
        add("| load | " + " | ".join(hops) + " |")
        add("|---" * (len(hops) + 1) + "|")
        for load in rows:
            cells = [
                f"{_n(load['latency']['hops'][h]['p50'], 2)} / "
                f"{_n(load['latency']['hops'][h]['p95'], 2)}"
                for h in hops
            ]
            add(f"| {_load_name(load)} | " + " | ".join(cells) + " |")
        add("")
    if "latency_hops.png" in images:
        add("![latency hops](benchmarks/latency_hops.png)")
        add("")

    add("### Per stage, at saturation")
    add("")
    add(
        "| process | records/s | CPU ms per record | CPU ms per article in | cores used | "
        "peak RSS MiB |"
    )
    add("|---|---|---|---|---|---|")
    for name, row in stages.items():
        add(
            f"| {name} | {_range(row['records_per_second'])} | "
            f"{_range(row['cpu_ms_per_record'])} | {_range(row['cpu_ms_per_article_in'])} | "
            f"{_range(row['cores'], 2)} | {_mib(row['peak_rss_bytes'])} |"
        )
    add("")
    add(
        f"Summed over the processes (broker included), an article in costs "
        f"**{_n(budget['pipeline_cpu_ms_per_article'])} ms of CPU** in the pipeline against "
        f"**{_n(budget['limit_cpu_ms_per_article'])} ms** in one process: "
        f"{_n(budget['overhead_factor'], 2)} times as much. At that cost {machine['cores']} "
        f"fully free cores carry at most {_n(budget['ceiling_articles_per_second_on_all_cores'])} "
        f"articles/s; the busiest process, {budget['busiest_process']}, alone allows "
        f"{_n(budget['busiest_ceiling_articles_per_second'])} articles/s on one core."
    )
    add("")
    for image in ("cpu_per_article.png", "memory.png"):
        if image in images:
            add(f"![{image[:-4]}](benchmarks/{image})")
            add("")

    add("## Components: the eval commands' speeds")
    add("")
    add("| command | data | per CPU second (one core) | per wall second |")
    add("|---|---|---|---|")
    for figures in results.get("components", {}).values():
        if "skipped" in figures:
            add(f"| `{figures['command']}` | skipped: {figures['skipped']} | | |")
            continue
        cpu = spread(r["per_cpu_second"] for r in figures["runs"])
        wall = spread(r["per_wall_second"] for r in figures["runs"])
        add(
            f"| `{figures['command']}` | {figures['data']} | {_range(cpu, 0)} "
            f"{figures['unit']} | {_range(wall, 0)} {figures['unit']} |"
        )
    add("")
    watcher = results.get("watcher_benchmark")
    sink = results.get("sink_benchmark")
    if watcher or sink:
        add("## The watcher's and the sink's own benchmarks")
        add("")
        add(
            "Run by `make bench` before the rest (tests/benchmarks/watcher.py and sink.py), "
            "each once and smaller than their full runs (50 large files instead of 200; "
            "30% of the sink's records) to keep `make bench` within 20 minutes."
        )
        add("")
    if watcher:
        add(
            f"Watcher, files dropped to records acknowledged on a real broker (load average "
            f"at its end {_loads(watcher.get('load_average', []))}):"
        )
        add("")
        add("| case | files | files/s | MB/s | p50 s | p99 s | CPU s | peak RSS MiB |")
        add("|---|---|---|---|---|---|---|---|")
        for case in watcher.get("cases", []):
            add(
                f"| {case['case']} | {case['files']} | {_n(case['files_per_second'])} | "
                f"{_n(case['megabytes_per_second'], 2)} | {_n(case['latency_p50_seconds'], 2)}"
                f" | {_n(case['latency_p99_seconds'], 2)} | {_n(case['watcher_cpu_seconds'], 1)}"
                f" | {_mib(case['watcher_peak_rss_bytes'])} |"
            )
        add("")
    if sink:
        add("Sink store upserts, no Kafka (each batch one durable transaction):")
        add("")
        add("| store | batch | articles | articles/s | rows/s |")
        add("|---|---|---|---|---|")
        for case in sink.get("sink", []):
            add(
                f"| {case['store']} | {case['batch_size']} | {case['articles']} | "
                f"{_n(case['articles_per_second'])} | {_n(case['rows_per_second'])} |"
            )
        add("")

    found = pipeline.get("profiles", {})
    if found:
        add("## Where the time goes: profiles under load")
        add("")
        profiled = pipeline.get("profiled", {})
        add(
            f"py-spy sampled every service at {found[next(iter(found))]['rate']} Hz for "
            f"{_n(pipeline.get('profiles_seconds'), 0)} s while a run of "
            f"{profiled.get('files', '?')} files went through at saturation "
            f"({_n(profiled.get('articles_per_second'), 2)} articles/s with the sampler "
            "attached). Shares are of the samples in which a thread of the process was "
            "running; a stack is model time wherever the model is on it, else it belongs to "
            "the innermost library that names a kind of work."
        )
        add("")
        if "profiles.png" in images:
            add("![profiles](benchmarks/profiles.png)")
            add("")
        for name, summary in found.items():
            add(f"**{name}** ({summary['samples']} samples)")
            add("")
            add("| kind of work | share |")
            add("|---|---|")
            for kind, share in summary["by_kind"]:
                if share >= 0.01:
                    add(f"| {kind} | {100 * share:.0f}% |")
            add("")
            add(
                "Top frames (own time): "
                + "; ".join(f"`{f}` {100 * s:.0f}%" for f, s in summary["top_self"][:8])
                + "."
            )
            add("")
    add(limits(results, head, stages, budget))
    if FIXES.is_file():
        add(FIXES.read_text().strip())
        add("")
    return "\n".join(lines) + "\n"


COUNTERPARTS = {"watcher": "parse", "dedup": "dedup", "entities": "entities",
                "stance": "stance", "sink": "store", "broker": None}  # fmt: skip


def limits(results: dict, head: dict, stages: dict, budget: dict) -> str:
    """What holds the pipeline below the limit and above the latency target, in figures."""
    lines = ["## What limits the pipeline", ""]
    add = lines.append
    runs = results["limit"]["runs"]
    waits = _batch_waits(results.get("pipeline", {}))
    add(
        "CPU per article in, each process of the pipeline beside the same code in one "
        "process (medians over the saturation runs and the limit's runs):"
    )
    add("")
    add("| process | pipeline CPU ms per article | limit's stage | limit CPU ms per article "
        "| added by the pipeline | most articles/s on one core |")  # fmt: skip
    add("|---|---|---|---|---|---|")
    for name, row in stages.items():
        mine = row["cpu_ms_per_article_in"]["median"]
        stage = COUNTERPARTS.get(name)
        theirs = (
            statistics.median(1000 * r["stages"][stage]["cpu_seconds"] / r["files"] for r in runs)
            if stage
            else 0.0
        )
        add(
            f"| {name} | {_n(mine)} | {stage or 'none'} | {_n(theirs)} | "
            f"{_n(mine - theirs if mine is not None else None)} | "
            f"{_n(1000 / mine if mine else None)} |"
        )
    add("")
    cores = results["machine"]["cores"]
    saturation = results.get("pipeline", {}).get("saturation", [])
    used = spread(r["processes"]["_machine"]["pipeline_cores"] for r in saturation)
    others = spread(r["processes"]["_machine"]["other_cores"] for r in saturation)
    add(
        f"- **CPU.** At saturation the pipeline's processes used {_range(used, 2)} of the "
        f"{cores} cores and other programs {_range(others, 2)}. An article costs "
        f"{_n(budget['pipeline_cpu_ms_per_article'])} ms of CPU in the pipeline and "
        f"{_n(budget['limit_cpu_ms_per_article'])} ms in one process "
        f"({_n(budget['overhead_factor'], 2)} times): on all {cores} cores and nothing else "
        f"the pipeline would reach {_n(_inverse(budget['overhead_factor']), 2)} of the "
        "limit; the rest of the gap is cores left unused. The harness's own CPU "
        "(dropping files, polling the store) is counted neither with the pipeline nor with "
        "the other programs."
    )
    add(
        "- **Latency floor.** Before any work, an article waits until the watcher finds it "
        "complete (at once for a file closed or renamed into the inbox; the settle period "
        f"otherwise), for up to `BATCH_SECONDS` ({waits['workers']:g} s) at each of the three "
        f"workers while a batch fills, and for the sink's batch timeout ({waits['sink']:g} s)."
        + _floor(results.get("pipeline", {}))
    )
    add("")
    return "\n".join(lines)


def _inverse(value: float | None) -> float | None:
    return 1 / value if value else None


def _verdict(results: dict, head: dict, stages: dict, budget: dict) -> str:
    parts = []
    if head["ratio_met"] and head["p95_met"]:
        parts.append("**Done when: met** on this run: ratio and p95 at 50% load are in target.")
    else:
        missing = []
        if not head["ratio_met"]:
            missing.append(f"the ratio is {_n(head['ratio'], 2)} (target ≥ {TARGET_RATIO})")
        if not head["p95_met"]:
            missing.append(
                f"p95 at 50% load is {_n(head['p95_at_half_load_seconds'], 2)} s "
                f"(target ≤ {TARGET_P95_SECONDS:.0f} s)"
            )
        parts.append("**Done when: not met** on this run: " + "; ".join(missing) + ".")
    busiest = budget["busiest_process"]
    parts.append(
        f"The pipeline spends {_n(budget['pipeline_cpu_ms_per_article'])} ms of CPU per "
        f"article against the limit's {_n(budget['limit_cpu_ms_per_article'])} ms "
        f"({_n(budget['overhead_factor'], 2)} times), across {len(stages)} processes on "
        f"{results['machine']['cores']} cores shared with other programs "
        f"({_range(head['other_processes_cores'], 2)} cores); the busiest process is "
        f"{busiest} at {_range(stages[busiest]['cores'], 2)} cores. See *What limits the "
        "pipeline* below."
    )
    return " ".join(parts)


def _batch_waits(pipeline: dict) -> dict[str, float]:
    # Reports from before the waits were recorded ran with these.
    return pipeline.get("batch_waits", {"workers": 0.05, "sink": 0.1})


def _floor(pipeline: dict) -> str:
    half = next((x for x in pipeline.get("loads", []) if x["share_of_saturation"] == 0.5), None)
    if half is None:
        return ""
    hops = {name: figures["p50"] or 0.0 for name, figures in half["latency"]["hops"].items()}
    workers = sum(hops.get(name, 0.0) for name in ("dedup", "entities", "stance"))
    text = (
        f" At 50% load the median hops were {_n(hops.get('noticed'), 2)} s until the watcher "
        f"noted the file, {_n(hops.get('watcher'), 2)} s in the watcher, {_n(workers, 2)} s "
        f"in the three workers together and {_n(hops.get('sink'), 2)} s in the sink, for a "
        f"median latency of {_n(half['latency']['p50'], 2)} s."
    )
    earlier = pipeline.get("earlier_waits")
    if earlier:
        text += (
            f" With the earlier batch waits (workers 0.25 s, sink 0.5 s) the same load gave "
            f"{_n(earlier['latency']['p50'], 2)} s median and {_n(earlier['latency']['p95'], 2)} s "
            "p95 (*earlier waits* above)."
        )
    return text


def _load_name(load: dict) -> str:
    name = f"{int(100 * load['share_of_saturation'])}%"
    return f"{name}, earlier waits" if "settings" in load else name


def _loads(values) -> str:
    return ", ".join(f"{v:.2f}" for v in values) if values else "n/a"


def _total_minutes(results: dict) -> str:
    total = results.get("make_bench_seconds")
    if total is None:
        return "see the run's log"
    return f"{total / 60:.1f} minutes in all"


def write(results: dict, folder: Path, json_path: Path) -> None:
    head = headline(results)
    stages = per_stage(results)
    budget = cpu_budget(results, stages) if stages else {}
    results["headline"] = head
    results["per_stage"] = stages
    results["cpu_budget"] = budget
    images = plots(results, folder / "benchmarks", stages, head) if stages else []
    json_path.write_text(json.dumps(results, indent=1) + "\n")
    (folder / "benchmarks.md").write_text(markdown(results, head, stages, budget, images))
