"""Fine-tunes the cross-encoder (agree / disagree / discuss) from all-MiniLM-L6-v2 and
exports it as an int8 ONNX graph for `crossencoder.CrossEncoder`.

The encoder starts from the pinned fp32 export's weights; a linear head reads the mean of
its last hidden states. The loss weights each class by n / (3 x count): balanced, so the
model learns as much from the rare `disagree` (6 % of related pairs) as from `discuss`;
the probabilities are put back to the real frequencies by the calibration, and the
operating point chosen, on held-out stories (`calibration.py`).

The embeddings (and the lower `frozen_layers` layers, none by default) keep their pretrained
weights, so their output is computed once per pair. All six layers are trained: on held-out
stories that reads disagreement better than training the upper four only (disagree F1 0.27
against 0.18, mean of three splits), for about 30 minutes a run of 3 epochs on 2 cores.

Training only (PyTorch, transformers, onnx: the `train` extra, `make train-venv`).
"""

from __future__ import annotations

import logging
import random
import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from newsflow.core import encoders
from newsflow.lab.finetuning import length_batches, update, warmup_then_decay
from newsflow.stance.crossencoder import LABELS, MODEL_FILE, TOKENIZER_FILE, pair_tokenizer

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Recipe:
    epochs: int = 3
    batch: int = 16
    learning_rate: float = 5e-5
    weight_decay: float = 0.01
    warmup: float = 0.1
    dropout: float = 0.1
    weight_power: float = 1.0
    frozen_layers: int = 0  # lower layers kept at their pretrained weights


@dataclass(frozen=True)
class Example:
    claim: str
    passage: str
    label: str  # one of LABELS


def class_weights(labels: Sequence[str], power: float) -> np.ndarray:
    counts = np.array([max(1, sum(1 for label in labels if label == name)) for name in LABELS])
    return ((len(labels) / (len(LABELS) * counts)) ** power).astype(np.float32)


class Classifier:
    """The encoder and its head, in PyTorch."""

    def __init__(self, dropout: float, frozen_layers: int, seed: int) -> None:
        import torch

        from newsflow.lab.onnx_bert import bert_model, read_weights

        torch.manual_seed(seed)
        encoder = encoders.MINILM_L6
        self.files = encoders.fetch(encoder)
        self.base_graph = self.files / encoder.model.base
        self.tokenizer_file = self.files / encoder.tokenizer.base
        self.encoder = bert_model(read_weights(self.base_graph), encoder.attention_heads, dropout)
        self.frozen_layers = frozen_layers
        for name, parameter in self.encoder.named_parameters():
            if name.startswith("embeddings.") or any(
                name.startswith(f"encoder.layer.{i}.") for i in range(frozen_layers)
            ):
                parameter.requires_grad_(False)
        self.dropout = torch.nn.Dropout(dropout)
        self.head = torch.nn.Linear(self.encoder.config.hidden_size, len(LABELS))

    def parameters(self):
        yield from ((n, p) for n, p in self.encoder.named_parameters() if p.requires_grad)
        yield from (("head." + n, p) for n, p in self.head.named_parameters())

    def _mask(self, mask, hidden):
        return self.encoder._create_attention_masks(
            attention_mask=mask,
            encoder_attention_mask=None,
            embedding_output=hidden,
            encoder_hidden_states=None,
            past_key_values=None,
        )[0]

    def frozen_output(self, ids, types, mask):
        """The lower layers' output (no gradient: they are not trained)."""
        import torch

        with torch.no_grad():
            hidden = self.encoder.embeddings(input_ids=ids, token_type_ids=types)
            extended = self._mask(mask, hidden)
            for layer in self.encoder.encoder.layer[: self.frozen_layers]:
                hidden = layer(hidden, extended)
        return hidden

    def logits(self, frozen, mask):
        """Scores from the lower layers' output through the trained layers and the head."""
        hidden, extended = frozen, self._mask(mask, frozen)
        for layer in self.encoder.encoder.layer[self.frozen_layers :]:
            hidden = layer(hidden, extended)
        hidden = hidden * mask.unsqueeze(-1)
        pooled = hidden.sum(dim=1) / mask.sum(dim=1, keepdim=True)
        return self.head(self.dropout(pooled))

    def train(self, on: bool) -> None:
        self.encoder.train(on)
        self.dropout.train(on)


def _batch(encodings):
    import torch

    width = max(len(e.ids) for e in encodings)
    ids = np.zeros((len(encodings), width), dtype=np.int64)
    types, mask = np.zeros_like(ids), np.zeros_like(ids)
    for row, encoding in enumerate(encodings):
        n = len(encoding.ids)
        ids[row, :n], types[row, :n], mask[row, :n] = encoding.ids, encoding.type_ids, 1
    return torch.from_numpy(ids), torch.from_numpy(types), torch.from_numpy(mask)


def _padded(hidden):
    import torch

    width = max(len(h) for h in hidden)
    batch = torch.zeros((len(hidden), width, hidden[0].shape[1]))
    mask = torch.zeros((len(hidden), width), dtype=torch.int64)
    for row, h in enumerate(hidden):
        batch[row, : len(h)] = h.float()
        mask[row, : len(h)] = 1
    return batch, mask


def fit(examples: Sequence[Example], recipe: Recipe, seed: int, name: str = "cross-encoder"):
    """The fine-tuned `Classifier` after `recipe.epochs` passes over `examples`."""
    import torch
    from tqdm import tqdm

    rng = random.Random(seed)
    model = Classifier(recipe.dropout, recipe.frozen_layers, seed)
    tokenizer = pair_tokenizer(model.tokenizer_file)
    encodings = tokenizer.encode_batch([(e.claim, e.passage) for e in examples])
    model.train(False)
    frozen = []  # per pair, (pieces, hidden) in float16: a few hundred MB for FNC-1
    for first in tqdm(range(0, len(examples), 64), desc=f"{name} lower layers", disable=None):
        chunk = encodings[first : first + 64]
        ids, types, mask = _batch(chunk)
        output = model.frozen_output(ids, types, mask)
        frozen += [output[row, : len(e.ids)].half() for row, e in enumerate(chunk)]
    targets = np.array([LABELS.index(e.label) for e in examples])
    weights = torch.from_numpy(class_weights([e.label for e in examples], recipe.weight_power))
    parameters = list(model.parameters())
    decay = [p for n, p in parameters if not (n.endswith("bias") or "LayerNorm" in n)]
    no_decay = [p for n, p in parameters if n.endswith("bias") or "LayerNorm" in n]
    optimiser = torch.optim.AdamW(
        [{"params": decay, "weight_decay": recipe.weight_decay}, {"params": no_decay}],
        lr=recipe.learning_rate,
    )
    total = -(-len(examples) // recipe.batch) * recipe.epochs
    scheduler = warmup_then_decay(optimiser, recipe.warmup, total)
    loss_of = torch.nn.CrossEntropyLoss(weight=weights)
    started = time.time()
    logger.info("%s: %d pairs, %d updates, class weights %s", name, len(examples), total, weights)
    model.train(True)
    for epoch in range(1, recipe.epochs + 1):
        batches = length_batches(len(examples), lambda i: len(encodings[i]), recipe.batch, rng)
        running = 0.0
        progress = tqdm(batches, desc=f"{name} epoch {epoch}/{recipe.epochs}", disable=None)
        for number, indices in enumerate(progress, start=1):
            hidden, mask = _padded([frozen[i] for i in indices])
            loss = loss_of(model.logits(hidden, mask), torch.from_numpy(targets[indices]))
            running += update(loss, [p for _, p in parameters], optimiser, scheduler)
            progress.set_postfix(loss=f"{running / number:.4f}")
        logger.info(
            "%s epoch %d: loss %.4f, %.1f min",
            name, epoch, running / len(batches), (time.time() - started) / 60,
        )  # fmt: skip
    model.train(False)
    return model


def export(model: Classifier, folder: Path) -> Path:
    """`folder/cross-encoder.onnx` (int8) and its tokenizer: what `CrossEncoder` loads."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    from newsflow.lab.onnx_bert import write_classifier

    folder.mkdir(parents=True, exist_ok=True)
    weights = {n: p.detach().numpy() for n, p in model.encoder.named_parameters()}
    full = folder / "cross-encoder-fp32.onnx"
    write_classifier(
        model.base_graph,
        weights,
        model.head.weight.detach().numpy(),
        model.head.bias.detach().numpy(),
        full,
    )
    quantize_dynamic(
        full,
        folder / MODEL_FILE,
        weight_type=QuantType.QInt8,
        per_channel=True,
        extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},
    )
    full.unlink()
    shutil.copyfile(model.tokenizer_file, folder / TOKENIZER_FILE)
    return folder / MODEL_FILE
