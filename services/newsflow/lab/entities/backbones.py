"""The pretrained encoders NER is fine-tuned from, as PyTorch `BertModel`s with their tokenizers.

- `student()`: all-MiniLM-L6-v2 from its pinned ONNX export. It is uncased, so its
  token-type table grows into `transformer.CASING_CLASSES` rows, each starting as the
  encoder's own token-type vector: training starts from the pretrained model unchanged.
  This is what the entity worker runs.
- `teacher()`: Google's BERT-Base cased from its pinned TensorFlow SavedModel. Cased and
  twelve 768-wide layers: much stronger, ten times slower; it only labels text for the
  student.

Training only (PyTorch, transformers: the `train` extra).
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tokenizers import Tokenizer
from tokenizers.implementations import BertWordPieceTokenizer

from newsflow.core import encoders
from newsflow.entities import transformer


@dataclass
class Backbone:
    name: str
    encoder: encoders.Encoder
    weights: dict[str, np.ndarray]  # transformers' BertModel names
    tokenizer: Tokenizer
    casing: bool  # feed casing classes as token types (an uncased vocabulary)
    files: Path  # the fetched, checked files

    def model(self, dropout: float):
        """A `BertModel` with these weights (dropout as given)."""
        from newsflow.lab.onnx_bert import bert_model

        return bert_model(self.weights, self.encoder.attention_heads, dropout)


TOKEN_TYPES = "embeddings.token_type_embeddings.weight"


def _unpadded(tokenizer: Tokenizer) -> Tokenizer:
    tokenizer.no_truncation()
    tokenizer.no_padding()
    return tokenizer


def student() -> Backbone:
    from newsflow.lab.onnx_bert import read_weights

    encoder = encoders.MINILM_L6
    folder = encoders.fetch(encoder)
    weights = read_weights(folder / encoder.model.base)
    weights[TOKEN_TYPES] = np.repeat(weights[TOKEN_TYPES][:1], transformer.CASING_CLASSES, axis=0)
    tokenizer = _unpadded(Tokenizer.from_file(str(folder / encoder.tokenizer.base)))
    return Backbone("all-MiniLM-L6-v2", encoder, weights, tokenizer, True, folder)


# TensorFlow BERT variable -> transformers BertModel parameter, applied in order.
_RENAMES = (
    ("module/bert/", ""),
    ("/", "."),
    ("layer_", "layer."),
    ("LayerNorm.gamma", "LayerNorm.weight"),
    ("LayerNorm.beta", "LayerNorm.bias"),
    (".kernel", ".weight"),
)


def teacher(cache: Path) -> Backbone:
    """BERT-Base cased; its SavedModel is unpacked once into `cache`."""
    from newsflow.lab.tf_checkpoint import read_checkpoint

    encoder = encoders.BERT_BASE_CASED
    folder = encoders.fetch(encoder)
    unpacked = cache / "bert-base-cased"
    if not (unpacked / "assets/vocab.txt").is_file():
        with zipfile.ZipFile(folder / encoder.files[0].base) as archive:
            archive.extractall(unpacked)
    weights: dict[str, np.ndarray] = {}
    for name, value in read_checkpoint(unpacked / "variables/variables").items():
        if not name.startswith("module/bert/") or "/pooler/" in name:
            continue
        for old, new in _RENAMES:
            name = name.replace(old, new)
        if name.startswith("embeddings.") and not name.startswith("embeddings.LayerNorm"):
            name += ".weight"
        # TensorFlow keeps dense kernels as (in, out), PyTorch as (out, in).
        weights[name] = (
            value.T.copy()
            if name.endswith(".weight") and value.ndim == 2 and (not name.startswith("embeddings."))
            else value.copy()
        )
    tokenizer = BertWordPieceTokenizer(
        str(unpacked / "assets/vocab.txt"), lowercase=False, strip_accents=False
    )
    return Backbone("BERT-Base cased", encoder, weights, _unpadded(tokenizer), False, folder)
