"""A deterministic mixed corpus for the whole pipeline: the seed articles, generated unique
articles, exact copies (other bytes, same text), near copies (a few words changed), follow-ups
(another article of an original's story: the same people, organisation and place, other
words) and a bad file of every kind the watcher rejects. The same seed always gives the same
files.

Files arrive in waves so that the expected verdicts do not depend on timing: the seeds one
at a time (they are one story, so their order decides who leads it), then the originals and
the bad files, then the copies and follow-ups once their originals are through."""

from __future__ import annotations

import json
import os
import random
from dataclasses import dataclass, field, replace
from pathlib import Path

from newsflow.core.identity import article_id

SEEDS_DIR = Path(__file__).resolve().parents[3] / "shared" / "data" / "seeds"
MAX_FILE_BYTES = 256 * 1024  # the watcher's limit in the harness, so `too_large` stays small

_SYLLABLES = [
    "ka", "lo", "mi", "ren", "to", "var", "zu", "bel", "dra", "fin", "gor", "hal", "ix",
    "jun", "kes", "lum", "nor", "osk", "pra", "quil", "rho", "sev", "tam", "ul", "vex",
    "wen", "yar", "zan", "bri", "cor",
]  # fmt: skip
_FIRST_NAMES = [
    "Anna", "Omar", "Lucia", "Pierre", "Mei", "Tomas", "Fatima", "Jonas", "Priya", "Diego",
    "Ingrid", "Kwame", "Sofia", "Yusuf", "Helena", "Marek",
]  # fmt: skip
_ORG_KINDS = ["Institute", "Holdings", "Council", "Agency", "Foundation", "Group"]
# The kinds of file whose articles must each be stored once.
STORED_KINDS = ("seed", "unique", "near_copy", "follow_up", "feed")
_VERBS = ["announced", "said", "warned", "confirmed", "denied", "reported", "argued"]


@dataclass(frozen=True)
class Item:
    """One file of the corpus and what the pipeline must make of it."""

    path: str  # relative to the inbox
    kind: str  # seed, unique, exact_copy, near_copy, follow_up, feed, bad
    wave: int
    data: bytes = b""
    article_ids: tuple[str, ...] = ()  # the articles the file carries
    original_id: str | None = None  # for a copy: the article it copies; a follow-up: its lead
    original_path: str | None = None
    reason: str | None = None  # for a bad file: the watcher's reason code
    bad_lines: tuple[tuple[int, str], ...] = ()  # for a feed: (line, reason) dead-lettered
    symlink: bool = False
    unreadable: bool = False

    def of(self, original_id: str, original_path: str) -> Item:
        """This item as a copy or follow-up of the original with that id and path."""
        return replace(self, original_id=original_id, original_path=original_path)


@dataclass
class Corpus:
    seed: int
    articles: int
    items: list[Item] = field(default_factory=list)

    def waves(self) -> list[int]:
        return sorted({item.wave for item in self.items})

    def write(self, inbox: Path, wave: int, outside: Path) -> list[Item]:
        """Drop the files of one wave into the inbox."""
        items = [item for item in self.items if item.wave == wave]
        for item in items:
            self.write_item(inbox, item, outside)
        return items

    def write_item(self, inbox: Path, item: Item, outside: Path) -> None:
        """Written under a temporary name and renamed, as a careful producer does (the
        watcher ignores `*.tmp`); a link points outside the inbox."""
        target = inbox / item.path
        target.parent.mkdir(parents=True, exist_ok=True)
        if item.symlink:
            secret = outside / f"target-of-{Path(item.path).name}"
            secret.write_text("Not for the pipeline\n\nthe target of a link is never read\n")
            target.symlink_to(secret)
            return
        temporary = target.with_name(target.name + ".tmp")
        temporary.write_bytes(item.data)
        if item.unreadable:
            temporary.chmod(0)
        os.replace(temporary, target)

    # What the store and the topics must show.

    def stored_ids(self) -> set[str]:
        """Every article that must be stored exactly once."""
        return {
            article
            for item in self.items
            if item.kind in STORED_KINDS
            for article in item.article_ids
        }

    def of_kind(self, *kinds: str) -> list[Item]:
        return [item for item in self.items if item.kind in kinds]

    def counts(self) -> dict[str, int]:
        by_kind: dict[str, int] = {}
        for item in self.items:
            by_kind[item.kind] = by_kind.get(item.kind, 0) + 1
        return by_kind


def _name(rng: random.Random, index: int, syllables: int = 3) -> str:
    # The index written in syllables, then random ones: unique across the corpus, so no two
    # generated articles share a rare word and none joins another's story by chance.
    parts = []
    while True:
        parts.append(_SYLLABLES[index % len(_SYLLABLES)])
        index //= len(_SYLLABLES)
        if index == 0:
            break
    parts += [rng.choice(_SYLLABLES) for _ in range(max(0, syllables - len(parts)))]
    return "".join(parts).capitalize()


def _vocabulary() -> list[str]:
    from wordfreq import top_n_list

    # Common words carry little weight in story matching; the rarest ones stay out.
    return [w for w in top_n_list("en", 6000)[300:] if w.isalpha() and len(w) > 3]


def _names(rng: random.Random, index: int) -> tuple[str, str, str]:
    """A person, an organisation and a place no other generated story has."""
    person = f"{rng.choice(_FIRST_NAMES)} {_name(rng, index, 3)}"
    org = f"{_name(rng, index + 7919, 3)} {rng.choice(_ORG_KINDS)}"
    place = _name(rng, index + 104729, 2) + "burg"
    return person, org, place


def _article(
    rng: random.Random, index: int, words: list[str], names: tuple[str, str, str] | None = None
) -> tuple[str, str]:
    """A new article; with `names` (a story's people, organisation and place) another
    article of that story."""
    person, org, place = names or _names(rng, index)
    surname = person.split()[1]
    title = f"{surname} {rng.choice(_VERBS)} {' '.join(rng.sample(words, 4))} in {place}"
    paragraphs = []
    for paragraph in range(3):
        sentences = []
        for sentence in range(3):
            filler = " ".join(rng.sample(words, rng.randint(8, 14)))
            if (paragraph, sentence) == (0, 0):
                sentences.append(f"{person} of the {org} {rng.choice(_VERBS)} in {place} {filler}.")
            elif sentence == 1:
                sentences.append(f"The {org} {rng.choice(_VERBS)} {filler}.")
            elif sentence == 2 and paragraph == 2:
                sentences.append(f"{surname} {rng.choice(_VERBS)} that {filler}.")
            else:
                sentences.append(filler.capitalize() + ".")
        paragraphs.append(" ".join(sentences))
    return title, "\n\n".join(paragraphs)


# A syndicated copy names where it was first published; the watcher leaves such a notice out
# of the body (and takes the outlet as the publisher), so the copy's id is made without it.
_REPRINT_NOTICE = "Originally published by the Daily Example."


def _near_copy(rng: random.Random, body: str, words: list[str], changes: int = 3) -> str:
    tokens = body.split(" ")
    for position in rng.sample(range(len(tokens)), changes):
        if tokens[position].isalpha() and tokens[position].islower():
            tokens[position] = rng.choice(words)
    if tokens == body.split(" "):  # no word changed: the copy would be an exact one
        position = next(p for p, token in enumerate(tokens) if token.isalpha() and token.islower())
        tokens[position] = next(word for word in words if word != tokens[position])
    return " ".join(tokens)


def _bad_files(copies: int) -> list[Item]:
    kinds: list[tuple[str, bytes, str]] = [
        ("empty.txt", b"", "empty_file"),
        ("blank.txt", b"  \n\t\n   \n", "whitespace_only"),
        ("photo.txt", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x01\x00" * 20, "binary_file"),
        ("garbled.txt", b"\xef\xbb\xbfA title\n\nbody \xff\xfe\xfa text", "undecodable_text"),
        ("broken.json", b'{"title": "Half", "body": "an object that never', "invalid_json"),
        ("nobody.json", b'{"title": "No body here"}', "missing_body"),
        ("sheet.xlsx", b"PK\x03\x04 spreadsheet", "unsupported_type"),
        ("menu.html", b"<html><body><nav><a href='/'>Home</a></nav></body></html>",
         "no_article_text"),
        ("huge.txt", b"Huge\n\n" + b"word " * (MAX_FILE_BYTES // 5 + 10), "too_large"),
        ("locked.txt", b"Locked away\n\nNobody may read this file.\n", "unreadable"),
        ("link.txt", b"", "symlink"),
    ]  # fmt: skip
    items = []
    for copy in range(copies):
        for name, data, reason in kinds:
            stem, suffix = name.rsplit(".", 1)
            items.append(
                Item(
                    path=f"bad/{stem}-{copy}.{suffix}",
                    kind="bad",
                    wave=1,
                    data=data,
                    reason=reason,
                    symlink=reason == "symlink",
                    unreadable=reason == "unreadable",
                )
            )
    return items


class _StoryScreen:
    """The dedup logic over the generated articles in the order they are made, to tell
    whether each one is a story of its own or joins the story it was written for."""

    def __init__(self) -> None:
        from newsflow.dedup.logic import Deduplicator, DedupSettings, DedupState

        self.dedup = Deduplicator(DedupState.in_memory(), DedupSettings())

    def _see(self, title: str, body: str):
        from types import SimpleNamespace

        article = SimpleNamespace(
            article_id=article_id(title, body),
            title=title,
            body=body,
            published_at=None,
            origin=None,
        )
        return self.dedup.see(article)

    def alone(self, title: str, body: str) -> bool:
        section = self._see(title, body)
        return section.verdict.value == "unique" and section.story_id == article_id(title, body)

    def joins(self, title: str, body: str, lead_id: str) -> bool:
        """True when the article is neither copy nor new story but joins `lead_id`'s."""
        section = self._see(title, body)
        return section.verdict.value == "unique" and section.story_id == lead_id


def generate(articles: int, seed: int, seeds_dir: Path = SEEDS_DIR) -> Corpus:
    """About `articles` article files: 80% unique, 10% exact copies, 10% near copies, plus
    the seeds, a JSON Lines feed with one bad line and every bad-input kind."""
    from newsflow.watcher.parsing import parse_file_bytes

    rng = random.Random(seed)
    words = _vocabulary()
    corpus = Corpus(seed=seed, articles=articles)

    for seed_file in sorted(seeds_dir.iterdir()) if seeds_dir.is_dir() else []:
        data = seed_file.read_bytes()
        parsed = parse_file_bytes(seed_file.name, data)
        ids = tuple(article_id(a.title, a.body) for a in parsed.articles)
        corpus.items.append(Item(f"seeds/{seed_file.name}", "seed", 0, data, ids))

    copies = max(2, articles // 10)
    uniques = max(1, articles - 2 * copies)
    originals: list[tuple[str, str, str, str]] = []  # title, body, path, id
    # Generated articles must each be a story of their own: two that happen to share
    # enough words would form one story led by whichever arrives first, and arrival order
    # across partitions is not fixed. The dedup logic itself tells which ones to replace.
    stories = _StoryScreen()
    lead_names: dict[str, tuple[str, str, str]] = {}  # an original's people, org and place
    for index in range(uniques):
        names = _names(rng, index)
        title, body = _article(rng, index, words, names)
        retry = index
        while not stories.alone(title, body):  # the names come from the index: a new one
            retry += 1_000_003
            names = _names(rng, retry)
            title, body = _article(rng, retry, words, names)
        path = f"articles/{index // 500:02d}/article-{index:05d}.txt"
        identity = article_id(title, body)
        text = f"{title}\n\n{body}\n".encode()
        corpus.items.append(Item(path, "unique", 1, text, (identity,)))
        originals.append((title, body, path, identity))
        lead_names[identity] = names

    for number, (title, body, path, identity) in enumerate(rng.sample(originals, copies)):
        variant = number % 3
        if variant == 0:  # the same bytes under another name
            data, name = f"{title}\n\n{body}\n".encode(), f"copies/exact-{number:05d}.txt"
        elif variant == 1:  # Windows line ends and trailing blanks
            text = f"{title}  \r\n\r\n{body.replace(chr(10), chr(13) + chr(10))}\r\n\r\n"
            data, name = text.encode(), f"copies/exact-{number:05d}.md"
        else:  # the same text wrapped in JSON
            data = json.dumps({"title": title, "body": body}).encode()
            name = f"copies/exact-{number:05d}.json"
        corpus.items.append(
            Item(name, "exact_copy", 2, data, (identity,), identity, original_path=path)
        )

    for number, (title, body, path, identity) in enumerate(rng.sample(originals, copies)):
        copied = _near_copy(rng, body, words)
        copy_title = title if number % 2 else f"{title} (updated)"
        item = _second_wave(
            f"copies/near-{number:05d}.txt", "near_copy", copy_title, copied, _REPRINT_NOTICE
        )
        corpus.items.append(item.of(identity, path))

    feed_lines = []
    feed_ids = []
    for line in range(3):
        if line == 1:
            feed_lines.append(json.dumps({"title": "A line without a body"}))
            continue
        retry = uniques + line
        title, body = _article(rng, retry, words)
        while not stories.alone(title, body):
            retry += 1_000_003
            title, body = _article(rng, retry, words)
        feed_lines.append(json.dumps({"title": title, "body": body}))
        feed_ids.append(article_id(title, body))
    corpus.items.append(
        Item(
            "feeds/feed.jsonl",
            "feed",
            1,
            ("\n".join(feed_lines) + "\n").encode(),
            tuple(feed_ids),
            bad_lines=((2, "missing_body"),),
        )
    )

    # Another article of an original's story: the same names, other words, so a story (not
    # a copy) that crosses partitions. The dedup logic itself confirms that it joins.
    for number, (_, _, path, identity) in enumerate(rng.sample(originals, follow_ups(articles))):
        for _attempt in range(10):
            title, body = _article(rng, uniques + number, words, lead_names[identity])
            if stories.joins(title, body, identity):
                break
        else:
            raise RuntimeError(f"no follow-up of {path} joins its story: the dedup logic changed")
        item = _second_wave(f"stories/follow-up-{number:05d}.txt", "follow_up", title, body)
        corpus.items.append(item.of(identity, path))
    corpus.items += _bad_files(copies=max(1, articles // 500))
    return corpus


def _second_wave(path: str, kind: str, title: str, body: str, footer: str = "") -> Item:
    """A text file of the second wave: it refers to an original of the first (`Item.of`).
    `footer` is furniture under the body, not part of the article."""
    text = f"{title}\n\n{body}\n" + (f"\n{footer}\n" if footer else "")
    return Item(path, kind, 2, text.encode(), (article_id(title, body),))


def follow_ups(articles: int) -> int:
    return max(2, articles // 20)
