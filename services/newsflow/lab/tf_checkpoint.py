"""Read the tensors of a TensorFlow checkpoint (a SavedModel's `variables/`) without TensorFlow.

A checkpoint is an index (a LevelDB table: tensor name -> where its bytes are, their dtype,
shape and CRC32C) and data shards of raw little-endian bytes. Reading ~200 float arrays
needs only that much of the format, not a 600 MB framework; every tensor's checksum is
verified, so a misread is an error, never silently wrong weights.

Training only: the distillation teacher (Google's BERT-base cased, as a SavedModel on Maven
Central) is read with it.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import crc32c
import numpy as np

_TABLE_MAGIC = 0xDB4775248B80FB57
_DTYPES = {1: np.float32, 2: np.float64, 3: np.int32, 9: np.int64, 10: np.bool_}


class CheckpointError(ValueError):
    """The files are not a TensorFlow checkpoint this reader understands, or are damaged."""


def _varint(data: bytes, position: int) -> tuple[int, int]:
    value, shift = 0, 0
    while True:
        byte = data[position]
        position += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return value, position


def _block(data: bytes, offset: int, size: int) -> Iterator[tuple[bytes, bytes]]:
    """The (key, value) entries of one uncompressed table block (keys share prefixes)."""
    if data[offset + size] != 0:
        raise CheckpointError("compressed checkpoint index blocks are not supported")
    block = data[offset : offset + size]
    (restarts,) = struct.unpack_from("<I", block, len(block) - 4)
    end = len(block) - 4 - 4 * restarts
    position, key = 0, b""
    while position < end:
        shared, position = _varint(block, position)
        unshared, position = _varint(block, position)
        length, position = _varint(block, position)
        key = key[:shared] + block[position : position + unshared]
        position += unshared
        yield key, block[position : position + length]
        position += length


def _fields(message: bytes) -> Iterator[tuple[int, int | bytes]]:
    """(field number, value) of a protobuf message: varints, fixed32 and length-delimited."""
    position = 0
    while position < len(message):
        tag, position = _varint(message, position)
        number, wire = tag >> 3, tag & 7
        if wire == 0:
            value, position = _varint(message, position)
        elif wire == 2:
            length, position = _varint(message, position)
            value = message[position : position + length]
            position += length
        elif wire == 5:
            (value,) = struct.unpack_from("<I", message, position)
            position += 4
        elif wire == 1:
            (value,) = struct.unpack_from("<Q", message, position)
            position += 8
        else:
            raise CheckpointError(f"unexpected protobuf wire type {wire}")
        yield number, value


@dataclass(frozen=True)
class _Entry:
    dtype: int
    shape: tuple[int, ...]
    shard: int
    offset: int
    size: int
    crc: int


def _entry(value: bytes) -> _Entry:
    dtype, shape, shard, offset, size, crc = 0, [], 0, 0, 0, 0
    for number, field in _fields(value):
        if number == 1:
            dtype = field
        elif number == 2:
            for dim_number, dim in _fields(field):
                if dim_number == 2:
                    shape.append(next(v for n, v in _fields(dim) if n == 1) if dim else 0)
        elif number == 3:
            shard = field
        elif number == 4:
            offset = field
        elif number == 5:
            size = field
        elif number == 6:
            crc = field
        elif number == 7:
            raise CheckpointError("sliced (partitioned) tensors are not supported")
    return _Entry(dtype, tuple(shape), shard, offset, size, crc)


def _unmask(masked: int) -> int:
    """LevelDB stores CRC32C values masked, so that a CRC of data holding CRCs looks random."""
    rotated = (masked - 0xA282EAD8) & 0xFFFFFFFF
    return ((rotated >> 17) | (rotated << 15)) & 0xFFFFFFFF


def read_checkpoint(prefix: Path) -> dict[str, np.ndarray]:
    """Every tensor of the checkpoint `prefix` (e.g. `variables/variables`) by name."""
    index = Path(f"{prefix}.index").read_bytes()
    if len(index) < 48 or struct.unpack_from("<Q", index, len(index) - 8)[0] != _TABLE_MAGIC:
        raise CheckpointError(f"{prefix}.index is not a checkpoint index")
    footer = index[-48:]
    _, position = _varint(footer, 0)
    _, position = _varint(footer, position)
    index_offset, position = _varint(footer, position)
    index_size, _ = _varint(footer, position)
    entries: dict[str, _Entry] = {}
    for _, handle in _block(index, index_offset, index_size):
        offset, position = _varint(handle, 0)
        size, _ = _varint(handle, position)
        for key, value in _block(index, offset, size):
            if key:  # the empty key holds the bundle's header
                entries[key.decode()] = _entry(value)
    shards = 1 + max((entry.shard for entry in entries.values()), default=0)
    tensors: dict[str, np.ndarray] = {}
    for shard in range(shards):
        path = Path(f"{prefix}.data-{shard:05d}-of-{shards:05d}")
        with path.open("rb") as data:
            for name, entry in entries.items():
                if entry.shard != shard:
                    continue
                if entry.dtype not in _DTYPES:
                    continue  # strings and other bookkeeping, not weights
                data.seek(entry.offset)
                raw = data.read(entry.size)
                if crc32c.crc32c(raw) != _unmask(entry.crc):
                    raise CheckpointError(f"{path}: tensor {name} fails its CRC32C check")
                tensors[name] = np.frombuffer(raw, dtype=_DTYPES[entry.dtype]).reshape(entry.shape)
    return tensors
