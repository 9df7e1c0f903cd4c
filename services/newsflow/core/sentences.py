"""Sentence embeddings from the pinned all-MiniLM-L6-v2 (int8 ONNX), run with ONNX Runtime.

What it says about meaning: two sentences that say the same thing in other words get
vectors with a high cosine. Stance uses it to find the body sentences about a claim, dedup
to tell a story's articles from articles that merely share words.

The vector is what sentence-transformers computes for this model: the mean of the last
hidden states over the sentence's pieces, scaled to unit length. Each sentence runs alone:
int8 activations are quantised with one scale per run, so a sentence batched with others
would get a vector that depends on its neighbours; alone it depends on the sentence only.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

import numpy as np
import onnxruntime
from tokenizers import Tokenizer

from newsflow.core import encoders

# The encoder's files, copied unchanged from the pinned artifact (`encoder.json` names it and
# its hashes, checked at load); relative, like every model folder, to where services run.
DEFAULT_FOLDER = Path("models/sentence-encoder")
MODEL_FILE = "model.onnx"
TOKENIZER_FILE = "tokenizer.json"
# A sentence's vector is mostly its first words; long sentences are cut, which keeps the
# cost of one bounded.
MAX_PIECES = 64
DIMENSIONS = 384


class SentenceEncoderError(RuntimeError):
    """The encoder's files are missing or are not the pinned ones."""


class SentenceEncoder:
    """Unit-length vectors for texts; the same text always gets the same vector."""

    def __init__(self, folder: Path = DEFAULT_FOLDER, *, threads: int = 1) -> None:
        folder = Path(folder)
        described = folder / "encoder.json"
        if not described.is_file():
            raise SentenceEncoderError(f"no sentence encoder in {folder} ({described} missing)")
        pinned = json.loads(described.read_text(encoding="utf-8"))
        for name, sha256 in pinned["sha256"].items():
            try:
                encoders.check(folder / name, sha256, f"sentence encoder file {name}")
            except encoders.EncoderFetchError as error:
                raise SentenceEncoderError(str(error)) from None
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.execution_mode = onnxruntime.ExecutionMode.ORT_SEQUENTIAL
        self.session = onnxruntime.InferenceSession(
            str(folder / MODEL_FILE), options, providers=["CPUExecutionProvider"]
        )
        self.tokenizer = Tokenizer.from_file(str(folder / TOKENIZER_FILE))
        self.tokenizer.enable_truncation(MAX_PIECES)
        self.tokenizer.no_padding()
        self.version = pinned["coordinates"]

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """(len(texts), 384) float32 rows of unit length (zeros for a text without words)."""
        result = np.zeros((len(texts), DIMENSIONS), dtype=np.float32)
        for row, encoding in enumerate(self.tokenizer.encode_batch(list(texts))):
            if len(encoding.ids) <= 2:  # [CLS] [SEP] only
                continue
            ids = np.array([encoding.ids], dtype=np.int64)
            hidden = self.session.run(
                ["last_hidden_state"],
                {
                    "input_ids": ids,
                    "attention_mask": np.ones_like(ids),
                    "token_type_ids": np.zeros_like(ids),
                },
            )[0][0]
            mean = hidden.mean(axis=0)
            result[row] = mean / max(float(np.linalg.norm(mean)), 1e-12)
        return result

    def vector(self, text: str) -> np.ndarray:
        vector: np.ndarray = self.embed([text])[0]
        return vector


@lru_cache(maxsize=4)
def shared(folder: Path = DEFAULT_FOLDER) -> SentenceEncoder:
    """One encoder per folder and process (its session is safe to share between threads)."""
    return SentenceEncoder(folder)
