"""A bounded memo of a pure function over words, read at C speed (`map(memo.__getitem__, …)`):
dedup looks up the same few thousand words for every article."""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar

Value = TypeVar("Value")


class WordMemo(dict[str, Value], Generic[Value]):
    """`memo[word]` is `function(word)`, computed once. Only a cache: results never depend on
    what it holds, and it starts over when full, so memory stays bounded."""

    def __init__(self, function: Callable[[str], Value], max_size: int = 1 << 17) -> None:
        super().__init__()
        self.function = function
        self.max_size = max_size

    def __missing__(self, word: str) -> Value:
        if len(self) >= self.max_size:
            self.clear()
        value = self[word] = self.function(word)
        return value
