"""The tools deploy/ is checked and run with, built from Go modules once into the newsflow
cache and then used offline:

- k8s: kustomize (built with `go install`, pinned) and the CustomResourceDefinitions of KEDA
  and the Prometheus Operator (taken from their Go modules, whose sources carry them), against
  which deploy/k8s's ScaledObjects, TriggerAuthentication and ServiceMonitors are validated;
- compose: Docker Compose (pinned, built from its module), the `docker compose` plugin that
  docker-compose.yml is run with. Debian's docker.io engine comes without it.

Stdlib only, like deploy/kafka/localkafka.py: `python3 deploy/tools.py fetch k8s` runs before
any virtual environment exists (`make k8s-tools`, .ci/run), and tests load it by path.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

KUSTOMIZE_MODULE = "sigs.k8s.io/kustomize/kustomize/v5"
KUSTOMIZE_VERSION = "v5.8.1"
KUSTOMIZE_NEEDS_GO = (1, 24, 0)
COMPOSE_MODULE = "github.com/docker/compose/v5"
COMPOSE_VERSION = "v5.6.0"  # speaks Docker Engine API 1.41, Debian 12's docker.io (20.10)
COMPOSE_NEEDS_GO = (1, 26, 8)
# Where the `go` on PATH is older than a tool needs (Debian 12 has 1.19), the tool is built
# with this Go instead, fetched as what it is: the Go module golang.org/toolchain.
GO_TOOLCHAIN = "go1.26.8"


@dataclass(frozen=True)
class GoModuleFiles:
    """Files wanted from one version of a Go module's source."""

    module: str
    version: str
    files: dict[str, str]  # name in the cache -> path inside the module


CRD_SOURCES = (
    GoModuleFiles(
        "github.com/kedacore/keda/v2",
        "v2.16.1",
        {
            "scaledobjects.keda.sh.yaml": "config/crd/bases/keda.sh_scaledobjects.yaml",
            "triggerauthentications.keda.sh.yaml": (
                "config/crd/bases/keda.sh_triggerauthentications.yaml"
            ),
            # Not a CRD: the Kafka scaler's source, to check trigger metadata names against.
            "keda-kafka-scaler.go": "pkg/scalers/kafka_scaler.go",
        },
    ),
    GoModuleFiles(
        "github.com/prometheus-operator/prometheus-operator",
        "v0.85.0",
        {
            "servicemonitors.monitoring.coreos.com.yaml": (
                "example/prometheus-operator-crd/monitoring.coreos.com_servicemonitors.yaml"
            ),
        },
    ),
)


class ToolsError(RuntimeError):
    """A tool could not be fetched or is missing."""


def default_cache() -> Path:
    env = os.environ.get("NEWSFLOW_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "newsflow"


def tools_dir(cache: Path | None = None) -> Path:
    return (cache or default_cache()) / "tools"


def kustomize_path(cache: Path | None = None) -> Path:
    return tools_dir(cache) / f"kustomize-{KUSTOMIZE_VERSION}" / "kustomize"


def crds_dir(cache: Path | None = None) -> Path:
    return tools_dir(cache) / "crds"


def _go_on_path() -> str:
    go = shutil.which("go")
    if go is None:
        raise ToolsError(
            "'go' not found on PATH: install Go (any release since 1.17; Debian: apt-get "
            "install golang-go) to build kustomize and Docker Compose and fetch the CRDs once"
        )
    return go


def _go_version(go: str) -> tuple[int, ...]:
    version = _run([go, "env", "GOVERSION"]).strip()  # e.g. go1.19.8, go1.24rc1, go1.26.8
    parts = version.removeprefix("go").split(" ")[0].split(".")[:3]
    # A release candidate (1.24rc1) counts as before its first release (1.24.0).
    return tuple(int("".join(c for c in part.split("rc")[0] if c.isdigit()) or 0) for part in parts)


def _go_at_least(needed: tuple[int, ...], cache: Path | None = None) -> str:
    """A `go` of at least that release: the one on PATH, or the pinned toolchain."""
    go = _go_on_path()
    if _go_version(go) >= needed:
        return go
    root = tools_dir(cache) / GO_TOOLCHAIN
    if not (root / "bin" / "go").is_file():
        goos, goarch = _run([go, "env", "GOOS", "GOARCH"]).split()
        source = _module_source("golang.org/toolchain", f"v0.0.1-{GO_TOOLCHAIN}.{goos}-{goarch}")
        with _made_in_place(root) as unpacking:
            _writable_copy(source, unpacking)
            for program in [*unpacking.glob("bin/*"), *unpacking.glob("pkg/tool/*/*")]:
                program.chmod(0o755)
    return str(root / "bin" / "go")


def _module_source(module: str, version: str) -> Path:
    """One version of a Go module's source, in Go's (read-only) module cache. Only the
    module's own zip: `go mod download` of one module@version fetches no dependencies."""
    answer = json.loads(_run([_go_on_path(), "mod", "download", "-json", f"{module}@{version}"]))
    if answer.get("Error"):
        raise ToolsError(f"go mod download {module}@{version}: {answer['Error']}")
    return Path(answer["Dir"])


def _writable_copy(source: Path, target: Path) -> None:
    # The module cache is read-only and a module zip keeps no execute bits.
    shutil.copytree(source, target, dirs_exist_ok=True)
    for path in [target, *target.rglob("*")]:
        path.chmod(path.stat().st_mode | 0o200 | (0o111 if path.is_dir() else 0))


@contextlib.contextmanager
def _made_in_place(folder: Path) -> Iterator[Path]:
    """A temporary folder beside `folder` that becomes it only when the block succeeds, so
    an interrupted build never leaves a half-made tool that looks finished."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    making = Path(tempfile.mkdtemp(prefix=f".{folder.name}-", dir=folder.parent))
    try:
        yield making
        making.chmod(0o755)
        os.replace(making, folder)
    finally:
        shutil.rmtree(making, ignore_errors=True)


# GOROOT from the environment would belong to another Go; each finds its own.
_OWN_GO = {"GOTOOLCHAIN": "local", "GOROOT": ""}


def _run(command: list[str], env: dict[str, str] | None = None, cwd: Path | None = None) -> str:
    result = subprocess.run(
        command,
        cwd=cwd,
        env={**os.environ, **(env or {})},
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        raise ToolsError(
            f"{' '.join(command)} failed (exit code {result.returncode}):\n"
            + (result.stderr or result.stdout).strip()
        )
    return result.stdout


def fetch_kustomize(cache: Path | None = None) -> Path:
    """The pinned kustomize, built with `go install` on first use."""
    target = kustomize_path(cache)
    if target.is_file():
        return target
    with _made_in_place(target.parent) as building:
        go = _go_at_least(KUSTOMIZE_NEEDS_GO, cache)
        _run(
            [go, "install", f"{KUSTOMIZE_MODULE}@{KUSTOMIZE_VERSION}"],
            env={"GOBIN": str(building), **_OWN_GO},
        )
        version = _run([str(building / "kustomize"), "version"]).strip()
        if version != KUSTOMIZE_VERSION:
            raise ToolsError(f"built kustomize says {version!r}, not {KUSTOMIZE_VERSION}")
    return target


def fetch_crds(cache: Path | None = None) -> Path:
    """The CRDs (and the KEDA Kafka scaler's source) from their Go modules, on first use."""
    folder = crds_dir(cache)
    wanted = [(source, name) for source in CRD_SOURCES for name in source.files]
    if all((folder / name).is_file() for _, name in wanted):
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    for source in CRD_SOURCES:
        module_dir = _module_source(source.module, source.version)
        for name, inside in source.files.items():
            found = module_dir / inside
            if not found.is_file():
                raise ToolsError(f"{inside} is not in {source.module}@{source.version}")
            temporary = folder / f".{name}.tmp"
            shutil.copyfile(found, temporary)
            os.replace(temporary, folder / name)
    return folder


def fetch_k8s(cache: Path | None = None) -> tuple[Path, Path]:
    return fetch_kustomize(cache), fetch_crds(cache)


def compose_path(cache: Path | None = None) -> Path:
    return tools_dir(cache) / f"compose-{COMPOSE_VERSION}" / "docker-compose"


def fetch_compose(cache: Path | None = None, plugins: Path | None = None) -> Path:
    """The pinned Docker Compose, built from its module on first use, and made the `docker
    compose` plugin where the Docker CLI has none (~/.docker/cli-plugins)."""
    target = compose_path(cache)
    if not target.is_file():
        go = _go_at_least(COMPOSE_NEEDS_GO, cache)
        source = _module_source(COMPOSE_MODULE, COMPOSE_VERSION)
        with _made_in_place(target.parent) as building:
            # Built in a copy of its source, as its own Makefile does: `go install
            # module@version` refuses a module whose go.mod excludes versions.
            tree = building / "source"
            _writable_copy(source, tree)
            version = f"-X {COMPOSE_MODULE}/internal.Version={COMPOSE_VERSION}"
            _run(
                [go, "build", "-trimpath", "-ldflags", f"-w {version}", "-o", "../docker-compose",
                 "./cmd"],
                env=_OWN_GO,
                cwd=tree,
            )  # fmt: skip
            shutil.rmtree(tree)
            said = _run([str(building / "docker-compose"), "version", "--short"]).strip()
            if said != COMPOSE_VERSION.removeprefix("v"):
                raise ToolsError(f"built Docker Compose says {said!r}, not {COMPOSE_VERSION}")
    plugin = (plugins or Path.home() / ".docker" / "cli-plugins") / "docker-compose"
    if not plugin.exists():  # a Compose that came with Docker stays the one `docker` runs
        plugin.parent.mkdir(parents=True, exist_ok=True)
        plugin.unlink(missing_ok=True)  # a link to a Compose that is gone
        plugin.symlink_to(target)
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="tools.py", description="The tools deploy/ is checked and run with, built once."
    )
    parser.add_argument("command", choices=["fetch", "paths"])
    parser.add_argument("tools", choices=["k8s", "compose"], help="which tools")
    args = parser.parse_args(argv)
    try:
        if args.tools == "k8s":
            kustomize, crds = (
                fetch_k8s() if args.command == "fetch" else (kustomize_path(), crds_dir())
            )
            print(f"kustomize {kustomize}\ncrds {crds}")
        else:
            compose = fetch_compose() if args.command == "fetch" else compose_path()
            print(f"docker-compose {compose}")
    except ToolsError as error:
        print(f"tools.py: error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
