"""A BERT encoder's ONNX graph as trainable weights, and fine-tuned weights back into the graph.

The registry artifacts are ONNX exports: their initializers are the model's tensors, named
as in the original checkpoint except the weight matrices, which are anonymous inputs of
`MatMul` nodes. A matrix is named by the bias its product is added to. Writing back edits a
copy of the same graph (same operators, so ONNX Runtime runs it as it runs the upstream
export): tensors are replaced, the token-type table may grow (newsflow feeds casing classes
there) and a linear head turns the last hidden states into scores.

Training only: needs the `onnx` package (the `train` extra), never imported by a service.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import onnx
from onnx import helper, numpy_helper

HIDDEN_OUTPUT = "last_hidden_state"
TOKEN_TYPES = "embeddings.token_type_embeddings.weight"


def _weight_names(graph: onnx.GraphProto, initializers: Mapping[str, np.ndarray]) -> dict[str, str]:
    """Anonymous `MatMul` weight -> checkpoint name, from the bias added to its product."""
    consumers: dict[str, list[onnx.NodeProto]] = {}
    for node in graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
    names: dict[str, str] = {}
    for node in graph.node:
        if node.op_type != "MatMul" or node.input[1] not in initializers:
            continue
        if not node.input[1].startswith("onnx::"):
            continue
        (add,) = consumers[node.output[0]]
        biases = [name for name in add.input if name in initializers and name.endswith(".bias")]
        if add.op_type != "Add" or len(biases) != 1:
            raise ValueError(f"MatMul {node.name} is not followed by a bias: not a BERT export")
        names[node.input[1]] = biases[0].removesuffix(".bias") + ".weight"
    return names


def read_weights(path: Path) -> dict[str, np.ndarray]:
    """The encoder's tensors by checkpoint name (linear weights as (out, in), like PyTorch's)."""
    model = onnx.load(str(path))
    initializers = {item.name: numpy_helper.to_array(item) for item in model.graph.initializer}
    renamed = _weight_names(model.graph, initializers)
    weights: dict[str, np.ndarray] = {}
    for name, value in initializers.items():
        if name in renamed:
            weights[renamed[name]] = value.T.copy()
        elif not name.startswith("onnx::") and not name.endswith("position_ids"):
            weights[name] = value
    return weights


def write_classifier(
    base: Path,
    weights: Mapping[str, np.ndarray],
    head_weight: np.ndarray,
    head_bias: np.ndarray,
    target: Path,
    output_name: str = "logits",
) -> None:
    """Write `base`'s graph with `weights` in place of its tensors and a linear head on top.

    `head_weight` is (labels, hidden) as in PyTorch; the graph's output becomes `output_name`,
    (batch, pieces, labels).
    """
    model = onnx.load(str(base))
    graph = model.graph
    initializers = {item.name: item for item in graph.initializer}
    renamed = _weight_names(graph, {name: None for name in initializers})
    by_checkpoint_name = {checkpoint: onnx_name for onnx_name, checkpoint in renamed.items()}
    for name, value in weights.items():
        onnx_name = by_checkpoint_name.get(name, name)
        if onnx_name not in initializers:
            raise KeyError(f"{name} is not a tensor of {base}")
        old = numpy_helper.to_array(initializers[onnx_name])
        new = value.T if onnx_name in renamed else value
        if new.shape != old.shape and name != TOKEN_TYPES:
            raise ValueError(f"{name}: shape {new.shape}, the graph has {old.shape}")
        initializers[onnx_name].CopyFrom(
            numpy_helper.from_array(np.ascontiguousarray(new, dtype=old.dtype), onnx_name)
        )
    graph.initializer.extend(
        [
            numpy_helper.from_array(
                np.ascontiguousarray(head_weight.T, dtype=np.float32), "head.weight"
            ),
            numpy_helper.from_array(np.ascontiguousarray(head_bias, dtype=np.float32), "head.bias"),
        ]
    )
    graph.node.extend(
        [
            helper.make_node(
                "MatMul", [HIDDEN_OUTPUT, "head.weight"], ["head.scores"], name="head.matmul"
            ),
            helper.make_node("Add", ["head.scores", "head.bias"], [output_name], name="head.add"),
        ]
    )
    labels = head_weight.shape[0]
    del graph.output[:]
    graph.output.append(
        helper.make_tensor_value_info(
            output_name, onnx.TensorProto.FLOAT, ["batch", "pieces", labels]
        )
    )
    onnx.checker.check_model(model)
    target.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(target))


def bert_model(weights: Mapping[str, np.ndarray], attention_heads: int, dropout: float):
    """A transformers `BertModel` (no pooler) holding `weights`, its shape read from them."""
    import torch
    from transformers import BertConfig, BertModel

    vocabulary, hidden = weights["embeddings.word_embeddings.weight"].shape
    layers = 1 + max(
        int(name.split(".")[2]) for name in weights if name.startswith("encoder.layer.")
    )
    config = BertConfig(
        vocab_size=vocabulary,
        hidden_size=hidden,
        num_hidden_layers=layers,
        num_attention_heads=attention_heads,
        intermediate_size=weights["encoder.layer.0.intermediate.dense.weight"].shape[0],
        max_position_embeddings=weights["embeddings.position_embeddings.weight"].shape[0],
        type_vocab_size=weights[TOKEN_TYPES].shape[0],
        hidden_dropout_prob=dropout,
        attention_probs_dropout_prob=dropout,
    )
    model = BertModel(config, add_pooling_layer=False)
    model.load_state_dict({name: torch.tensor(value) for name, value in weights.items()})
    return model
