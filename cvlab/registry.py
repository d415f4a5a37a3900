"""One generic name -> entry registry used by every catalogue in cvlab."""

from __future__ import annotations

import difflib
from typing import Callable, Generic, Iterator, TypeVar, overload

from cvlab.errors import UnknownName

T = TypeVar("T")


class Registry(Generic[T]):
    """An ordered mapping from names to entries that refuses surprises.

    Registering a name twice raises ValueError (two modules fighting over one
    name is a bug, not an override); looking up an unknown name raises
    UnknownName with every valid choice, and the closest ones first.
    """

    def __init__(self, kind: str) -> None:
        self.kind = kind  # what the entries are, for messages: "activation"
        self._entries: dict[str, T] = {}

    @overload
    def register(self, name: str) -> Callable[[T], T]: ...
    @overload
    def register(self, name: str, entry: T) -> T: ...

    def register(self, name, entry=None):
        """Add ``entry`` under ``name``; without ``entry``, work as a decorator."""
        if entry is None:
            return lambda item: self.register(name, item)
        if not name or not isinstance(name, str):
            raise ValueError(f"A {self.kind} name must be a non-empty string, got {name!r}")
        if name in self._entries:
            raise ValueError(f"{self.kind} {name!r} is already registered")
        self._entries[name] = entry
        return entry

    def get(self, name: str) -> T:
        try:
            return self._entries[name]
        except KeyError:
            raise UnknownName(self._unknown_message(name)) from None

    def _unknown_message(self, name: str) -> str:
        choices = list(self._entries)
        close = difflib.get_close_matches(str(name), choices, n=3, cutoff=0.6)
        hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        return (
            f"Unknown {self.kind} {name!r}.{hint} "
            f"Choose one of: {', '.join(choices) or '(none registered)'}."
        )

    def names(self) -> list[str]:
        return list(self._entries)

    def items(self) -> list[tuple[str, T]]:
        return list(self._entries.items())

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}, {len(self)} entries)"
