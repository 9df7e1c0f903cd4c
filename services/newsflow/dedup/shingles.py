"""Word shingles and their MinHash band keys: the near-duplicate index finds candidates by a
shared band, then verifies each on the shingle sets themselves (containment), so the
MinHash estimate decides only which articles are compared, never the verdict.
"""

from __future__ import annotations

import base64
import zlib

import numpy as np
from datasketch import MinHash

from .memo import WordMemo

# datasketch 2.0's default scheme, named explicitly: stored band keys must not change when a
# later release changes its default (recomputed keys must match the ones in the index).
MINHASH_SCHEME = "affine32"
_HASH_DTYPE = np.dtype("<u4")  # little-endian on every machine, so stored values travel
_LOW_32_BITS = np.uint64(0xFFFFFFFF)
# Fixed odd 32-bit multipliers, one per word position in a shingle (up to 16 words).
# fmt: off
_MULTIPLIERS = tuple(np.uint64(value) for value in (
    0x9E3779B1, 0x85EBCA77, 0xC2B2AE3D, 0x27D4EB2F, 0x165667B1, 0xD3A2646D, 0xFD7046C5,
    0xB55A4F09, 0x7FEB352D, 0x846CA68B, 0x2C1B3C6D, 0x297A2D39, 0x68E31DA5, 0x1B873593,
    0xCC9E2D51, 0xE6546B65,
))
# fmt: on
MAX_SHINGLE_WORDS = len(_MULTIPLIERS)


def shingle_hashes(words: list[str], size: int) -> np.ndarray:
    """Sorted unique 32-bit hashes of the `size`-word shingles of `words`.

    Each word is hashed once (CRC-32: deterministic across processes, unlike `hash`), and a
    shingle's hash combines its words' hashes with a different odd multiplier per position,
    so word order counts. A text shorter than one shingle is one shingle of all its words,
    so short notes still compare.
    """
    if not words:
        return np.empty(0, dtype=_HASH_DTYPE)
    word_hashes = np.fromiter(
        map(_WORD_HASHES.__getitem__, words), dtype=np.uint64, count=len(words)
    )
    size = min(size, len(words))
    count = len(words) - size + 1
    combined = np.zeros(count, dtype=np.uint64)
    for position in range(size):
        combined = (
            combined + word_hashes[position : position + count] * _MULTIPLIERS[position]
        ) & _LOW_32_BITS
    return np.unique(combined.astype(_HASH_DTYPE))


# News reuses its vocabulary: a memo hit is cheaper than encoding and hashing the word.
_WORD_HASHES = WordMemo(lambda word: zlib.crc32(word.encode("utf-8")))


def pack_hashes(hashes: np.ndarray) -> str:
    """Shingle hashes as text for a JSON table value (base64 of little-endian uint32)."""
    return pack(hashes.astype(_HASH_DTYPE).tobytes())


def pack(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def unpack(text: str) -> bytes:
    return base64.b64decode(text)


def unpack_hashes(packed: str) -> np.ndarray:
    return np.frombuffer(unpack(packed), dtype=_HASH_DTYPE)


def containment(first: np.ndarray, second: np.ndarray) -> float:
    """Shared shingles over the smaller set's: 1 when one text is inside the other, as a
    truncated copy is in its original."""
    if not len(first) or not len(second):
        return 0.0
    shared = len(np.intersect1d(first, second, assume_unique=True))
    return shared / min(len(first), len(second))


class BandKeys:
    """Locality-sensitive band keys of a shingle set: `bands` keys of `rows` MinHash values.

    Two sets with Jaccard similarity J share at least one key with probability
    1 - (1 - J**rows) ** bands. Holds only the hash permutations (derived from the settings,
    the same in every process), never state.
    """

    def __init__(self, bands: int, rows: int, seed: int) -> None:
        self.bands = bands
        self.rows = rows
        self.seed = seed
        template = MinHash(
            num_perm=bands * rows, seed=seed, scheme=MINHASH_SCHEME, hashfunc=_already_hashed
        )
        self._permutations = template.permutations

    def signature(self, hashes: np.ndarray) -> bytes:
        """The MinHash of a shingle set (big-endian uint32 values); empty for an empty set.

        Stored with the article, so its band keys can be removed from the index when it
        expires without hashing it again."""
        if not len(hashes):
            return b""
        minhash = MinHash(
            num_perm=self.bands * self.rows,
            seed=self.seed,
            scheme=MINHASH_SCHEME,
            hashfunc=_already_hashed,
            permutations=self._permutations,
        )
        minhash.update_batch(hashes.tolist())
        return minhash.hashvalues.astype(">u4").tobytes()

    def keys(self, signature: bytes) -> list[str]:
        """One key per band: the band number and its values, e.g. "07" + 16 hex digits (the
        values themselves: nothing to hash, and equal keys mean equal values)."""
        if not signature:
            return []
        packed = signature.hex()
        width = 8 * self.rows
        return [
            f"{band:02x}{packed[band * width : (band + 1) * width]}" for band in range(self.bands)
        ]


def _already_hashed(value: int) -> int:
    return value
