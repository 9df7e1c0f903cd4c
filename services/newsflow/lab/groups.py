"""Connected groups of linked items (union-find), for the evaluation and split code that
groups copies and stories."""

from __future__ import annotations

from collections.abc import Hashable, Iterator
from typing import Generic, TypeVar

Item = TypeVar("Item", bound=Hashable)


class Groups(Generic[Item]):
    """Items joined by links into connected groups; each group named by one of its items."""

    def __init__(self) -> None:
        self._parent: dict[Item, Item] = {}

    def find(self, item: Item) -> Item:
        """The item naming `item`'s group (an unseen item becomes a group of its own)."""
        parent = self._parent
        parent.setdefault(item, item)
        while parent[item] != item:
            parent[item] = parent[parent[item]]  # path halving keeps the trees shallow
            item = parent[item]
        return item

    def join(self, item: Item, other: Item) -> None:
        """One group of the two; it is named as `other`'s was."""
        parent, named = self.find(item), self.find(other)
        if parent != named:
            self._parent[parent] = named

    def __iter__(self) -> Iterator[Item]:
        """Every item seen, in the order first seen."""
        return iter(self._parent)
