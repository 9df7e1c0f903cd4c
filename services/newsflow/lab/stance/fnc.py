"""FNC-1 as files: reading its two CSV files, the official development split by body id, and
the official FNC score (the same arithmetic as the challenge's `scorer.py`).

Only the file format is FNC-1's; nothing here holds any of its text.
"""

from __future__ import annotations

import csv
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from newsflow.lab.groups import Groups
from newsflow.stance.model import LABELS, RELATED_LABELS

RELATED: frozenset[str] = frozenset(RELATED_LABELS)

# The baseline repository's split: its seed, and the share of body ids used for training.
SPLIT_SEED = 1489215
SPLIT_TRAINING_SHARE = 0.8


class FncFormatError(ValueError):
    """A file is not in FNC-1's format; the message names the file and the problem."""


@dataclass(frozen=True)
class Pair:
    """One row of a stances file: a headline against a body, with its gold label if known."""

    headline: str
    body_id: int
    stance: str | None


@dataclass(frozen=True)
class Dataset:
    bodies: dict[int, str]
    pairs: list[Pair]

    @property
    def labelled(self) -> bool:
        return bool(self.pairs) and all(pair.stance is not None for pair in self.pairs)

    def subset(self, body_ids: Iterable[int]) -> Dataset:
        """The bodies with these ids and every pair that uses one of them, in file order."""
        wanted = set(body_ids)
        return Dataset(
            {i: text for i, text in self.bodies.items() if i in wanted},
            [pair for pair in self.pairs if pair.body_id in wanted],
        )


def _rows(path: Path, required: Sequence[str]) -> tuple[list[str], list[dict[str, str]]]:
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            reader = csv.DictReader(handle)
            columns = list(reader.fieldnames or [])
            missing = [name for name in required if name not in columns]
            if missing:
                raise FncFormatError(
                    f"{path}: missing column(s) {', '.join(map(repr, missing))} "
                    f"(found {', '.join(map(repr, columns)) or 'no header'})"
                )
            return columns, list(reader)
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        raise FncFormatError(f"{path}: {error}") from None


def _body_id(value: str | None, path: Path, row: int) -> int:
    try:
        return int(str(value).strip())
    except ValueError:
        raise FncFormatError(f"{path}, row {row}: Body ID {value!r} is not a number") from None


def read_bodies(path: Path) -> dict[int, str]:
    _, rows = _rows(path, ("Body ID", "articleBody"))
    bodies: dict[int, str] = {}
    for number, row in enumerate(rows, start=2):
        body_id = _body_id(row["Body ID"], path, number)
        if body_id in bodies:
            raise FncFormatError(f"{path}, row {number}: Body ID {body_id} appears twice")
        bodies[body_id] = row["articleBody"] or ""
    return bodies


def read_stances(path: Path, bodies: dict[int, str] | None = None) -> list[Pair]:
    """The pairs of a stances file in file order; without a `Stance` column they are unlabelled."""
    columns, rows = _rows(path, ("Headline", "Body ID"))
    labelled = "Stance" in columns
    pairs = []
    for number, row in enumerate(rows, start=2):
        body_id = _body_id(row["Body ID"], path, number)
        if bodies is not None and body_id not in bodies:
            raise FncFormatError(f"{path}, row {number}: no body with Body ID {body_id}")
        stance = None
        if labelled:
            stance = (row["Stance"] or "").strip()
            if stance not in LABELS:
                raise FncFormatError(
                    f"{path}, row {number}: Stance {stance!r} is not one of {', '.join(LABELS)}"
                )
        pairs.append(Pair(row["Headline"] or "", body_id, stance))
    return pairs


def read_dataset(bodies_path: Path, stances_path: Path) -> Dataset:
    bodies = read_bodies(bodies_path)
    return Dataset(bodies, read_stances(stances_path, bodies))


def read_training_data(folder: Path) -> Dataset:
    """FNC-1's training files (`train_bodies.csv`, `train_stances.csv`) from a folder."""
    return read_dataset(folder / "train_bodies.csv", folder / "train_stances.csv")


def split_body_ids(body_ids: Sequence[int]) -> tuple[list[int], list[int]]:
    """The official development split: the distinct body ids in file order, shuffled with
    `random.Random(1489215)`; the first 80 % train, the rest are the hold-out."""
    ids = list(dict.fromkeys(body_ids))
    random.Random(SPLIT_SEED).shuffle(ids)
    cut = int(SPLIT_TRAINING_SHARE * len(ids))
    return ids[:cut], ids[cut:]


def official_split(data: Dataset) -> tuple[Dataset, Dataset]:
    """(training side, hold-out) of the official split of FNC-1's training data."""
    training_ids, holdout_ids = split_body_ids(list(data.bodies))
    return data.subset(training_ids), data.subset(holdout_ids)


def story_split(
    data: Dataset, share: float = 0.2, seed: int = SPLIT_SEED
) -> tuple[Dataset, Dataset]:
    """A harder split than the official one, for new claims: whole stories held out.

    A story is a connected group of headlines and bodies joined by related pairs. Stories are
    shuffled and held out until `share` of the headlines are; the held-out side is every pair
    of a held-out headline with a held-out body, the training side every pair of the others,
    and pairs across the two are dropped. So no held-out claim, nor any other phrasing of
    its story's claim, is seen in training (as in FNC-1's test set, unlike the official split).
    """
    nodes: Groups[str] = Groups()
    for pair in data.pairs:
        headline, body = nodes.find("h" + pair.headline), nodes.find(f"b{pair.body_id}")
        if pair.stance in RELATED:
            nodes.join(headline, body)
    for body_id in data.bodies:
        nodes.find(f"b{body_id}")
    stories: dict[str, list[str]] = {}
    for node in list(nodes):
        stories.setdefault(nodes.find(node), []).append(node)
    order = sorted(stories)
    random.Random(seed).shuffle(order)
    headlines = sum(1 for node in nodes if node.startswith("h"))
    held: set[str] = set()
    held_headlines = 0
    for story in order:
        if held_headlines >= share * headlines:
            break
        held.update(stories[story])
        held_headlines += sum(1 for node in stories[story] if node.startswith("h"))
    train_pairs, test_pairs = [], []
    for pair in data.pairs:
        claim_held, body_held = "h" + pair.headline in held, f"b{pair.body_id}" in held
        if claim_held and body_held:
            test_pairs.append(pair)
        elif not claim_held and not body_held:
            train_pairs.append(pair)

    def side(pairs: list[Pair]) -> Dataset:
        used = {pair.body_id for pair in pairs}
        return Dataset({i: t for i, t in data.bodies.items() if i in used}, pairs)

    return side(train_pairs), side(test_pairs)


def write_bodies(bodies: dict[int, str], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["Body ID", "articleBody"])
        for body_id, text in bodies.items():
            writer.writerow([body_id, text])


def write_stances(pairs: Iterable[Pair], labels: Iterable[str | None], path: Path) -> None:
    """`Headline,Body ID,Stance` rows, in the order given: what the official scorer reads."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["Headline", "Body ID", "Stance"])
        for pair, label in zip(pairs, labels, strict=True):
            writer.writerow([pair.headline, pair.body_id, label])


# --- the official score ------------------------------------------------------------------------


@dataclass(frozen=True)
class FncScore:
    score: float
    maximum: float
    null_score: float  # everything predicted unrelated
    confusion: list[list[int]]  # rows gold, columns predicted, in LABELS order

    @property
    def percentage(self) -> float:
        return 100.0 * self.score / self.maximum if self.maximum else 0.0


def fnc_score(gold: Sequence[str], predicted: Sequence[str]) -> FncScore:
    """The challenge's score, as its `scorer.py` computes it: per pair +0.25 when the label
    is right, +0.50 more when it is right and related, +0.25 when gold and prediction are
    both related (agree, disagree, discuss), even if they differ."""
    if len(gold) != len(predicted):
        raise ValueError(f"{len(gold)} gold labels but {len(predicted)} predictions")
    score = 0.0
    confusion = [[0] * len(LABELS) for _ in LABELS]
    for g, p in zip(gold, predicted, strict=True):
        if g == p:
            score += 0.25
            if g != "unrelated":
                score += 0.50
        if g in RELATED and p in RELATED:
            score += 0.25
        confusion[LABELS.index(g)][LABELS.index(p)] += 1
    unrelated = sum(1 for g in gold if g == "unrelated")
    maximum = 0.25 * unrelated + 1.0 * (len(gold) - unrelated)
    return FncScore(score, maximum, 0.25 * unrelated, confusion)


def f1_per_class(confusion: list[list[int]]) -> dict[str, float]:
    scores = {}
    for index, label in enumerate(LABELS):
        true_positive = confusion[index][index]
        predicted = sum(row[index] for row in confusion)
        actual = sum(confusion[index])
        precision = true_positive / predicted if predicted else 0.0
        recall = true_positive / actual if actual else 0.0
        total = precision + recall
        scores[label] = 2 * precision * recall / total if total else 0.0
    return scores


def index_pairs(data: Dataset) -> tuple[list[str], list[str], list[tuple[int, int]]]:
    """Distinct claims, distinct bodies, and each pair as (claim index, body index)."""
    claim_index: dict[str, int] = {}
    body_index: dict[int, int] = {}
    pairs = []
    for pair in data.pairs:
        c = claim_index.setdefault(pair.headline, len(claim_index))
        b = body_index.setdefault(pair.body_id, len(body_index))
        pairs.append((c, b))
    bodies = [data.bodies[body_id] for body_id in body_index]
    return list(claim_index), bodies, pairs
