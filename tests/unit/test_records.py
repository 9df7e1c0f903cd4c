"""Unit tests of the record models and article identity (no broker)."""

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from newsflow.core import records
from newsflow.core.identity import article_id, collapse_spaces
from tests.support.examples import BODY, TITLE, enriched_article, raw_article


def test_the_same_text_has_the_same_id_whatever_its_typography():
    plain = article_id(TITLE, BODY)
    curly = article_id(f"  {TITLE.upper()} ", BODY.replace(" ", "\u00a0 ").replace("'", "\u2019"))
    assert plain == curly


def test_different_text_has_a_different_id():
    assert article_id(TITLE, BODY) != article_id(TITLE, BODY + " Update: denied.")


# Article ids must never change between releases: the faster whitespace collapse gives exactly
# what splitting on whitespace gives, for ASCII and any other text.
@given(st.text(alphabet=st.sampled_from(" \t\n\r\x0b\x0c\x1c\x1f\x85\u00a0\u2028ab.")))
def test_collapsing_spaces_is_joining_the_words(text):
    assert collapse_spaces(text) == " ".join(text.split())


def test_moving_a_line_from_body_to_title_changes_the_id():
    assert article_id("A", "B C") != article_id("A B", "C")


def test_records_round_trip_through_the_wire_format():
    record = enriched_article()
    assert records.decode(records.EnrichedArticle, records.encode(record)) == record


def test_fields_from_a_newer_producer_are_ignored():
    wire = records.encode(raw_article())[:-1] + b', "sentiment": 0.3}'
    assert records.decode(records.RawArticle, wire).article_id == raw_article().article_id


def test_an_empty_body_is_rejected():
    with pytest.raises(ValidationError, match="body"):
        raw_article(body="")


def test_excerpt_bounds_the_payload_and_says_so():
    text, truncated = records.excerpt(b"\xff" * 10 + b"x" * 100, limit=20)
    assert truncated and len(text) == 20 and text.startswith("\ufffd")
