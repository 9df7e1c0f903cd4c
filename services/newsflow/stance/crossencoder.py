"""The cross-encoder that tells agree, disagree and discuss apart: the claim and the body's
passage about it read together by a fine-tuned all-MiniLM-L6-v2 (int8 ONNX, ONNX Runtime).

The graph gives a score per piece for each label; the pair's scores are their mean over
the pieces (the same as a linear head on the mean-pooled encoding, which is how it was
trained). Each pair runs alone, so its scores depend on the pair only (int8 activations are
quantised with one scale per run).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import onnxruntime
from tokenizers import Tokenizer

from newsflow.core.records import StanceLabel

MODEL_FILE = "cross-encoder.onnx"
TOKENIZER_FILE = "tokenizer.json"
# The graph's outputs, in order: the related labels.
LABELS = (StanceLabel.AGREE, StanceLabel.DISAGREE, StanceLabel.DISCUSS)
MAX_PIECES = 128


def pair_tokenizer(path: Path) -> Tokenizer:
    """[CLS] claim [SEP] passage [SEP], cut to `MAX_PIECES` (the longer side first), no padding."""
    tokenizer = Tokenizer.from_file(str(path))
    tokenizer.enable_truncation(MAX_PIECES, strategy="longest_first")
    tokenizer.no_padding()
    return tokenizer


class CrossEncoder:
    def __init__(self, folder: Path, *, threads: int = 1) -> None:
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.execution_mode = onnxruntime.ExecutionMode.ORT_SEQUENTIAL
        graph = folder / MODEL_FILE
        self.session = onnxruntime.InferenceSession(
            str(graph), options, providers=["CPUExecutionProvider"]
        )
        self.tokenizer = pair_tokenizer(folder / TOKENIZER_FILE)
        self.sha256 = hashlib.sha256(graph.read_bytes()).hexdigest()

    def logits(self, claim: str, passage: str) -> np.ndarray:
        """Unnormalised scores for agree, disagree, discuss."""
        encoding = self.tokenizer.encode(claim, passage)
        ids = np.array([encoding.ids], dtype=np.int64)
        scores = self.session.run(
            ["logits"],
            {
                "input_ids": ids,
                "attention_mask": np.ones_like(ids),
                "token_type_ids": np.array([encoding.type_ids], dtype=np.int64),
            },
        )[0][0]
        return scores.mean(axis=0)
