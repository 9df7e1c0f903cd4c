"""`newsflow …`: starts a service (`newsflow watcher`) or runs a tool (`newsflow topics`).

Service modules are imported only when their command runs, so a tool never pays for
loading another service's dependencies (Faust, models).
"""

import importlib
import signal
import sys
import time
from pathlib import Path

import click
from kafka.errors import KafkaError

from newsflow import __version__
from newsflow.core import schemas as record_schemas
from newsflow.core.records import StanceLabel
from newsflow.core.settings import KafkaSettings, SettingsError, load
from newsflow.core.topics import DEADLETTER, RAW
from newsflow.runtime import kafka as newsflow_kafka

# Service name -> "module:function" running it until it is asked to stop. A new service is
# added here; compose, make up and the tests follow this list.
SERVICES: dict[str, str] = {
    "watcher": "newsflow.watcher.service:main",
    "dedup": "newsflow.dedup.service:main",
    "entities": "newsflow.entities.service:main",
    "sink": "newsflow.sink.service:main",
    "stance": "newsflow.stance.service:main",
}
SERVICE_COMMANDS: tuple[str, ...] = tuple(SERVICES)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="newsflow")
def cli() -> None:
    """newsflow: news article files in, de-duplicated, tagged, stance-classified records out."""


def _stop_while_starting(_signum: int, _frame: object) -> None:
    raise SystemExit(0)


def _service_command(name: str, target: str) -> click.Command:
    def run() -> None:
        # Until the service installs its own handler (once it has work to drain), SIGTERM
        # while it starts (loading a model, waiting for the broker) ends it cleanly.
        signal.signal(signal.SIGTERM, _stop_while_starting)
        module_name, function_name = target.split(":")
        run_service = getattr(importlib.import_module(module_name), function_name)
        try:
            run_service()
        except (SettingsError, newsflow_kafka.KafkaAuthenticationError) as error:
            # Configuration the operator must fix: a restart with the same settings won't help.
            click.echo(f"newsflow {name}: {error}", err=True)
            sys.exit(2)

    return click.Command(name, callback=run, help=f"Run the {name} service until SIGTERM.")


for _name, _target in SERVICES.items():
    cli.add_command(_service_command(_name, _target))


@cli.command()
@click.option("--replication-factor", type=int, help="Default: min(3, brokers in the cluster).")
@click.option(
    "--wait",
    "wait_seconds",
    default=60.0,
    show_default=True,
    help="Seconds to wait for the broker to answer.",
)
def topics(replication_factor: int | None, wait_seconds: float) -> None:
    """Create or update newsflow's topics as declared (safe to run again)."""
    try:
        settings = load(KafkaSettings)
    except SettingsError as error:
        raise click.ClickException(str(error)) from None
    try:
        client = newsflow_kafka.admin(settings, bootstrap_timeout_ms=int(wait_seconds * 1000))
    except newsflow_kafka.KafkaAuthenticationError as error:
        raise click.ClickException(str(error)) from None
    except KafkaError as error:
        # kafka-python can miss a refused login that arrives together with the broker
        # closing the connection; then the timeout is all there is to report.
        maybe_login = (
            "; or the brokers refused the login (NEWSFLOW_KAFKA_SASL_USERNAME, "
            "NEWSFLOW_KAFKA_SASL_PASSWORD)"
            if settings.sasl_mechanism
            else ""
        )
        raise click.ClickException(
            f"no Kafka broker answered at {settings.bootstrap_servers} within "
            f"{wait_seconds:.0f}s (NEWSFLOW_KAFKA_BOOTSTRAP_SERVERS): {error}{maybe_login}"
        ) from None
    try:
        report = newsflow_kafka.ensure_topics(client, replication_factor=replication_factor)
    finally:
        client.close()
    for outcome in ("created", "repartitioned", "reconfigured", "unchanged"):
        names = getattr(report, outcome)
        if names:
            click.echo(f"{outcome}: {', '.join(names)}")


@cli.command()
@click.option(
    "--out",
    "directory",
    type=click.Path(path_type=Path),
    default=Path("schemas"),
    show_default=True,
)
@click.option("--check", is_flag=True, help="Only report files that differ from the models.")
def schemas(directory: Path, check: bool) -> None:
    """Write the JSON Schema of every topic's record, generated from the models."""
    if check:
        stale = record_schemas.stale(directory)
        if stale:
            raise click.ClickException(
                f"out of date in {directory}/: {', '.join(stale)}; run `make schemas`"
            )
        click.echo(f"{directory}/ matches the record models")
        return
    for path in record_schemas.write_all(directory):
        click.echo(f"wrote {path}")


@cli.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--raw-topic", default=RAW.name, show_default=True)
@click.option("--deadletter-topic", default=DEADLETTER.name, show_default=True)
@click.option("--max-file-bytes", default=10 * 1024 * 1024, show_default=True)
@click.option("--progress/--no-progress", default=True, show_default=True)
def ingest(
    paths: tuple[Path, ...],
    raw_topic: str,
    deadletter_topic: str,
    max_file_bytes: int,
    progress: bool,
) -> None:
    """Send existing files or folders once, as the watcher would (files are not moved).

    Exits 1 when any file or line failed.
    """
    from newsflow.watcher.ingest import ingest as run_ingest

    try:
        settings = load(KafkaSettings)
    except SettingsError as error:
        raise click.ClickException(str(error)) from None
    summary = run_ingest(
        list(paths), settings, raw_topic, deadletter_topic, max_file_bytes, progress
    )
    click.echo(
        f"files: {summary.files}  sent: {summary.sent} ({summary.articles} articles)  "
        f"duplicates by content: {summary.duplicate_files}  "
        f"failed: {sum(summary.failed.values())}"
    )
    for reason, count in sorted(summary.failed.items()):
        click.echo(f"  {reason}: {count}")
    if summary.refused_by_kafka:
        click.echo(f"records Kafka did not acknowledge: {summary.refused_by_kafka}", err=True)
    if not summary.ok:
        sys.exit(1)


@cli.command()
@click.option("--entity", help="Articles mentioning this entity (its canonical name, any case).")
@click.option(
    "--stance",
    type=click.Choice([label.value for label in StanceLabel]),
    help="With --entity: only articles with this stance toward a claim.",
)
@click.option("--claim", help="With --entity or --claims: only this claim (its id or text).")
@click.option("--story", "story_id", help="The articles of a story (its story id).")
@click.option(
    "--claims",
    "claim_counts",
    is_flag=True,
    help="Stance counts per claim (with --entity: among articles mentioning it).",
)
@click.option(
    "--format",
    "output",
    type=click.Choice(["table", "json"]),
    default="table",
    show_default=True,
)
@click.option("--limit", default=50, show_default=True, type=click.IntRange(min=1))
@click.option(
    "--store",
    "store_url",
    metavar="URL",
    # The sink's own variable: one place for the URL (and its password), never the command
    # line, where every user of the machine can read it.
    envvar="NEWSFLOW_SINK_STORE_URL",
    show_envvar=True,
    help="The store to read (default: the sink's store, sqlite:///./data/newsflow.db unless "
    "set in the environment or .env).",
)
def query(
    entity: str | None,
    stance: str | None,
    claim: str | None,
    story_id: str | None,
    claim_counts: bool,
    output: str,
    limit: int,
    store_url: str | None,
) -> None:
    """Answer common questions about the stored articles, without SQL.

    \b
      newsflow query --entity "Mike Pompeo" --stance disagree
      newsflow query --story 3f2a...        (the articles of a story)
      newsflow query --claims --format json (stance counts per claim)
    """
    from newsflow.sink import query as questions
    from newsflow.sink.exceptions import StoreError
    from newsflow.sink.settings import SinkSettings
    from newsflow.sink.stores import open_store

    asked = sum([bool(entity) and not claim_counts, bool(story_id), claim_counts])
    if asked != 1:
        raise click.UsageError("ask one question: --entity NAME, --story ID or --claims")
    if (stance or claim) and not (entity or claim_counts):
        raise click.UsageError("--stance and --claim narrow --entity or --claims")
    if story_id and (entity or stance or claim):
        raise click.UsageError("--story takes no other filter")
    try:
        store = open_store(store_url or load(SinkSettings).store_url)
        store.open(for_queries=True)
    except (SettingsError, StoreError) as error:
        raise click.ClickException(str(error)) from None
    try:
        if claim_counts:
            answer = questions.claims(store, entity, claim, limit)
        elif story_id:
            answer = questions.story(store, story_id, limit)
        else:
            answer = questions.mentions(store, entity, stance, claim, limit)
    except StoreError as error:
        raise click.ClickException(str(error)) from None
    finally:
        store.close()
    click.echo(questions.render(answer, output))


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Where the services run.")
@click.option(
    "--port",
    "ports",
    multiple=True,
    metavar="SERVICE=PORT",
    help="A service's status port (default: its NEWSFLOW_<SERVICE>_METRICS_PORT, else "
    "9101-9105; the further instances `make up` started, from .run/). SERVICE may name an "
    "instance: stance-2.",
)
@click.option(
    "--interval",
    default=1.0,
    show_default=True,
    type=click.FloatRange(min=0.1),
    help="Seconds between the two readings records/s is computed from.",
)
@click.option(
    "--watch",
    is_flag=True,
    help="Refresh until Ctrl-C instead of printing once.",
)
def status(host: str, ports: tuple[str, ...], interval: float, watch: bool) -> None:
    """Per service: up, ready (or why not), records/s in, consumer lag, last error.

    Read from each service's own /metrics and /readyz. Exits 1 when any service is down
    or not ready (0 when all are), so scripts can wait on it.
    """
    import shutil

    from newsflow.cli import status as pipeline_status

    try:
        first = load(pipeline_status.StatusSettings).ports()
    except SettingsError as error:
        raise click.ClickException(str(error)) from None
    where = pipeline_status.with_local_instances(first)
    for given in ports:
        service, _, port = given.partition("=")
        if pipeline_status.service_of(service) not in first or not port.isdigit():
            raise click.BadParameter(
                f"{given!r}: expected SERVICE=PORT with SERVICE one of {', '.join(first)} "
                "(or an instance after the first: stance-2)",
                param_hint="--port",
            )
        where[service] = int(port)
    try:
        while True:
            statuses = pipeline_status.status(where, host, interval)
            width = shutil.get_terminal_size((120, 24)).columns
            if watch:
                click.clear()
                click.echo(time.strftime("%H:%M:%S  newsflow status (Ctrl-C to stop)"))
            click.echo(pipeline_status.table(statuses, width))
            if not watch:
                sys.exit(0 if all(s.healthy for s in statuses) else 1)
            time.sleep(max(2.0 - interval, 0.0))
    except KeyboardInterrupt:
        return


@cli.group(name="eval")
def eval_group() -> None:
    """Score a stage's logic on a development stream (no Kafka)."""


@eval_group.command(name="entities")
@click.argument("conll_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the figures as one JSON object.")
@click.option(
    "--predictions",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the input back with the predicted tag (IOB2) as a last column.",
)
@click.option(
    "--model",
    "model_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("models/ner"),
    show_default=True,
)
@click.option("--model-only", is_flag=True, help="Score the model without the document rules.")
def eval_entities(
    conll_file: Path, as_json: bool, predictions: Path | None, model_dir: Path, model_only: bool
) -> None:
    """Tag CONLL_FILE's tokens; print conlleval's precision, recall, F1 and words/s."""
    import json

    from newsflow.entities.conll import ConllFormatError
    from newsflow.entities.tagging import ModelError
    from newsflow.lab.entities.evaluation import evaluate, format_report

    try:
        report = evaluate(conll_file, model_dir, predictions, harmonised=not model_only)
    except (ConllFormatError, ModelError) as error:
        raise click.ClickException(f"{conll_file}: {error}") from None
    click.echo(json.dumps(report.figures()) if as_json else format_report(report))


@eval_group.command(name="dedup")
@click.argument("stream", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the figures as one JSON object.")
@click.option(
    "--predictions",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write one JSON line per article: id, verdict, duplicate_of, story_id.",
)
def eval_dedup(stream: Path, as_json: bool, predictions: Path | None) -> None:
    """Feed STREAM.jsonl through the dedup logic in file order and score copies and stories."""
    import json

    from newsflow.core.sentences import SentenceEncoder, SentenceEncoderError
    from newsflow.lab.dedup.evaluation import StreamError, evaluate, format_report, read_stream

    try:
        # The worker's encoder: stories are matched by meaning as well as by words.
        meaning = SentenceEncoder().vector
        report = evaluate(read_stream(stream), predictions_path=predictions, meaning=meaning)
    except (StreamError, SentenceEncoderError) as error:
        raise click.ClickException(f"{stream}: {error}") from None
    click.echo(json.dumps(report.figures()) if as_json else format_report(report))


# Where the FNC-1 training files are read from (never copied into the repository).
fnc1_option = click.option(
    "--fnc1",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    default=Path("../shared/data/fnc1"),
    show_default=True,
    help="Folder with FNC-1's train_bodies.csv and train_stances.csv.",
)


@eval_group.command(name="build-dedup-stream")
@fnc1_option
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path("data/dev/dedup-stream.jsonl"),
    show_default=True,
)
@click.option("--seed", default=13, show_default=True)
def build_dedup_stream(fnc1: Path, out: Path, seed: int) -> None:
    """Build the dedup development stream from FNC-1 (keep it out of the repository)."""
    from newsflow.lab.dedup.devstream import DevStreamError, build

    try:
        summary = build(fnc1, out, seed)
    except DevStreamError as error:
        raise click.ClickException(str(error)) from None
    click.echo(
        f"wrote {out}: {summary.articles} articles ({summary.originals} originals, "
        f"{summary.copies} made copies, {summary.real_copy_pairs} real copy pairs), "
        f"{summary.stories} stories"
    )


@eval_group.command(name="stance")
@click.option(
    "--bodies",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="FNC-1-format bodies: `Body ID,articleBody`.",
)
@click.option(
    "--stances",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="FNC-1-format pairs: `Headline,Body ID[,Stance]` (without Stance: predictions only).",
)
@click.option(
    "--model",
    "which",
    type=click.Choice(["ours", "baseline", "both"]),
    default="ours",
    show_default=True,
    help="Our stance model, the FNC-1 baseline (reference), or both in the same run.",
)
@click.option(
    "--model-dir",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    default=Path("models/stance"),
    show_default=True,
    help="Folder holding the trained models.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the figures as one JSON object.")
@click.option(
    "--predictions",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write `Headline,Body ID,Stance` rows in the input's order (with --model both, the "
    "baseline's go beside it, named <name>.baseline.csv).",
)
def eval_stance(
    bodies: Path,
    stances: Path,
    which: str,
    model_dir: Path,
    as_json: bool,
    predictions: Path | None,
) -> None:
    """Label FNC-1-format pairs and print the FNC score, macro-F1, F1 per class, the
    confusion matrix and pairs per second on one core.

    With --model both and --json, the object has one member per model (`ours`, `baseline`).
    """
    import json

    from newsflow.lab.stance.baseline import BaselineModel
    from newsflow.lab.stance.evaluation import evaluate, format_report, write_predictions
    from newsflow.lab.stance.fnc import FncFormatError, read_dataset
    from newsflow.stance.model import ModelError, StanceModel

    try:
        data = read_dataset(bodies, stances)
    except FncFormatError as error:
        raise click.ClickException(str(error)) from None
    names = ["ours", "baseline"] if which == "both" else [which]
    loaders = {"ours": StanceModel.load, "baseline": BaselineModel.load}
    reports = []
    for name in names:
        try:
            model = loaders[name](model_dir)
        except ModelError as error:
            raise click.ClickException(str(error)) from None
        report = evaluate(model, name, data)
        reports.append(report)
        if predictions is not None:
            path = predictions
            if name == "baseline" and which == "both":
                path = predictions.with_name(predictions.stem + ".baseline" + predictions.suffix)
            write_predictions(report, data, path)
    if as_json:
        if len(reports) == 1:
            click.echo(json.dumps(reports[0].figures()))
        else:
            click.echo(json.dumps({report.model: report.figures() for report in reports}))
    else:
        click.echo("\n\n".join(format_report(report) for report in reports))


@eval_group.command(name="build-stance-split")
@fnc1_option
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("data/dev/fnc1-split"),
    show_default=True,
)
def build_stance_split(fnc1: Path, out: Path) -> None:
    """Write FNC-1's official development split (by body id) as FNC-format files:
    train_bodies.csv, train_stances.csv, holdout_bodies.csv, holdout_stances.csv
    (keep them out of the repository)."""
    from newsflow.lab.stance import fnc

    try:
        training, holdout = fnc.official_split(fnc.read_training_data(fnc1))
    except fnc.FncFormatError as error:
        raise click.ClickException(str(error)) from None
    for name, part in (("train", training), ("holdout", holdout)):
        fnc.write_bodies(part.bodies, out / f"{name}_bodies.csv")
        fnc.write_stances(part.pairs, [p.stance for p in part.pairs], out / f"{name}_stances.csv")
        click.echo(
            f"wrote {out}/{name}_bodies.csv, {name}_stances.csv: "
            f"{len(part.bodies)} bodies, {len(part.pairs)} pairs"
        )
