"""The sentence encoder the stance and dedup workers share: the committed pinned files,
meaning over wording, and no vector that depends on what else was in the call."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from newsflow.core.sentences import SentenceEncoder, SentenceEncoderError

ENCODER = Path(__file__).resolve().parents[2] / "models" / "sentence-encoder"


@pytest.fixture(scope="module")
def encoder() -> SentenceEncoder:
    return SentenceEncoder(ENCODER)


def test_a_paraphrase_is_nearer_than_a_sentence_sharing_words(encoder):
    claim, paraphrase, same_words = encoder.embed(
        [
            "The mayor resigned after the corruption scandal",
            "Following the bribery affair, the city's leader stepped down",
            "The scandal over the mayor's new parking rules resigned residents to longer walks",
        ]
    )
    assert float(claim @ paraphrase) > float(claim @ same_words) + 0.05


def test_vectors_are_unit_length_and_do_not_depend_on_the_other_texts(encoder):
    alone = encoder.embed(["Floods cut off three villages in the north"])
    together = encoder.embed(
        ["Shares rose on Monday", "Floods cut off three villages in the north", ""]
    )
    assert np.allclose(np.linalg.norm(together[:2], axis=1), 1.0, atol=1e-5)
    assert np.array_equal(alone[0], together[1])
    assert not together[2].any()  # no words, no direction


def test_a_changed_file_is_refused_naming_it(tmp_path):
    folder = tmp_path / "encoder"
    shutil.copytree(ENCODER, folder)
    with (folder / "tokenizer.json").open("a") as handle:
        handle.write(" ")
    with pytest.raises(SentenceEncoderError, match=r"tokenizer\.json"):
        SentenceEncoder(folder)


def test_a_missing_folder_is_refused():
    with pytest.raises(SentenceEncoderError, match="no sentence encoder"):
        SentenceEncoder(ENCODER.parent / "no-such-encoder")
