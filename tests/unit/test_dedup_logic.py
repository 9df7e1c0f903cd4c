"""The dedup logic without a broker: what a reader sees of each article's verdict, the copy it
is linked to and its story, and that state survives a restart through its mappings.

Seed articles are read from beside the repository (never copied into it); tests that need
them are skipped when they are absent.
"""

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from newsflow.core import records
from newsflow.core.records import DedupVerdict
from newsflow.core.sentences import SentenceEncoder
from newsflow.dedup.logic import Deduplicator, DedupSettings, DedupState
from newsflow.dedup.normalise import is_boilerplate, normalise_line
from newsflow.watcher.parsing import parse_file_bytes
from tests.support.examples import raw_article

SEEDS = Path(__file__).resolve().parents[2].parent / "shared/data/seeds"
# When the seed articles were published, as their text tells (the files carry no date):
# 003 and 004 report Russia's deployment to Venezuela and Washington's condemnation in late
# March 2019; 000, 001 and 002 the Pentagon's options ordered after it, in mid-April.
SEED_TIMES = {
    "003": datetime(2019, 3, 27, 9, 0, tzinfo=UTC),
    "004": datetime(2019, 3, 29, 18, 0, tzinfo=UTC),
    "000": datetime(2019, 4, 16, 8, 0, tzinfo=UTC),
    "001": datetime(2019, 4, 16, 20, 0, tzinfo=UTC),
    "002": datetime(2019, 4, 17, 7, 0, tzinfo=UTC),
}
NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


article = raw_article


def seed(prefix: str, published_at: datetime | None = None) -> records.RawArticle:
    """A seed file parsed by the watcher's own parser, as it would reach dedup."""
    if not SEEDS.is_dir():
        pytest.skip(f"seed articles not found in {SEEDS} (they are kept outside the repository)")
    path = next(SEEDS.glob(f"{prefix}_*.txt"))
    parsed = parse_file_bytes(path.name, path.read_bytes()).articles[0]
    return article(parsed.title, parsed.body, published_at or SEED_TIMES[prefix])


def paragraphs(body: str) -> list[str]:
    return [line for line in body.split("\n") if line.strip()]


def fresh(meaning=None, **settings) -> Deduplicator:
    return Deduplicator(DedupState.in_memory(), DedupSettings(**settings), meaning=meaning)


@pytest.fixture(scope="module")
def encoder() -> SentenceEncoder:
    """The worker's sentence encoder (the committed, pinned files)."""
    return SentenceEncoder(Path(__file__).resolve().parents[2] / "models" / "sentence-encoder")


# --- synthetic articles (no seed needed) -----------------------------------------------------

SYLLABLES = ("ka", "lo", "mi", "ne", "su", "ra", "to", "vi", "de", "po", "ze", "lu")


def synthetic_body(topic: int, sentences: int = 14) -> str:
    """Text shaped like an article, in made-up words of its own for every topic number, so
    different topics share no vocabulary (nor a story)."""
    state = topic * 7919 + 17

    def draw(limit: int) -> int:
        nonlocal state
        state = (state * 1103515245 + 12345) % 2**31
        return state % limit

    vocabulary = [
        "".join(SYLLABLES[draw(len(SYLLABLES))] for _ in range(3)) + f"{topic}" for _ in range(60)
    ]
    lines = [
        " ".join(vocabulary[draw(len(vocabulary))] for _ in range(12)).capitalize() + "."
        for _ in range(sentences)
    ]
    return "\n\n".join(" ".join(lines[i : i + 2]) for i in range(0, len(lines), 2))


# --- exact duplicates -------------------------------------------------------------------------


def test_the_same_text_again_is_an_exact_duplicate_of_its_article_id():
    dedup = fresh()
    first = article("Port closed after storm", synthetic_body(1))
    assert dedup.see(first).verdict is DedupVerdict.UNIQUE
    # Whitespace, quotes and case do not change the article id, so neither the verdict.
    again = article("PORT CLOSED  AFTER STORM", synthetic_body(1).replace(" ", "  "))
    assert again.article_id == first.article_id
    section = dedup.see(again)
    assert section.verdict is DedupVerdict.EXACT_DUPLICATE
    assert section.exact_duplicate_of == first.article_id
    assert section.near_duplicate_of is None
    assert section.story_id == first.article_id
    assert section.story_lead_headline == "Port closed after storm"


def test_a_different_article_is_unique_and_starts_its_own_story():
    dedup = fresh()
    dedup.see(article("Port closed after storm", synthetic_body(1)))
    other = article("Bridge reopens", synthetic_body(2))
    section = dedup.see(other)
    assert section.verdict is DedupVerdict.UNIQUE
    assert section.near_duplicate_of is None and section.similarity is None
    assert section.story_id == other.article_id
    assert section.story_lead_headline == "Bridge reopens"


# --- the same record again, after a crash -------------------------------------------------------


def test_the_same_record_again_gets_the_verdict_it_got_first():
    dedup = fresh()
    original = article("Port closed after storm", synthetic_body(3))
    kept = paragraphs(original.body)
    copy = article("Storm closes port", "\n\n".join(kept[:5]))
    dedup.see(original, origin="articles.raw[0]@10")
    first = dedup.see(copy, origin="articles.raw[1]@20")
    # Redelivered after a crash: the same records from the same offsets.
    assert dedup.see(original, origin="articles.raw[0]@10").verdict is DedupVerdict.UNIQUE
    assert dedup.see(copy, origin="articles.raw[1]@20") == first
    assert dedup.redelivered_total == 2
    # The same text in another record is a copy sent again: an exact duplicate.
    again = dedup.see(original, origin="articles.raw[0]@11")
    assert again.verdict is DedupVerdict.EXACT_DUPLICATE


def test_an_article_whose_first_visit_a_crash_cut_short_is_no_copy_of_itself():
    # The index tables reached their changelogs but the `articles` entry did not: on
    # restore the article is in the buckets and the story terms, yet unknown.
    dedup = fresh()
    original = article("Port closed after storm", synthetic_body(3))
    dedup.see(original, origin="articles.raw[0]@10")
    del dedup.state.articles[original.article_id]
    section = dedup.see(original, origin="articles.raw[0]@10")
    assert section.verdict is DedupVerdict.UNIQUE
    assert section.near_duplicate_of is None
    assert section.story_id == original.article_id


# --- near duplicates of a seed ----------------------------------------------------------------


def test_a_wrapped_reprint_of_a_seed_is_a_near_duplicate_of_it():
    original = seed("000")
    wrapped_body = "\n\n".join(
        [
            "Join our Telegram channel for breaking news as it happens!",
            "This article was originally published by Example News and is reprinted "
            "with permission.",
            original.body,
            "Share this article",
            "Subscribe to our newsletter for daily updates.",
            "Follow us on Twitter",
        ]
    )
    reprint = article(original.title, wrapped_body, SEED_TIMES["000"] + timedelta(hours=5))
    dedup = fresh()
    dedup.see(original)
    section = dedup.see(reprint)
    assert section.verdict is DedupVerdict.NEAR_DUPLICATE
    assert section.near_duplicate_of == original.article_id
    # The wrapper is not article text: what is left is the original's text.
    assert section.similarity == 1.0
    assert section.story_id == original.article_id
    assert section.story_lead_headline == original.title


def test_a_truncated_copy_of_a_seed_is_a_near_duplicate():
    original = seed("001")
    kept = paragraphs(original.body)
    truncated = "\n\n".join(kept[: round(len(kept) * 0.6)])
    dedup = fresh()
    dedup.see(original)
    section = dedup.see(article(original.title, truncated, SEED_TIMES["001"]))
    assert section.verdict is DedupVerdict.NEAR_DUPLICATE
    assert section.near_duplicate_of == original.article_id
    assert section.similarity >= 0.95  # all of the copy is in the original


def test_a_lightly_edited_copy_with_a_new_headline_is_a_near_duplicate():
    original = seed("000")
    kept = paragraphs(original.body)
    # Two paragraphs dropped, one sentence added, another headline.
    edited = [*kept[:2], "The claim could not be independently verified.", *kept[3:-2], kept[-1]]
    copy = article(
        "Pentagon weighs options to counter Russia and China in Venezuela",
        "\n\n".join(edited),
        SEED_TIMES["000"] + timedelta(days=1),
    )
    dedup = fresh()
    dedup.see(original)
    section = dedup.see(copy)
    assert section.verdict is DedupVerdict.NEAR_DUPLICATE
    assert section.near_duplicate_of == original.article_id
    assert 0.75 <= section.similarity < 1.0


def test_a_copy_of_a_copy_names_the_earliest_article_of_the_group():
    original = article("Port closed after storm", synthetic_body(3))
    kept = paragraphs(original.body)
    first_copy = article("Storm closes port", "\n\n".join(kept[:5]))
    second_copy = article("Port shut", "\n\n".join(["Share this article", *kept[:4]]))
    dedup = fresh()
    dedup.see(original)
    assert dedup.see(first_copy).near_duplicate_of == original.article_id
    section = dedup.see(second_copy)
    assert section.near_duplicate_of == original.article_id
    assert section.story_id == original.article_id


# --- stories ----------------------------------------------------------------------------------


def test_seeds_000_001_002_report_one_story_in_different_words(encoder):
    first, second, third = seed("000"), seed("001"), seed("002")
    dedup = fresh(encoder.vector)
    sections = [dedup.see(item) for item in (first, second, third)]
    assert [section.verdict for section in sections] == [DedupVerdict.UNIQUE] * 3
    assert {section.story_id for section in sections} == {first.article_id}
    assert {section.story_lead_headline for section in sections} == {first.title}


def test_seeds_003_and_004_are_the_earlier_story_of_russia_deploying_to_venezuela(encoder):
    # In publication order: 003, 004 (late March), then 000, 001, 002 (mid-April).
    deployment, condemnation = seed("003"), seed("004")
    pentagon = [seed("000"), seed("001"), seed("002")]
    dedup = fresh(encoder.vector)
    deployment_story = dedup.see(deployment)
    condemnation_story = dedup.see(condemnation)
    pentagon_stories = [dedup.see(item) for item in pentagon]
    assert deployment_story.story_id == deployment.article_id
    assert condemnation_story.verdict is DedupVerdict.UNIQUE
    assert condemnation_story.story_id == deployment.article_id
    # The same countries and people, but weeks later: the Pentagon's planning is a new story.
    assert {section.story_id for section in pentagon_stories} == {pentagon[0].article_id}


def reworded(body: str, order: int) -> str:
    """The same words in another order: another article (no shared shingles), the same
    vocabulary (the same story profile)."""

    def line(words: list[str]) -> list[str]:
        return list(reversed(words)) if order == 1 else words[::2] + words[1::2]

    return "\n\n".join(" ".join(line(text.split())) for text in body.split("\n\n"))


def meanings(by_title: dict[str, list[float]]):
    """A stand-in for the sentence encoder: the vector given for the text's title."""

    def meaning(lead: str) -> np.ndarray:
        vector = np.array(by_title[lead.split()[0]], dtype=np.float32)
        return vector / np.linalg.norm(vector)

    return meaning


def test_articles_that_share_words_but_not_meaning_are_separate_stories():
    body = synthetic_body(5)
    first, same, other = (
        article("First report", body),
        article("Second report", reworded(body, 1)),
        article("Third report", reworded(body, 2)),
    )
    dedup = fresh(meanings({"First": [1, 0], "Second": [0.8, 0.6], "Third": [0, 1]}))
    assert dedup.see(first).story_id == first.article_id
    second = dedup.see(same)
    assert second.verdict is DedupVerdict.UNIQUE and second.story_id == first.article_id
    third = dedup.see(other)  # cosine 0 with the first, 0.6 with the second: words only
    assert third.verdict is DedupVerdict.UNIQUE and third.story_id == other.article_id


def test_a_story_does_not_drift_to_what_its_latest_article_is_about():
    body = synthetic_body(6)
    lead, middle, drifted = (
        article("Lead report", body),
        article("Middle report", reworded(body, 1)),
        article("Drifted report", reworded(body, 2)),
    )
    # The drifted article means what the middle one does (0.8) but not what the lead does
    # (0.28): it starts a story of its own.
    dedup = fresh(
        meanings({"Lead": [1, 0, 0], "Middle": [0.8, 0.6, 0], "Drifted": [0.28, 0.96, 0]})
    )
    assert dedup.see(lead).story_id == lead.article_id
    assert dedup.see(middle).story_id == lead.article_id
    assert dedup.see(drifted).story_id == drifted.article_id


def test_articles_on_one_event_far_apart_in_time_are_not_one_story():
    early, late = seed("000"), seed("001", SEED_TIMES["000"] + timedelta(days=10))
    dedup = fresh(story_window_days=3)
    dedup.see(early)
    assert dedup.see(late).story_id == late.article_id


# --- state: bounded, restartable, deterministic -----------------------------------------------


def test_articles_older_than_the_window_are_forgotten():
    start = datetime(2026, 1, 1, tzinfo=UTC)
    old = article("Port closed after storm", synthetic_body(4), start)
    dedup = fresh(expiry_days=2, sweep_interval_hours=6)
    dedup.see(old)
    kept = paragraphs(old.body)
    copy = article("Storm closes port", "\n\n".join(kept[:5]), start + timedelta(days=1))
    assert dedup.see(copy).near_duplicate_of == old.article_id  # inside the window
    later = start + timedelta(days=3, hours=12)
    dedup.see(article("Bridge reopens", synthetic_body(5), later))
    counts = dedup.counts()
    assert counts["expired_total"] == 2  # the old article and its copy
    assert counts["indexed_articles"] == 1
    assert old.article_id not in dedup.state.articles
    assert not any(old.article_id in ids for ids in dedup.state.lsh_buckets.values())
    assert not any(old.article_id in ids for ids in dedup.state.story_terms.values())
    # Neither the same text again nor a copy of it is recognised any more.
    again = article(old.title, old.body, later)
    assert dedup.see(again).verdict is DedupVerdict.UNIQUE


def test_a_copy_arriving_after_the_window_is_not_linked():
    start = datetime(2026, 1, 1, tzinfo=UTC)
    old = article("Port closed after storm", synthetic_body(4), start)
    dedup = fresh(expiry_days=2)
    dedup.see(old)
    later = start + timedelta(days=3)
    dedup.see(article("Bridge reopens", synthetic_body(5), later))
    late_copy = article("Port shut", "\n\n".join(paragraphs(old.body)[:5]), later)
    assert dedup.see(late_copy).verdict is DedupVerdict.UNIQUE


def test_an_old_article_past_the_window_is_not_matched_even_before_a_sweep():
    start = datetime(2026, 1, 1, tzinfo=UTC)
    old = article("Port closed after storm", synthetic_body(6), start)
    dedup = fresh(expiry_days=2, sweep_interval_hours=24 * 30)  # no sweep in this test
    dedup.see(old)
    dedup.see(article("Bridge reopens", synthetic_body(7), start + timedelta(days=3)))
    again = article(old.title, old.body, start + timedelta(days=3))
    assert dedup.see(again).verdict is DedupVerdict.UNIQUE


def test_a_published_date_far_in_the_future_does_not_expire_the_index():
    seen = datetime(2026, 1, 1, tzinfo=UTC)
    dedup = fresh(expiry_days=2)
    first = article("Port closed after storm", synthetic_body(8), seen, seen_at=seen)
    dedup.see(first)
    typo = datetime(2062, 1, 1, tzinfo=UTC)
    dedup.see(article("Bridge reopens", synthetic_body(9), typo, seen_at=seen))
    assert dedup.see(article(first.title, first.body, seen, seen_at=seen)).verdict is (
        DedupVerdict.EXACT_DUPLICATE
    )


def test_state_restored_from_json_continues_exactly_as_if_never_stopped():
    items = [article(f"Story {n}", synthetic_body(n), NOW + timedelta(hours=n)) for n in range(6)]
    kept = paragraphs(items[1].body)
    items += [
        article("Copy of story 1", "\n\n".join(kept[:4]), NOW + timedelta(hours=7)),
        article(items[2].title, items[2].body, NOW + timedelta(hours=8)),
        article("Story 20", synthetic_body(20), NOW + timedelta(hours=9)),
    ]
    uninterrupted = fresh()
    expected = [uninterrupted.see(item) for item in items]

    before = fresh()
    sections = [before.see(item) for item in items[:5]]
    # What the tables' changelogs would hold, written and read back as JSON.
    tables = json.loads(json.dumps(before.state.snapshot()))
    after = Deduplicator(DedupState.from_snapshot(tables), DedupSettings())
    sections += [after.see(item) for item in items[5:]]
    assert sections == expected
    assert sections[6].near_duplicate_of == items[1].article_id
    assert sections[7].verdict is DedupVerdict.EXACT_DUPLICATE
    assert after.state.snapshot() == uninterrupted.state.snapshot()


def test_an_index_rebuilt_from_the_summaries_is_the_one_see_built():
    # The worker keeps lsh_buckets and story_terms in memory and rebuilds them from the
    # summaries at start: a restart must go on exactly as if it had never stopped.
    # Copies that arrive in another order than their times: the index's lists are in the
    # order of arrival, which the articles' times do not tell.
    kept = paragraphs(synthetic_body(1))
    items = [
        article("Story 1", "\n\n".join(kept), NOW),
        article("Copy one", "\n\n".join(kept[:5]), NOW - timedelta(hours=3)),
        article("Copy two", "\n\n".join(kept[1:]), NOW - timedelta(hours=2)),
        article("Story 2", synthetic_body(2), NOW - timedelta(hours=1)),
        article("Copy three", "\n\n".join(kept[:4]), NOW + timedelta(hours=7)),
        article("Story 20", synthetic_body(20), NOW + timedelta(hours=9)),
    ]
    uninterrupted = fresh()
    expected = [uninterrupted.see(item) for item in items]

    before = fresh()
    sections = [before.see(item) for item in items[:4]]
    tables = json.loads(json.dumps(before.state.snapshot()))
    tables["lsh_buckets"], tables["story_terms"] = {}, {}
    after = Deduplicator(DedupState.from_snapshot(tables), DedupSettings())
    summaries = after.state.summaries
    after.rebuild_index(
        (article_id, *after.index_keys(summaries[article_id]))
        for article_id in sorted(summaries, key=lambda i: (after.index_order(summaries[i]), i))
    )
    assert after.state.snapshot() == before.state.snapshot()
    sections += [after.see(item) for item in items[4:]]
    assert sections == expected
    assert sections[1].near_duplicate_of == sections[2].near_duplicate_of == items[0].article_id
    assert after.state.snapshot() == uninterrupted.state.snapshot()


def test_state_keys_are_strings_and_values_plain_json():
    dedup = fresh()
    for n in range(3):
        dedup.see(article(f"Story {n}", synthetic_body(n)))
    for name, mapping in dedup.state.snapshot().items():
        for key, value in mapping.items():
            assert isinstance(key, str), name
            assert json.loads(json.dumps(value)) == value, name


def test_state_is_only_in_the_mappings_handed_in():
    # Two deduplicators over one state behave as one: nothing is kept on the side.
    state = DedupState.in_memory()
    first = Deduplicator(state, DedupSettings())
    original = article("Port closed after storm", synthetic_body(10))
    first.see(original)
    second = Deduplicator(state, DedupSettings())
    kept = paragraphs(original.body)
    section = second.see(article("Storm closes port", "\n\n".join(kept[:5])))
    assert section.near_duplicate_of == original.article_id


# --- bounded work -----------------------------------------------------------------------------


def test_boilerplate_lines_are_recognised_and_article_lines_are_not():
    furniture = [
        "Share this article",
        "Share | Tweet | Email",
        "Subscribe to our newsletter for daily updates.",
        "Follow us on Twitter and Facebook",
        "This article was originally published by Example News and is reprinted with permission.",
        "© 2019 Example News. All rights reserved.",
        "By Jane Doe",
        "Monday, 15 April 2019 17:14 GMT",
        "Photo: Reuters",
    ]
    text = [
        "The Pentagon is developing new military options to deter Russian influence.",
        "Video shows the flood reaching the town square",
        "East",
    ]
    assert all(is_boilerplate(normalise_line(line)) for line in furniture)
    assert not any(is_boilerplate(normalise_line(line)) for line in text)


@pytest.mark.timeout(10)
def test_pathological_lines_and_huge_bodies_cost_bounded_time():
    # A short line of punctuation and digits that ends in a word once took exponential time.
    nasty = "12:00 " + "- 1 " * 40 + "x"
    huge = "\n\n".join(synthetic_body(n) for n in range(400))  # about 70,000 words
    dedup = fresh()
    dedup.see(article("Nasty", nasty))
    section = dedup.see(article("Huge", huge))
    assert section.verdict is DedupVerdict.UNIQUE
