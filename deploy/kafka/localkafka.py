"""Run a single-node Apache Kafka broker (KRaft, no ZooKeeper) locally without Docker.

The jars come from Maven via deploy/kafka/pom.xml and are cached; the broker runs as a
plain `java` process. Stdlib only, so it works before any virtualenv exists and pytest
fixtures can load it by file path.
"""

import argparse
import base64
import contextlib
import dataclasses
import hashlib
import logging
import os
import re
import shlex
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, NoReturn

KAFKA_VERSION = "3.9.1"

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parent.parent
POM = HERE / "pom.xml"
LOG4J_CONFIG = HERE / "log4j.properties"

# Written inside the temporary download folder before it is renamed into place, so a
# libs folder carrying it is complete by construction.
MARKER_NAME = ".newsflow-complete"
TAIL_LINES = 40

log = logging.getLogger("localkafka")

__all__ = [
    "KAFKA_VERSION",
    "KafkaFetchError",
    "KafkaStartError",
    "LocalKafka",
    "LocalKafkaError",
    "default_cache",
    "probe",
]


class LocalKafkaError(RuntimeError):
    """Base class for every failure reported by this module."""


class KafkaStartError(LocalKafkaError):
    """The broker could not be started or did not become ready."""


class KafkaFetchError(KafkaStartError):
    """Downloading the Kafka jars with Maven failed."""


def default_cache() -> Path:
    env = os.environ.get("NEWSFLOW_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "newsflow"


def _default_home() -> Path:
    return REPO_ROOT / ".kafka"


# --------------------------------------------------------------------------------------
# Minimal Kafka wire protocol, just enough to tell "socket open" from "broker serving".
# --------------------------------------------------------------------------------------

_API_METADATA = 3
_API_VERSIONS = 18
_CLIENT_ID = b"localkafka-probe"


def _recv_exact(sock: socket.socket, n: int) -> bytes:
    buf = bytearray()
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise ConnectionError("broker closed the connection")
        buf += chunk
    return bytes(buf)


def _request(sock: socket.socket, api_key: int, correlation_id: int, body: bytes = b"") -> bytes:
    """Send a v0 request (header v1) and return the response after its correlation id."""
    header = struct.pack(">hhih", api_key, 0, correlation_id, len(_CLIENT_ID)) + _CLIENT_ID
    payload = header + body
    sock.sendall(struct.pack(">i", len(payload)) + payload)
    (size,) = struct.unpack(">i", _recv_exact(sock, 4))
    response = _recv_exact(sock, size)
    (got,) = struct.unpack_from(">i", response, 0)
    if got != correlation_id:
        raise ConnectionError(f"correlation id mismatch: sent {correlation_id}, got {got}")
    return response[4:]


def probe(host: str, port: int, timeout: float = 2.0) -> bool:
    """True if a Kafka broker at host:port answers ApiVersions and lists itself in Metadata.

    An open port could belong to anything; ApiVersions shows it speaks Kafka, and
    Metadata v0 with an empty topic array ("all topics" in v0) shows the broker has
    registered with the controller, because only live brokers are listed.
    """
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.settimeout(timeout)
            body = _request(sock, _API_VERSIONS, 1)
            (error_code,) = struct.unpack_from(">h", body, 0)
            if error_code != 0:
                return False
            body = _request(sock, _API_METADATA, 2, struct.pack(">i", 0))
            (broker_count,) = struct.unpack_from(">i", body, 0)
            return broker_count >= 1
    except (OSError, struct.error):
        return False


# --------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------


def _port_free(host: str, port: int) -> bool:
    family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        # SO_REUSEADDR mirrors what the JVM does: a port only held by TIME_WAIT sockets
        # from a broker that just stopped is usable, one with a listener is not.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def _tail(path: Path, lines: int = TAIL_LINES) -> list[str]:
    try:
        with path.open("rb") as fh:
            fh.seek(0, os.SEEK_END)
            # Reading only the end keeps this cheap on a long-lived log.
            fh.seek(max(0, fh.tell() - 256 * 1024))
            data = fh.read().decode("utf-8", errors="replace")
    except OSError:
        return []
    return data.splitlines()[-lines:]


def _prop_escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n")


def _random_cluster_id() -> str:
    # Same shape as org.apache.kafka.common.Uuid.randomUuid(): 16 random bytes,
    # url-safe base64 without padding, never starting with '-' (it would read as a flag).
    while True:
        cid = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode("ascii").rstrip("=")
        if not cid.startswith("-"):
            return cid


def _which(name: str, hint: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise KafkaStartError(f"'{name}' not found on PATH: {hint}")
    return found


def _java() -> str:
    java_home = os.environ.get("JAVA_HOME")
    if java_home and (Path(java_home) / "bin" / "java").is_file():
        return str(Path(java_home) / "bin" / "java")
    return _which("java", "install a Java 17+ runtime or set JAVA_HOME")


def _cmdline(pid: int) -> str | None:
    """Command line of pid, '' if unknown on this platform, None if no such process."""
    proc = Path(f"/proc/{pid}")
    if proc.is_dir():
        try:
            if proc.joinpath("stat").read_text().rsplit(")", 1)[1].split()[0] == "Z":
                return None  # a zombie has exited; it only waits to be reaped
            return (
                proc.joinpath("cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            )
        except (OSError, IndexError):
            return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        pass
    return ""


# --------------------------------------------------------------------------------------
# The broker
# --------------------------------------------------------------------------------------


@dataclasses.dataclass
class LocalKafka:
    """A local single-node KRaft broker whose state lives under ``home``."""

    home: Path = dataclasses.field(default_factory=_default_home)
    port: int = 9092
    controller_port: int = 9093
    host: str = "127.0.0.1"
    cache: Path = dataclasses.field(default_factory=default_cache)
    heap: str = "-Xms256m -Xmx768m"

    _proc: subprocess.Popen[bytes] | None = dataclasses.field(
        default=None, init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        self.home = Path(self.home).expanduser().absolute()
        self.cache = Path(self.cache).expanduser().absolute()

    # ---- paths -----------------------------------------------------------------------

    @property
    def libs_dir(self) -> Path:
        return self.cache / f"kafka-{KAFKA_VERSION}" / "libs"

    @property
    def data_dir(self) -> Path:
        return self.home / "data"

    @property
    def logs_dir(self) -> Path:
        return self.home / "logs"

    @property
    def config_path(self) -> Path:
        return self.home / "server.properties"

    @property
    def pid_path(self) -> Path:
        return self.home / "kafka.pid"

    @property
    def out_path(self) -> Path:
        return self.logs_dir / "kafka.out"

    @property
    def bootstrap_servers(self) -> str:
        return f"{self.host}:{self.port}"

    # ---- jars ------------------------------------------------------------------------

    def is_fetched(self) -> bool:
        return (self.libs_dir / MARKER_NAME).is_file()

    def fetch(self) -> Path:
        """Make sure the Kafka jars are in the cache; returns the libs folder.

        A complete cache is used as is, without Maven and without the network.
        """
        libs = self.libs_dir
        if self.is_fetched():
            return libs
        mvn = _which("mvn", "install Apache Maven to download the Kafka jars once")
        libs.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=".libs-", dir=libs.parent))
        try:
            log.info(
                "downloading Kafka %s jars with Maven into %s (first run only)", KAFKA_VERSION, libs
            )
            cmd = [
                mvn,
                "-q",
                "-B",
                "-f",
                str(POM),
                "dependency:copy-dependencies",
                "-DincludeScope=runtime",
                f"-DoutputDirectory={tmp}",
            ]
            result = subprocess.run(
                cmd,
                cwd=HERE,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
            jars = sorted(p.name for p in tmp.glob("*.jar"))
            if result.returncode != 0 or not any(j.startswith("kafka_2.13-") for j in jars):
                # Maven prints colour resets even with -B; they only garble the message.
                output = re.sub(r"\x1b\[[0-9;]*m", "", result.stdout).strip() or "(no output)"
                raise KafkaFetchError(
                    f"Maven could not download the Kafka jars (exit code {result.returncode}).\n"
                    f"command: {shlex.join(cmd)}\n--- Maven output ---\n{output}"
                )
            pom_sha = hashlib.sha256(POM.read_bytes()).hexdigest()
            (tmp / MARKER_NAME).write_text(
                f"kafka {KAFKA_VERSION}\npom sha256 {pom_sha}\n" + "".join(f"{j}\n" for j in jars)
            )
            if libs.exists():
                if self.is_fetched():
                    return libs  # another process finished first; its copy is as good
                shutil.rmtree(libs)  # left over from an interrupted older copy
            try:
                os.rename(tmp, libs)
            except OSError:
                if not self.is_fetched():
                    raise
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        return libs

    # ---- configuration ---------------------------------------------------------------

    def server_properties(
        self, extra_properties: Mapping[str, str | None] | None = None
    ) -> dict[str, str]:
        """Broker configuration; ``extra_properties`` wins, a ``None`` value drops a key."""
        props = {
            "process.roles": "broker,controller",
            "node.id": "1",
            "controller.quorum.voters": f"1@{self.host}:{self.controller_port}",
            "listeners": f"PLAINTEXT://{self.host}:{self.port},CONTROLLER://{self.host}:{self.controller_port}",
            "advertised.listeners": f"PLAINTEXT://{self.host}:{self.port}",
            "inter.broker.listener.name": "PLAINTEXT",
            "controller.listener.names": "CONTROLLER",
            "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
            "log.dirs": str(self.data_dir),
            "num.partitions": "3",
            # Topics are created explicitly (the app, and Faust via the admin API);
            # auto-creation would hide typos in topic names.
            "auto.create.topics.enable": "false",
            "offsets.topic.replication.factor": "1",
            "transaction.state.log.replication.factor": "1",
            "transaction.state.log.min.isr": "1",
            "group.initial.rebalance.delay.ms": "0",
        }
        for key, value in (extra_properties or {}).items():
            if value is None:
                props.pop(key, None)
            else:
                props[key] = str(value)
        return props

    def write_config(self, extra_properties: Mapping[str, str | None] | None = None) -> Path:
        props = self.server_properties(extra_properties)
        lines = ["# Generated by deploy/kafka/localkafka.py on every start; edits are overwritten."]
        lines += [f"{key}={_prop_escape(value)}" for key, value in props.items()]
        self.home.mkdir(parents=True, exist_ok=True)
        tmp = self.config_path.with_suffix(".tmp")
        tmp.write_text("\n".join(lines) + "\n")
        os.replace(tmp, self.config_path)
        return self.config_path

    def _java_base(self) -> list[str]:
        return [
            _java(),
            *shlex.split(self.heap),
            "-Djava.awt.headless=true",
            f"-Dlog4j.configuration={LOG4J_CONFIG.as_uri()}",
            f"-Dkafka.logs.dir={self.logs_dir}",
            "-cp",
            str(self.libs_dir / "*"),
        ]

    def broker_command(self) -> list[str]:
        return [
            *self._java_base(),
            "-XX:+ExitOnOutOfMemoryError",
            "kafka.Kafka",
            str(self.config_path),
        ]

    def format_storage(self, format_args: Sequence[str] = ()) -> bool:
        """Format the data dir once (KRaft needs meta.properties); True if it formatted now.

        ``format_args`` go to StorageTool, e.g. ``["--add-scram", "SCRAM-SHA-256=[...]"]``.
        """
        if (self.data_dir / "meta.properties").is_file():
            return False
        self.data_dir.mkdir(parents=True, exist_ok=True)
        cmd = [
            *self._java_base(),
            "kafka.tools.StorageTool",
            "format",
            "-t",
            _random_cluster_id(),
            "-c",
            str(self.config_path),
            *format_args,
        ]
        result = subprocess.run(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        if result.returncode != 0:
            raise KafkaStartError(
                f"formatting {self.data_dir} failed (exit code {result.returncode}):\n"
                + result.stdout.strip()
            )
        log.info("formatted %s", self.data_dir)
        return True

    # ---- process ---------------------------------------------------------------------

    def pid(self) -> int | None:
        """Pid of this home's running broker, or None (a stale pid file does not count)."""
        try:
            pid = int(self.pid_path.read_text().strip())
        except (OSError, ValueError):
            return None
        if self._proc is not None and self._proc.pid == pid and self._proc.poll() is not None:
            return None
        cmdline = _cmdline(pid)
        if cmdline is None:
            return None
        # The pid may have been reused by an unrelated program since the broker died.
        if cmdline and not ("kafka.Kafka" in cmdline and str(self.config_path) in cmdline):
            return None
        return pid

    def is_running(self) -> bool:
        return self.pid() is not None

    def is_ready(self, timeout: float = 2.0) -> bool:
        return probe(self.host, self.port, timeout)

    def status(self) -> dict[str, Any]:
        pid = self.pid()
        return {
            "running": pid is not None,
            "ready": pid is not None and self.is_ready(),
            "pid": pid,
            "bootstrap_servers": self.bootstrap_servers,
            "home": str(self.home),
            "jars_cached": self.is_fetched(),
            "formatted": (self.data_dir / "meta.properties").is_file(),
        }

    def _check_ports(self) -> None:
        pid = self.pid()
        if pid is not None:
            raise KafkaStartError(
                f"a local Kafka from {self.home} is already running (pid {pid}) on "
                f"{self.bootstrap_servers}; stop it first"
            )
        if not _port_free(self.host, self.port):
            raise KafkaStartError(
                f"port {self.port} is already in use on {self.host}: another Kafka or program "
                "is listening; stop it or set --port"
            )
        if not _port_free(self.host, self.controller_port):
            raise KafkaStartError(
                f"controller port {self.controller_port} is already in use on {self.host}: another "
                "Kafka or program is listening; stop it or set --controller-port"
            )

    def prepare(
        self,
        extra_properties: Mapping[str, str | None] | None = None,
        format_args: Sequence[str] = (),
    ) -> list[str]:
        """Everything before launching: jars, port check, config, format. Returns the command."""
        self.fetch()
        self._check_ports()
        self.logs_dir.mkdir(parents=True, exist_ok=True)
        self.write_config(extra_properties)
        self.format_storage(format_args)
        return self.broker_command()

    def start(
        self,
        extra_properties: Mapping[str, str | None] | None = None,
        timeout: float = 90.0,
        format_args: Sequence[str] = (),
    ) -> str:
        """Start the broker in the background, wait until it serves requests, return host:port."""
        cmd = self.prepare(extra_properties, format_args)
        started = time.monotonic()
        with self.out_path.open("ab") as out:
            stamp = time.strftime("%Y-%m-%d %H:%M:%S")
            out.write(f"\n===== localkafka start {stamp} =====\n".encode())
            out.flush()
            # A new session keeps the broker alive after this process (the CLI) exits
            # and out of reach of Ctrl-C aimed at the caller's terminal.
            self._proc = subprocess.Popen(
                cmd,
                cwd=self.home,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.pid_path.write_text(f"{self._proc.pid}\n")
        try:
            self._wait_ready(self._proc, timeout)
        except BaseException:
            self.stop()
            raise
        log.info(
            "Kafka ready on %s after %.1fs (pid %d)",
            self.bootstrap_servers,
            time.monotonic() - started,
            self._proc.pid,
        )
        return self.bootstrap_servers

    def _wait_ready(self, proc: subprocess.Popen[bytes], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            code = proc.poll()
            if code is not None:
                raise KafkaStartError(
                    f"Kafka exited with code {code} during startup.\n{self._log_excerpt()}"
                )
            if probe(self.host, self.port, timeout=2.0):
                return
            if time.monotonic() >= deadline:
                raise KafkaStartError(
                    f"Kafka did not become ready on {self.bootstrap_servers} within {timeout:g}s.\n"
                    f"{self._log_excerpt()}"
                )
            time.sleep(0.25)

    def _log_excerpt(self) -> str:
        parts = []
        for path in (self.out_path, self.logs_dir / "server.log"):
            lines = _tail(path)
            if lines:
                parts.append(f"--- last {len(lines)} lines of {path} ---\n" + "\n".join(lines))
        return "\n".join(parts) or f"(no output in {self.out_path})"

    def exec_foreground(
        self,
        extra_properties: Mapping[str, str | None] | None = None,
        format_args: Sequence[str] = (),
    ) -> NoReturn:
        """Replace this process with the broker, so a supervisor (honcho) manages Java directly."""
        cmd = self.prepare(extra_properties, format_args)
        # exec keeps the pid, so `status`/`stop` from another shell find the broker.
        self.pid_path.write_text(f"{os.getpid()}\n")
        sys.stdout.flush()
        sys.stderr.flush()
        os.chdir(self.home)
        os.execv(cmd[0], cmd)

    def stop(self, timeout: float = 30.0) -> bool:
        """Stop the broker (controlled shutdown, SIGKILL after timeout). True if one was running."""
        pid = self.pid()
        if pid is None:
            self._forget()
            return False
        log.info("stopping Kafka (pid %d)", pid)
        self._signal(pid, signal.SIGTERM)
        if not self._wait_exit(pid, timeout):
            log.warning("Kafka (pid %d) did not stop within %.0fs; killing it", pid, timeout)
            self._signal(pid, signal.SIGKILL)
            if not self._wait_exit(pid, 10.0):
                raise LocalKafkaError(f"Kafka (pid {pid}) survived SIGKILL")
        self._forget()
        return True

    def _signal(self, pid: int, sig: int) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)

    def _wait_exit(self, pid: int, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while True:
            if self._proc is not None and self._proc.pid == pid:
                # Our own child: reap it, otherwise it lingers as a zombie.
                if self._proc.poll() is not None:
                    return True
            elif _cmdline(pid) is None:
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.1)

    def _forget(self) -> None:
        self._proc = None
        with contextlib.suppress(FileNotFoundError):
            self.pid_path.unlink()

    def reset(self) -> None:
        """Delete all topics and offsets (the data dir); the broker must be stopped."""
        pid = self.pid()
        if pid is not None:
            raise LocalKafkaError(f"Kafka is running (pid {pid}); stop it before reset")
        shutil.rmtree(self.data_dir, ignore_errors=True)


# --------------------------------------------------------------------------------------
# CLI
# --------------------------------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--home",
        type=Path,
        default=None,
        help="state directory: data, logs, server.properties, pid (default: <repo>/.kafka)",
    )
    common.add_argument("--port", type=int, default=9092, help="broker port (default: 9092)")
    common.add_argument(
        "--controller-port", type=int, default=9093, help="KRaft controller port (default: 9093)"
    )

    parser = argparse.ArgumentParser(
        prog="localkafka.py",
        description=f"Local single-node Apache Kafka {KAFKA_VERSION} broker (KRaft), no Docker.",
    )
    sub = parser.add_subparsers(
        dest="command", required=True, metavar="{fetch,start,stop,status,reset}"
    )
    sub.add_parser("fetch", parents=[common], help="download the Kafka jars with Maven (once)")
    start = sub.add_parser(
        "start", parents=[common], help="start the broker and wait until it is ready"
    )
    start.add_argument(
        "--foreground",
        action="store_true",
        help="run the broker attached (exec), for process runners such as honcho",
    )
    start.add_argument(
        "--timeout", type=float, default=90.0, help="seconds to wait for readiness (default: 90)"
    )
    stop = sub.add_parser("stop", parents=[common], help="stop the broker")
    stop.add_argument(
        "--timeout",
        type=float,
        default=30.0,
        help="seconds to wait for a controlled shutdown before SIGKILL (default: 30)",
    )
    sub.add_parser("status", parents=[common], help="show whether the broker runs and answers")
    sub.add_parser(
        "reset", parents=[common], help="delete the data dir (all topics); broker must be stopped"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="localkafka: %(message)s", stream=sys.stderr)
    kwargs: dict[str, Any] = {"port": args.port, "controller_port": args.controller_port}
    if args.home is not None:
        kwargs["home"] = args.home
    kafka = LocalKafka(**kwargs)
    try:
        if args.command == "fetch":
            print(kafka.fetch())
        elif args.command == "start":
            if args.foreground:
                kafka.exec_foreground()
            print(kafka.start(timeout=args.timeout))
        elif args.command == "stop":
            if not kafka.stop(timeout=args.timeout):
                log.info("Kafka is not running (%s)", kafka.home)
        elif args.command == "status":
            st = kafka.status()
            if st["running"]:
                state = "ready" if st["ready"] else "running, not answering yet"
                print(
                    f"{state}: pid {st['pid']}, bootstrap {st['bootstrap_servers']},"
                    f" home {st['home']}"
                )
            else:
                print(f"stopped: home {st['home']}")
            return 0 if st["running"] else 3
        elif args.command == "reset":
            kafka.reset()
            log.info("deleted %s", kafka.data_dir)
    except LocalKafkaError as exc:
        print(f"localkafka: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
