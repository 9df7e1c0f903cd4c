"""The commands the READMEs show, as a reader would copy them: every line of every `sh` block
(comments and continuations joined) and every `sql` block, from README.md and each service's
README."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from tests.support.local import REPO

READMES = [REPO / "README.md", *sorted((REPO / "services/newsflow").glob("*/README.md"))]


@dataclass(frozen=True)
class Shown:
    readme: str
    language: str
    text: str

    def __str__(self) -> str:
        return f"{self.readme}: {self.text}"


def blocks(readme: Path) -> list[tuple[str, str]]:
    return re.findall(r"^```(\w*)\n(.*?)^```", readme.read_text(), re.M | re.S)


def commands() -> list[Shown]:
    """Every command of every README, in order."""
    found = []
    for readme in READMES:
        where = str(readme.relative_to(REPO))
        for language, body in blocks(readme):
            if language == "sql":
                found.append(Shown(where, "sql", body.strip()))
            elif language == "sh":
                joined = body.replace("\\\n", " ")
                for line in joined.splitlines():
                    command = re.sub(r"\s+#.*$", "", line).strip()
                    if command:
                        found.append(Shown(where, "sh", " ".join(command.split())))
    return found
