"""The tools that check deploy/k8s, fetched once into the newsflow cache and then used offline:
kustomize (built with `go install`, pinned) and the CustomResourceDefinitions of KEDA and the
Prometheus Operator (taken from their Go modules, whose sources carry them), against which the
ScaledObjects, TriggerAuthentication and ServiceMonitors are validated.

Stdlib only, like deploy/kafka/localkafka.py: `python3 deploy/k8s/tools.py fetch` runs before
any virtual environment exists (`make k8s-tools`, .ci/run), and tests load it by path.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

KUSTOMIZE_MODULE = "sigs.k8s.io/kustomize/kustomize/v5"
KUSTOMIZE_VERSION = "v5.8.1"
KUSTOMIZE_NEEDS_GO = (1, 24)
# Where the `go` on PATH is older than that (Debian 12 has 1.19), kustomize is built with
# this Go instead, fetched as what it is: the Go module golang.org/toolchain.
GO_TOOLCHAIN = "go1.25.14"


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
    return (cache or default_cache()) / "k8s-tools"


def kustomize_path(cache: Path | None = None) -> Path:
    return tools_dir(cache) / f"kustomize-{KUSTOMIZE_VERSION}" / "kustomize"


def crds_dir(cache: Path | None = None) -> Path:
    return tools_dir(cache) / "crds"


def _go_on_path() -> str:
    go = shutil.which("go")
    if go is None:
        raise ToolsError(
            "'go' not found on PATH: install Go (any release since 1.17; Debian: apt-get "
            "install golang-go) to build kustomize and fetch the CRDs once"
        )
    return go


def _go_version(go: str) -> tuple[int, int]:
    version = _run([go, "env", "GOVERSION"]).strip()  # e.g. go1.19.8, go1.24rc1
    major, minor = version.removeprefix("go").split(".")[:2]
    return int(major), int("".join(c for c in minor if c.isdigit()) or 0)


def _go_for_kustomize(cache: Path | None = None) -> str:
    go = _go_on_path()
    if _go_version(go) >= KUSTOMIZE_NEEDS_GO:
        return go
    root = tools_dir(cache) / GO_TOOLCHAIN
    if (root / "bin" / "go").is_file():
        return str(root / "bin" / "go")
    goos, goarch = _run([go, "env", "GOOS", "GOARCH"]).split()
    module = f"golang.org/toolchain@v0.0.1-{GO_TOOLCHAIN}.{goos}-{goarch}"
    answer = json.loads(_run([go, "mod", "download", "-json", module]))
    if answer.get("Error"):
        raise ToolsError(f"go mod download {module}: {answer['Error']}")
    root.parent.mkdir(parents=True, exist_ok=True)
    unpacking = Path(tempfile.mkdtemp(prefix=".go-", dir=root.parent))
    try:
        shutil.copytree(answer["Dir"], unpacking, dirs_exist_ok=True)
        # The module cache is read-only and a module zip keeps no execute bits.
        for path in [unpacking, *unpacking.rglob("*")]:
            path.chmod(path.stat().st_mode | 0o200 | (0o111 if path.is_dir() else 0))
        for program in [*unpacking.glob("bin/*"), *unpacking.glob("pkg/tool/*/*")]:
            program.chmod(0o755)
        os.replace(unpacking, root)
    finally:
        shutil.rmtree(unpacking, ignore_errors=True)
    return str(root / "bin" / "go")


def _run(command: list[str], env: dict[str, str] | None = None) -> str:
    result = subprocess.run(
        command,
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
    target.parent.parent.mkdir(parents=True, exist_ok=True)
    building = Path(tempfile.mkdtemp(prefix=".kustomize-", dir=target.parent.parent))
    try:
        go = _go_for_kustomize(cache)
        # GOROOT from the environment would belong to another Go; each finds its own.
        _run(
            [go, "install", f"{KUSTOMIZE_MODULE}@{KUSTOMIZE_VERSION}"],
            env={"GOBIN": str(building), "GOTOOLCHAIN": "local", "GOROOT": ""},
        )
        version = _run([str(building / "kustomize"), "version"]).strip()
        if version != KUSTOMIZE_VERSION:
            raise ToolsError(f"built kustomize says {version!r}, not {KUSTOMIZE_VERSION}")
        building.chmod(0o755)
        os.replace(building, target.parent)
    finally:
        shutil.rmtree(building, ignore_errors=True)
    return target


def fetch_crds(cache: Path | None = None) -> Path:
    """The CRDs (and the KEDA Kafka scaler's source) from their Go modules, on first use."""
    folder = crds_dir(cache)
    wanted = [(source, name) for source in CRD_SOURCES for name in source.files]
    if all((folder / name).is_file() for _, name in wanted):
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    for source in CRD_SOURCES:
        # Only the module's own source zip: `go mod download` of one module@version builds
        # nothing and fetches none of its dependencies.
        answer = json.loads(
            _run([_go_on_path(), "mod", "download", "-json", f"{source.module}@{source.version}"])
        )
        if answer.get("Error"):
            raise ToolsError(f"go mod download {source.module}@{source.version}: {answer['Error']}")
        module_dir = Path(answer["Dir"])
        for name, inside in source.files.items():
            found = module_dir / inside
            if not found.is_file():
                raise ToolsError(f"{inside} is not in {source.module}@{source.version}")
            temporary = folder / f".{name}.tmp"
            shutil.copyfile(found, temporary)
            os.replace(temporary, folder / name)
    return folder


def fetch(cache: Path | None = None) -> tuple[Path, Path]:
    return fetch_kustomize(cache), fetch_crds(cache)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="tools.py", description="kustomize and the CRDs that deploy/k8s is checked with."
    )
    parser.add_argument("command", choices=["fetch", "paths"])
    args = parser.parse_args(argv)
    try:
        if args.command == "fetch":
            kustomize, crds = fetch()
        else:
            kustomize, crds = kustomize_path(), crds_dir()
    except ToolsError as error:
        print(f"tools.py: error: {error}", file=sys.stderr)
        return 1
    print(f"kustomize {kustomize}\ncrds {crds}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
