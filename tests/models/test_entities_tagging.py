"""The tagger with the committed model: what a reader sees in the `entities` section.

Seed articles are read from beside the repository (skipped when absent); other texts are
invented here.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from newsflow.core.records import EntitiesSection, EntityLabel
from newsflow.entities.tagging import Tagger, model_version, pieces

REPO = Path(__file__).resolve().parents[2]
MODEL = REPO / "models/ner"
SEEDS = REPO.parent / "shared/data/seeds"

PER, ORG, LOC = EntityLabel.PERSON, EntityLabel.ORGANISATION, EntityLabel.LOCATION


@pytest.fixture(scope="module")
def tagger() -> Tagger:
    if not (MODEL / "meta.json").is_file():
        pytest.skip(f"no trained model in {MODEL} (python -m newsflow.lab.entities.train)")
    return Tagger.load(MODEL)


def seed_text(prefix: str) -> str:
    if not SEEDS.is_dir():
        pytest.skip(f"seed articles not found in {SEEDS} (they are kept outside the repository)")
    return next(SEEDS.glob(f"{prefix}_*.txt")).read_text(encoding="utf-8")


def assert_offsets_exact(text: str, section: EntitiesSection) -> None:
    for mention in section.mentions:
        assert text[mention.start : mention.end] == mention.text
    starts = [mention.start for mention in section.mentions]
    assert starts == sorted(starts)
    canonicals = {entity.canonical for entity in section.entities}
    assert {mention.canonical for mention in section.mentions} == canonicals
    for entity in section.entities:
        own = [m for m in section.mentions if m.canonical == entity.canonical]
        assert entity.count == len(own)
        assert entity.first_offset == own[0].start


def entity(section: EntitiesSection, canonical: str):
    found = [e for e in section.entities if e.canonical == canonical]
    assert found, f"{canonical!r} not among {[e.canonical for e in section.entities]}"
    return found[0]


def canonical_of(section: EntitiesSection, text: str) -> set[str]:
    return {m.canonical for m in section.mentions if m.text == text}


def test_seed_003_people_organisations_and_places(tagger: Tagger) -> None:
    text = seed_text("003")
    section = tagger.tag(text)
    assert_offsets_exact(text, section)
    assert entity(section, "Vasily Tonkoshkurov").label is PER
    padrino = entity(section, "Vladimir Padrino Lopez")
    assert padrino.label is PER
    assert canonical_of(section, "Padrino Lopez") == {"Vladimir Padrino Lopez"}
    assert padrino.count >= 2
    oas = entity(section, "Organization of American States")
    assert oas.label is ORG
    assert canonical_of(section, "OAS") == {"Organization of American States"}
    for name, label in (("CARICOM", ORG), ("Caracas", LOC), ("Maiquetia", LOC)):
        mentions = [m for m in section.mentions if m.text == name]
        assert mentions, f"{name} not found"
        assert {m.label for m in mentions} == {label}, name
        assert len({m.canonical for m in mentions}) == 1, name
    assert entity(section, "United States").label is LOC  # "US" and "the United States"


def test_seed_001_people(tagger: Tagger) -> None:
    text = seed_text("001")
    section = tagger.tag(text)
    assert_offsets_exact(text, section)
    pompeo = entity(section, "Mike Pompeo")
    assert pompeo.label is PER
    assert canonical_of(section, "Pompeo") == {"Mike Pompeo"}
    assert pompeo.count >= 5
    assert entity(section, "Xu Bu").label is PER
    assert entity(section, "Lu Kang").label is PER


def test_offsets_are_exact_on_every_seed(tagger: Tagger) -> None:
    if not SEEDS.is_dir():
        pytest.skip(f"seed articles not found in {SEEDS}")
    texts = [path.read_text(encoding="utf-8") for path in sorted(SEEDS.glob("*.txt"))]
    sections = tagger.tag_many(texts)
    assert len(sections) == len(texts)
    for text, section in zip(texts, sections, strict=True):
        assert section.mentions
        assert_offsets_exact(text, section)


def test_invented_article(tagger: Tagger) -> None:
    text = (
        "Prime Minister Ada Okafor of Nigeria met the head of the European Union in Brussels "
        "on Monday.\n\nOkafor told reporters that the U.S. and Britain had offered help."
    )
    section = tagger.tag(text)
    assert_offsets_exact(text, section)
    assert canonical_of(section, "Okafor") == {"Ada Okafor"}
    assert entity(section, "Ada Okafor").label is PER
    assert entity(section, "Brussels").label is LOC
    assert entity(section, "United States").label is LOC
    assert entity(section, "United Kingdom").label is LOC
    assert section.model_version == tagger.model_version


def test_an_articles_entities_do_not_depend_on_what_it_is_tagged_with(tagger: Tagger) -> None:
    texts = [
        "Ada Okafor flew from Lagos to Geneva, where the World Health Organization met. " * n
        + "Finjunyarrenburg's mayor, Fatima Gormifin, thanked the Finyardra Institute."
        for n in (1, 7, 40)
    ] + ["Reuters reported that Maersk and Hutchison Ports cut rates in Rotterdam."]
    alone = [tagger.tag(text) for text in texts]
    assert tagger.tag_many(texts) == alone
    assert tagger.tag_many(texts[::-1]) == alone[::-1]


def test_empty_and_blank_texts(tagger: Tagger) -> None:
    sections = tagger.tag_many(["", "   \n\n  ", "Nothing to see here."])
    for section in sections:
        assert section.mentions == [] and section.entities == []
        assert section.model_version.startswith("ner-")
    assert tagger.tag_many([]) == []


def test_a_huge_text_is_tagged_in_bounded_time_with_exact_offsets(tagger: Tagger) -> None:
    paragraph = (
        "Ada Okafor flew from Lagos to Geneva, where the World Health Organization met. "
        "Okafor said Nigeria would help.\n\n"
    )
    text = paragraph * 3000 + "x" * 50_000 + " Geneva is calm. " + paragraph  # no break for 50k
    started = time.perf_counter()
    section = tagger.tag(text)
    elapsed = time.perf_counter() - started
    assert_offsets_exact(text, section)
    assert entity(section, "Ada Okafor").count >= 3000
    assert elapsed < 120
    long_tail = Tagger(tagger.nlp, tagger.model_version, max_text_chars=len(paragraph) * 10)
    truncated = long_tail.tag(text)
    assert max(m.end for m in truncated.mentions) <= len(paragraph) * 10


def test_pieces_cover_the_text_at_good_cut_points() -> None:
    text = ("A sentence here. " * 40 + "\n\n") * 30 + "y" * 2500
    parts = list(pieces(text, max_chars=1000))
    assert "".join(part.content for part in parts) == text
    assert all(len(part.content) <= 1000 for part in parts)
    for part in parts:
        assert text[part.offset : part.offset + len(part.content)] == part.content
    assert parts[0].content.endswith("\n\n")


def test_model_version_names_the_model() -> None:
    if not (MODEL / "meta.json").is_file():
        pytest.skip(f"no trained model in {MODEL}")
    version = model_version(MODEL)
    assert version.startswith("ner-") and version == model_version(MODEL)


# --- the document rules and the tokenizer, without the model -------------------------------


def blank_doc(words: str, ents: list[tuple[int, int, str]]):
    import spacy
    from spacy.tokens import Doc, Span

    doc = Doc(spacy.blank("en").vocab, words=words.split())
    doc.ents = [Span(doc, start, end, label=label) for start, end, label in ents]
    return doc


def labelled(doc) -> list[tuple[str, str]]:
    return [(span.text, span.label_) for span in doc.ents]


def test_document_rules_spread_labels_to_missed_repeats() -> None:
    from newsflow.entities.consistency import harmonise

    doc = blank_doc(
        "TURKEY TALKS . Mike Pompeo met Ada Okafor in Turkey . Pompeo and Okafor left Turkey",
        [(3, 5, "PER"), (6, 8, "PER"), (9, 10, "LOC"), (11, 12, "ORG")],
    )
    harmonise(doc)
    assert labelled(doc) == [
        ("TURKEY", "LOC"),  # a repeat in capitals
        ("Mike Pompeo", "PER"),
        ("Ada Okafor", "PER"),
        ("Turkey", "LOC"),
        ("Pompeo", "PER"),  # ORG for a surname of a person named in full
        ("Okafor", "PER"),  # a missed surname
        ("Turkey", "LOC"),  # a missed repeat
    ]


def test_document_rules_leave_lower_case_words_and_empty_docs_alone() -> None:
    from newsflow.entities.consistency import harmonise

    doc = blank_doc("Rose Park said a rose grew in the park", [(0, 2, "PER")])
    harmonise(doc)
    assert labelled(doc) == [("Rose Park", "PER")]
    empty = blank_doc("nothing here", [])
    harmonise(empty)
    assert labelled(empty) == []


def test_tokenizer_keeps_names_with_hyphens_whole() -> None:
    import spacy

    from newsflow.lab.entities.train import conll_tokenisation

    nlp = spacy.blank("en")
    conll_tokenisation(nlp)
    words = [t.text for t in nlp("Jean-Bertrand Aristide flew a US-funded Tu-160 to Lima—fast")]
    assert words == [
        "Jean-Bertrand", "Aristide", "flew", "a", "US", "-", "funded", "Tu-160", "to", "Lima",
        "—", "fast",
    ]  # fmt: skip


# --- names a reader checks first ------------------------------------------------------------

HAND_WRITTEN = {
    "social": (
        "Twitter said on Tuesday it had suspended 400 accounts that spread false reports about "
        "the election. A Twitter spokeswoman said the accounts were run from abroad."
    ),
    "ports": (
        "Maersk and Hutchison Ports agreed on Thursday to share berths at Rotterdam. "
        "Hutchison Ports, which runs terminals in 26 countries, said the deal would cut waiting "
        "times, while Maersk expects lower costs."
    ),
    "flood": (
        "Lagos State Governor Babajide Sanwo-Olu visited Ikorodu on Sunday after heavy rain "
        "flooded hundreds of homes. Sanwo-Olu promised new drains for Ikorodu and Lekki."
    ),
}


def labels_of(section: EntitiesSection, text: str) -> set[EntityLabel]:
    found = {m.label for m in section.mentions if m.text == text}
    assert found, f"{text!r} not found among {[m.text for m in section.mentions]}"
    return found


def test_seed_names_carry_the_right_type(tagger: Tagger) -> None:
    venezuela_001 = tagger.tag(seed_text("001"))
    assert labels_of(venezuela_001, "Hezbollah") == {ORG}
    for name in ("Maduro", "Guaidó"):
        assert labels_of(venezuela_001, name) == {PER}
    assert labels_of(tagger.tag(seed_text("003")), "Monroe Doctrine") == {EntityLabel.MISCELLANEOUS}
    envoy = tagger.tag(seed_text("004"))
    abrams = [m for m in envoy.mentions if "Abrams" in m.text]
    assert abrams and {m.text for m in abrams} <= {"Elliott Abrams", "Abrams"}
    assert {m.label for m in abrams} == {PER}


def test_hand_written_names_carry_the_right_type(tagger: Tagger) -> None:
    social, ports, flood = tagger.tag_many(list(HAND_WRITTEN.values()))
    assert labels_of(social, "Twitter") == {ORG}
    assert labels_of(ports, "Maersk") == {ORG}
    assert labels_of(ports, "Hutchison Ports") == {ORG}
    assert entity(flood, "Babajide Sanwo-Olu").label is PER
    assert labels_of(flood, "Ikorodu") == {LOC}


def test_the_fast_model_is_a_setting_away(monkeypatch) -> None:
    from newsflow.core.settings import SettingsError, load
    from newsflow.entities.settings import EntitiesWorkerSettings

    assert load(EntitiesWorkerSettings).model_folder == Path("models/ner")
    monkeypatch.setenv("NEWSFLOW_ENTITIES_MODEL", "fast")
    fast = load(EntitiesWorkerSettings).model_folder
    assert fast == Path("models/ner-fast")
    text = "Angela Merkel met Emmanuel Macron in Paris on Tuesday."
    section = Tagger.load(REPO / fast).tag(text)
    assert_offsets_exact(text, section)
    assert entity(section, "Angela Merkel").label is PER
    assert entity(section, "Paris").label is LOC
    assert section.model_version == model_version(REPO / fast) != model_version(MODEL)
    monkeypatch.setenv("NEWSFLOW_ENTITIES_MODEL", "huge")
    with pytest.raises(SettingsError, match="NEWSFLOW_ENTITIES_MODEL"):
        load(EntitiesWorkerSettings)
