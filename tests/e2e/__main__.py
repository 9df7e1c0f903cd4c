"""`python -m tests.e2e run|chaos --articles N --seed S`: the whole pipeline on its own
broker, with a summary table; exit code 1 when a guarantee did not hold.

`chaos` first runs the same corpus without faults, then with them, and compares the stores.
`run --instances 2 [--kill-midstream]` runs two processes of every worker and the sink, the
sink on a PostgreSQL server of the run's own (`--store-url` for another), and SIGKILLs the
second of each while it works.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

from .corpus import generate
from .faults import ChaosPlan
from .runs import run, summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.e2e", description=__doc__)
    parser.add_argument("mode", choices=["run", "chaos"])
    parser.add_argument("--articles", type=int, default=500)
    parser.add_argument("--seed", type=int, help="corpus and faults (default: random, printed)")
    parser.add_argument("--kills", type=int, default=12, help="chaos: SIGKILLs of services")
    parser.add_argument("--drains", type=int, default=4, help="chaos: SIGTERMs of services")
    parser.add_argument("--broker-seconds", type=float, default=20.0)
    parser.add_argument("--store-seconds", type=float, default=30.0)
    parser.add_argument(
        "--pause-sink",
        action="store_true",
        help="run: stop the sink until everything upstream is done (backpressure), then resume",
    )
    parser.add_argument(
        "--instances", type=int, default=1, help="run: processes of each worker and the sink"
    )
    parser.add_argument(
        "--kill-midstream",
        action="store_true",
        help="run: SIGKILL the second instance of each while it works, never restart it",
    )
    parser.add_argument(
        "--store-url",
        help="the sink's store (default: SQLite; with --instances above 1, a PostgreSQL "
        "server started for the run)",
    )
    parser.add_argument("--root", type=Path, help="run folder (default: a temporary one)")
    parser.add_argument("--keep", action="store_true", help="keep the run folder")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    logging.getLogger("kafka").setLevel(logging.ERROR)  # reconnects are the point of chaos

    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(1_000_000)
    scale = f" --instances {args.instances}" if args.instances > 1 else ""
    scale += " --kill-midstream" if args.kill_midstream else ""
    print(f"seed {seed} (replay: python -m tests.e2e {args.mode}{scale} --articles "
          f"{args.articles} --seed {seed})", flush=True)  # fmt: skip
    root = args.root or Path(tempfile.mkdtemp(prefix="newsflow-e2e-"))
    corpus = generate(args.articles, seed)
    started = time.monotonic()
    stack = contextlib.ExitStack()
    try:
        store_url = args.store_url
        if args.instances > 1 and store_url is None:
            store_url = stack.enter_context(_postgres()).create_database("newsflow_e2e")
        baseline = run(
            corpus,
            root / "fault-free",
            pause_sink=args.pause_sink,
            instances=args.instances,
            store_url=store_url,
            kill_midstream=args.kill_midstream,
        )
        baseline.save(root / "fault-free-store.json")
        title = "run with the sink paused" if args.pause_sink else "fault-free run"
        if args.instances > 1:
            title += f", {args.instances} instances of each worker and the sink"
            title += ", the second SIGKILLed mid-stream" if args.kill_midstream else ""
        print(summary(baseline, title), flush=True)
        ok = baseline.ok
        if args.mode == "chaos":
            plan = ChaosPlan(
                seed,
                kills=args.kills,
                drains=args.drains,
                broker_seconds=args.broker_seconds,
                store_seconds=args.store_seconds,
            )
            chaos = run(corpus, root / "chaos", plan)
            from .checks import compare

            chaos.differences = compare(chaos.stored, baseline.stored)
            print(summary(chaos, "chaos run"), flush=True)
            ok = ok and chaos.ok
        print(f"total {time.monotonic() - started:.0f} s; run folder {root}", flush=True)
    finally:
        stack.close()
        if not args.keep and args.root is None:
            shutil.rmtree(root, ignore_errors=True)
    return 0 if ok else 1


@contextlib.contextmanager
def _postgres():
    """A PostgreSQL server of the run's own (tests/support/postgres.py), removed afterwards."""
    from tests.support.postgres import LocalPostgres

    from .pipeline import free_port

    server = LocalPostgres(port=free_port()).init().start()
    try:
        yield server
    finally:
        server.remove()


if __name__ == "__main__":
    sys.exit(main())
