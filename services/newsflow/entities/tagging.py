"""Article bodies in, `EntitiesSection`s out: the trained spaCy pipeline, the document rules
of `consistency`, and canonical names.

The model is loaded once from a folder (a setting, `models/ner` by default), never from a
package. Long bodies are cut at paragraph breaks into pieces of bounded length so that time
and memory per piece stay bounded; offsets always point into the text as given.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import spacy
from spacy.language import Language

from newsflow.core.records import EntitiesSection, EntityLabel

from . import onnx_ner  # noqa: F401  (registers the transformer component)
from .canonical import FoundMention, entities_section
from .consistency import harmonise

logger = logging.getLogger(__name__)

DEFAULT_MODEL_DIR = Path("models/ner")
MAX_PIECE_CHARS = 10_000  # a piece of a long text: bounded work for one `Doc`
MAX_TEXT_CHARS = 1_000_000  # beyond this a text is tagged up to here only (about 30 s)
BATCH_SIZE = 32

# Where a long text may be cut, best first: paragraph breaks, line breaks, sentence ends, spaces.
_CUT_POINTS = (re.compile(r"\n\s*\n"), re.compile(r"\n"), re.compile(r"[.!?]\s"), re.compile(r"\s"))


class ModelError(RuntimeError):
    """The model folder is missing or is not a spaCy pipeline with an `ner` component."""


@dataclass(frozen=True)
class Piece:
    """A slice `text[offset : offset + len(content)]` of an article tagged as one `Doc`."""

    offset: int
    content: str


def pieces(text: str, max_chars: int = MAX_PIECE_CHARS) -> Iterator[Piece]:
    """Cut `text` into consecutive pieces of at most `max_chars`, at the best cut point."""
    offset = 0
    while len(text) - offset > max_chars:
        window = text[offset : offset + max_chars]
        cut = 0
        for pattern in _CUT_POINTS:
            ends = [match.end() for match in pattern.finditer(window)]
            # a cut in the first half would make many small pieces; try a weaker cut point
            if ends and ends[-1] > max_chars // 2:
                cut = ends[-1]
                break
        cut = cut or max_chars
        yield Piece(offset, window[:cut])
        offset += cut
    if offset < len(text):
        yield Piece(offset, text[offset:])


def model_version(model_dir: Path) -> str:
    """`ner-<version>-<hash>`: the pipeline's version and a hash of every file in its folder."""
    digest = hashlib.sha256()
    for path in sorted(model_dir.rglob("*")):
        if path.is_file() and path.suffix != ".md":  # the model card is not the model
            digest.update(path.relative_to(model_dir).as_posix().encode())
            digest.update(path.read_bytes())
    meta = spacy.util.load_meta(model_dir / "meta.json")
    return f"ner-{meta.get('version', '0')}-{digest.hexdigest()[:10]}"


def load_pipeline(model_dir: Path) -> Language:
    """The spaCy pipeline in `model_dir`, with only what NER needs enabled."""
    if not (model_dir / "meta.json").is_file():
        raise ModelError(
            f"no spaCy model in {model_dir} (expected {model_dir}/meta.json); "
            "train one with `python -m newsflow.lab.entities.train`"
        )
    nlp = spacy.load(model_dir)
    if "ner" not in nlp.pipe_names:
        raise ModelError(f"the pipeline in {model_dir} has no `ner` component")
    return nlp


def uses_document_rules(nlp: Language) -> bool:
    """Whether the model's labels go through the document rules (`consistency`).

    They help a model that sees a few words either side (the fast CNN) and cost a little F1
    with one that reads the document (the transformer): the model's meta says which.
    """
    return bool(nlp.meta.get("newsflow", {}).get("document_rules", True))


class Tagger:
    """Finds the named entities of texts and names each entity one way per text."""

    def __init__(
        self,
        nlp: Language,
        model_version: str,
        *,
        batch_size: int = BATCH_SIZE,
        max_piece_chars: int = MAX_PIECE_CHARS,
        max_text_chars: int = MAX_TEXT_CHARS,
        document_rules: bool = True,
    ) -> None:
        self.nlp = nlp
        self.document_rules = document_rules
        self.model_version = model_version
        self.batch_size = batch_size
        self.max_piece_chars = max_piece_chars
        self.max_text_chars = max_text_chars

    @classmethod
    def load(cls, model_dir: Path | str = DEFAULT_MODEL_DIR, **options: int) -> Tagger:
        """Load the pipeline in `model_dir` once; `options` as for the constructor."""
        model_dir = Path(model_dir)
        nlp = load_pipeline(model_dir)
        return cls(
            nlp, model_version(model_dir), document_rules=uses_document_rules(nlp), **options
        )

    def tag(self, text: str) -> EntitiesSection:
        return self.tag_many([text])[0]

    def tag_many(self, texts: Sequence[str]) -> list[EntitiesSection]:
        """One section per text, in order; mentions' offsets index into each text as given."""
        owners: list[int] = []
        all_pieces: list[Piece] = []
        for index, text in enumerate(texts):
            if len(text) > self.max_text_chars:
                logger.warning(
                    "text of %d characters: tagging its first %d only",
                    len(text),
                    self.max_text_chars,
                )
            for piece in pieces(text[: self.max_text_chars], self.max_piece_chars):
                if piece.content.strip():
                    owners.append(index)
                    all_pieces.append(piece)
        found: list[list[FoundMention]] = [[] for _ in texts]
        docs = self.nlp.pipe(
            (piece.content for piece in all_pieces), batch_size=self.batch_size, n_process=1
        )
        for owner, piece, doc in zip(owners, all_pieces, docs, strict=True):
            if self.document_rules:
                harmonise(doc)
            found[owner].extend(
                FoundMention(
                    text=span.text,
                    label=EntityLabel(span.label_),
                    start=piece.offset + span.start_char,
                    end=piece.offset + span.end_char,
                )
                for span in doc.ents
            )
        return [
            entities_section(mentions, text, self.model_version)
            for mentions, text in zip(found, texts, strict=True)
        ]
