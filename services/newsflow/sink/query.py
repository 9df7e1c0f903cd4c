"""`newsflow query`: the questions analysts ask most, without SQL, against any store.

    newsflow query --entity "Mike Pompeo" [--stance disagree] [--claim ID_OR_TEXT]
    newsflow query --story STORY_ID
    newsflow query --claims [--entity NAME] [--claim ID_OR_TEXT]

Answers print as an aligned table, with control characters from stored text shown as
escapes, or as JSON (a list of objects) for programs.
"""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal

from newsflow.core.records import StanceLabel

from .answers import ArticleMention, ClaimCounts, StoryArticle
from .stores import Store

Format = Literal["table", "json"]
TITLE_WIDTH = 60
CLAIM_WIDTH = 70


@dataclass
class Answer:
    rows: list[dict[str, Any]]  # what JSON prints
    columns: list[tuple[str, str]]  # (row key, table heading)
    empty_message: str


def mentions(
    store: Store, entity: str, stance: str | None, claim: str | None, limit: int
) -> Answer:
    found = store.articles_mentioning(entity, stance, claim, limit)
    message = f"no stored article mentions {entity!r}"
    if stance or claim:
        message += " with" + (f" stance {stance}" if stance else "")
        message += f" toward {claim!r}" if claim else ""
    if not found:
        similar = store.entity_names_like(entity, 5)
        if similar:
            message += "; names that contain it: " + ", ".join(
                f"{n.canonical} ({n.label}, {n.articles} articles)" for n in similar
            )
    return Answer(
        rows=[_mention_row(m) for m in found],
        columns=[
            ("when", "published/seen"),
            ("article_id", "article"),
            ("title", "title"),
            ("mentions", "mentions"),
            ("stance", "stance"),
        ],
        empty_message=message,
    )


def _mention_row(mention: ArticleMention) -> dict[str, Any]:
    row = asdict(mention)
    row["when"] = (mention.published_at or mention.first_seen_at)[:16].replace("T", " ")
    verdicts = mention.stances
    row["stance"] = (
        verdicts[0].label
        if len(verdicts) == 1
        else ", ".join(f"{v.claim_id}: {v.label}" for v in verdicts)
    )
    return row


def story(store: Store, story_id: str, limit: int) -> Answer:
    found: Sequence[StoryArticle] = store.articles_of_story(story_id, limit)
    rows = []
    for article in found:
        row = asdict(article)
        row["seen"] = article.first_seen_at[:19].replace("T", " ")
        row["copy_of"] = article.near_duplicate_of or ""
        rows.append(row)
    return Answer(
        rows=rows,
        columns=[
            ("seen", "first seen"),
            ("article_id", "article"),
            ("title", "title"),
            ("publisher", "publisher"),
            ("dedup_verdict", "verdict"),
            ("copy_of", "copy of"),
        ],
        empty_message=f"no stored article belongs to story {story_id!r}",
    )


def claims(store: Store, entity: str | None, claim: str | None, limit: int) -> Answer:
    found: Sequence[ClaimCounts] = store.stance_counts(entity, claim, limit)
    rows = [{**asdict(c), "articles": c.articles} for c in found]
    scope = f" among articles mentioning {entity!r}" if entity else ""
    return Answer(
        rows=rows,
        columns=[
            ("claim_id", "claim"),
            ("claim_text", "text"),
            ("claim_source", "source"),
            *((label.value, label.value) for label in StanceLabel),
            ("articles", "articles"),
        ],
        empty_message=f"no stances stored{scope}",
    )


def render(answer: Answer, output: Format) -> str:
    if output == "json":
        # Written as \uXXXX escapes, controls still read back as the exact text.
        return json_visible(json.dumps(answer.rows, indent=2, ensure_ascii=False))
    if not answer.rows:
        return visible(answer.empty_message)
    return table(answer.rows, answer.columns)


def table(rows: list[dict[str, Any]], columns: list[tuple[str, str]]) -> str:
    cells = [[_cell(key, row.get(key)) for key, _ in columns] for row in rows]
    headings = [heading for _, heading in columns]
    widths = [max(len(text) for text in column) for column in zip(headings, *cells, strict=True)]
    numeric = [all(isinstance(row.get(key), int) for row in rows) for key, _ in columns]

    def line(texts: list[str]) -> str:
        padded = [
            text.rjust(width) if right else text.ljust(width)
            for text, width, right in zip(texts, widths, numeric, strict=True)
        ]
        return "  ".join(padded).rstrip()

    rule = "  ".join("-" * width for width in widths)
    return "\n".join([line(headings), rule, *(line(texts) for texts in cells)])


def _cell(key: str, value: Any) -> str:
    text = "" if value is None else str(value)
    width = {"title": TITLE_WIDTH, "claim_text": CLAIM_WIDTH}.get(key)
    if width and len(text) > width:
        text = text[: width - 1] + "…"
    return visible(text)


# Bidirectional overrides and isolates reorder what follows them on screen.
_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def visible(text: str) -> str:
    """`text` safe to print on a terminal: control characters (ESC, BEL, newlines, C1),
    line separators and bidirectional controls from stored articles are shown as escapes
    (`\\x1b`, `\\u202e`), so a title cannot move the cursor, retitle the window or
    rewrite the table."""
    return "".join(_escaped(char) for char in text)


def json_visible(text: str) -> str:
    """JSON text with DEL, C1 and bidirectional controls written as JSON escapes (`\\u009b`);
    json.dumps escaped the others already, and the newlines of its indentation stay."""
    return "".join(
        f"\\u{ord(char):04x}" if ord(char) >= 0x7F and _moves_the_terminal(char) else char
        for char in text
    )


def _escaped(char: str) -> str:
    if not _moves_the_terminal(char):
        return char
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def _moves_the_terminal(char: str) -> bool:
    return unicodedata.category(char) in ("Cc", "Zl", "Zp") or char in _BIDI_CONTROLS
