"""The operators' claims file: a YAML list of claims (id and text) that every article is
labelled against, re-read when it changes, without a restart.

    claims:
      - id: minimum-wage-rise
        text: The minimum wage will rise by ten percent next year

A file that cannot be read or does not fit this shape is reported (an error in the log and
`newsflow_stance_claims_file_errors_total`), and the claims loaded before stay in force
until a good file replaces it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from newsflow.core.records import first_problem

log = logging.getLogger(__name__)

MAX_CLAIMS_FILE_BYTES = 1024 * 1024


class ClaimsFileError(ValueError):
    """The claims file does not hold a valid list of claims; the message says where."""


@dataclass(frozen=True)
class Claim:
    id: str
    text: str


class _ClaimEntry(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    id: str = Field(min_length=1, max_length=200)
    text: str = Field(min_length=1, max_length=2000)


class _ClaimsDocument(BaseModel):
    model_config = ConfigDict(extra="forbid")

    claims: list[_ClaimEntry]


def parse_claims(text: str) -> tuple[Claim, ...]:
    """The claims of a claims file's text: a `claims:` list (or a bare list) of id and text."""
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise ClaimsFileError(f"not YAML: {error}") from None
    if document is None:
        return ()
    if isinstance(document, list):
        document = {"claims": document}
    try:
        entries = _ClaimsDocument.model_validate(document).claims
    except ValidationError as error:
        raise ClaimsFileError(first_problem(error, whole="file")) from None
    seen: set[str] = set()
    for entry in entries:
        if entry.id in seen:
            raise ClaimsFileError(f"claim id {entry.id!r} is used twice")
        seen.add(entry.id)
    return tuple(Claim(entry.id, entry.text) for entry in entries)


class ClaimsFile:
    """The claims currently in force, from a file watched by polling `refresh()`.

    Polling the file's stat (rather than file-system events) also sees an editor's save by
    rename and a file on a mounted volume (a Kubernetes ConfigMap is a symlink swap).
    """

    def __init__(
        self,
        path: Path | None,
        on_loaded: Callable[[tuple[Claim, ...]], None] = lambda claims: None,
        on_error: Callable[[str], None] = lambda message: None,
    ) -> None:
        self.path = path
        self.on_loaded = on_loaded
        self.on_error = on_error
        self._claims: tuple[Claim, ...] = ()
        self._seen: tuple | None = None  # the stat of the file last read (good or bad)
        self._lock = threading.Lock()

    @property
    def claims(self) -> tuple[Claim, ...]:
        return self._claims

    def refresh(self) -> bool:
        """Re-read the file if it changed since the last look; True when the claims changed."""
        if self.path is None:
            return False
        with self._lock:
            try:
                stat = self.path.stat()
            except FileNotFoundError:
                return self._failed(("missing",), "the file does not exist")
            except OSError as error:
                return self._failed(("unreadable",), str(error))
            signature = (stat.st_ino, stat.st_mtime_ns, stat.st_size)
            if signature == self._seen:
                return False
            if stat.st_size > MAX_CLAIMS_FILE_BYTES:
                return self._failed(signature, f"larger than {MAX_CLAIMS_FILE_BYTES} bytes")
            try:
                claims = parse_claims(self.path.read_text(encoding="utf-8"))
            except (OSError, UnicodeDecodeError, ClaimsFileError) as error:
                return self._failed(signature, str(error))
            self._seen = signature
            changed = claims != self._claims
            self._claims = claims
            log.info("claims file %s: %d claim(s) in force", self.path, len(claims))
            self.on_loaded(claims)
            return changed

    def _failed(self, signature: tuple, problem: str) -> bool:
        if signature == self._seen:
            return False  # reported already; reported again once the file changes
        self._seen = signature
        message = (
            f"claims file {self.path}: {problem}; keeping the {len(self._claims)} claim(s) in force"
        )
        log.error(message)
        self.on_error(message)
        return False
