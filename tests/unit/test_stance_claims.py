"""The operators' claims file: its format, re-reading on change, and what a bad file does."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from newsflow.stance.claims import Claim, ClaimsFile, ClaimsFileError, parse_claims

GOOD = """\
claims:
  - id: bridge-closed
    text: The river bridge will close for repairs all summer
  - id: tax-cut
    text: The council cuts the local business tax
"""


def test_a_claims_file_lists_ids_and_texts():
    assert parse_claims(GOOD) == (
        Claim("bridge-closed", "The river bridge will close for repairs all summer"),
        Claim("tax-cut", "The council cuts the local business tax"),
    )


def test_a_bare_list_and_an_empty_file_are_accepted():
    assert parse_claims("- id: a\n  text: Some claim\n") == (Claim("a", "Some claim"),)
    assert parse_claims("") == ()
    assert parse_claims("claims: []\n") == ()


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("claims: [\n", "not YAML"),
        ("claims:\n  - id: a\n", "claims.0.text: Field required"),
        ("claims:\n  - id: a\n    text: ''\n", "claims.0.text"),
        ("claims:\n  - id: a\n    text: x\n    colour: red\n", "claims.0.colour"),
        ("claims:\n  - {id: a, text: x}\n  - {id: a, text: y}\n", "'a' is used twice"),
        ("just a sentence\n", "Input should be a valid dictionary"),
    ],
)
def test_a_malformed_claims_file_is_refused_with_the_reason(text, problem):
    with pytest.raises(ClaimsFileError, match=problem):
        parse_claims(text)


def rewrite(path: Path, text: str) -> None:
    path.write_text(text, encoding="utf-8")
    # A new modification time even on file systems with coarse timestamps.
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))


def test_a_change_is_picked_up_and_a_bad_file_keeps_the_previous_claims(tmp_path):
    path = tmp_path / "claims.yaml"
    rewrite(path, GOOD)
    loaded, errors = [], []
    claims = ClaimsFile(path, on_loaded=loaded.append, on_error=errors.append)
    assert claims.refresh() is True
    assert [c.id for c in claims.claims] == ["bridge-closed", "tax-cut"]
    assert claims.refresh() is False, "nothing changed, nothing re-read"

    rewrite(path, GOOD + "  - id: new-stadium\n    text: A new stadium is planned\n")
    assert claims.refresh() is True
    assert [c.id for c in claims.claims] == ["bridge-closed", "tax-cut", "new-stadium"]

    rewrite(path, "claims:\n  - id: broken\n")
    assert claims.refresh() is False
    assert [c.id for c in claims.claims] == ["bridge-closed", "tax-cut", "new-stadium"]
    assert len(errors) == 1 and "keeping the 3 claim(s) in force" in errors[0]
    claims.refresh()
    assert len(errors) == 1, "one report per bad version of the file"

    path.unlink()
    claims.refresh()
    assert len(errors) == 2 and "does not exist" in errors[1]
    assert len(claims.claims) == 3

    rewrite(path, "claims: []\n")
    assert claims.refresh() is True
    assert claims.claims == ()
    assert [len(c) for c in loaded] == [2, 3, 0]


def test_no_claims_file_means_no_file_claims():
    claims = ClaimsFile(None)
    assert claims.refresh() is False
    assert claims.claims == ()
