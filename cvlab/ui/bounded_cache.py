"""A cache for the pages' datasets bounded in bytes, not in entries, shared by every session of the server.

``st.cache_resource(max_entries=8)`` counts entries: eight datasets of up to 2 GiB each
is 16 GiB of one process's memory. Here every entry is weighed (its tensors' and
arrays' bytes), the total stays under ``Settings.page_cache_bytes`` by dropping the
least recently used, and a result heavier than the whole budget is handed back
without being kept. Sessions are threads: two asking for the same key at once wait
for one build instead of holding two copies.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import fields, is_dataclass
from typing import Any, Callable, Hashable


def weigh(value: Any, _seen: set[int] | None = None) -> int:
    """Bytes of the arrays, tensors and byte strings in ``value`` (dataclasses, tuples, lists, dicts); shared once."""
    seen = set() if _seen is None else _seen
    if id(value) in seen:
        return 0
    seen.add(id(value))
    if hasattr(value, "untyped_storage"):  # a torch tensor: its storage, which views share
        storage = value.untyped_storage()
        key = ("storage", storage.data_ptr())
        if key in seen:
            return 0
        seen.add(key)
        return int(storage.nbytes())
    if hasattr(value, "nbytes") and hasattr(value, "dtype"):  # a numpy array
        return int(value.nbytes)
    if isinstance(value, (bytes, bytearray)):  # an encoded image
        return len(value)
    if is_dataclass(value) and not isinstance(value, type):
        return sum(weigh(getattr(value, f.name), seen) for f in fields(value))
    if isinstance(value, (tuple, list)):
        return sum(weigh(item, seen) for item in value)
    if isinstance(value, dict):
        return sum(weigh(item, seen) for item in value.values())
    return 0


class BytesBoundedCache:
    """Least recently used out, within ``budget()`` bytes (read at every insertion, so settings apply at once)."""

    def __init__(self, budget: Callable[[], int], size_of: Callable[[Any], int] = weigh):
        self.budget, self.size_of = budget, size_of
        self._items: OrderedDict[Hashable, tuple[Any, int]] = OrderedDict()
        self._lock = threading.Lock()
        self._building: dict[Hashable, threading.Lock] = {}

    @property
    def total(self) -> int:
        with self._lock:
            return sum(size for _, size in self._items.values())

    def __contains__(self, key: Hashable) -> bool:
        with self._lock:
            return key in self._items

    def get_or_make(self, key: Hashable, make: Callable[[], Any]) -> Any:
        """The cached value for ``key``, or ``make()`` (an exception is raised, never kept)."""
        found = self._get(key)
        if found is not None:
            return found[0]
        with self._lock:
            building = self._building.setdefault(key, threading.Lock())
        with building:
            found = self._get(key)  # built by the session we waited for
            if found is not None:
                return found[0]
            try:
                value = make()
            finally:
                with self._lock:
                    self._building.pop(key, None)
            self._put(key, value)
            return value

    def clear(self) -> None:
        with self._lock:
            self._items.clear()

    def _get(self, key: Hashable) -> tuple[Any] | None:
        with self._lock:
            if key not in self._items:
                return None
            self._items.move_to_end(key)
            return (self._items[key][0],)

    def _put(self, key: Hashable, value: Any) -> None:
        size, budget = self.size_of(value), self.budget()
        with self._lock:
            if size > budget:
                return  # heavier than everything allowed: used by this rerun, then left to the garbage collector
            self._items[key] = (value, size)
            while sum(s for _, s in self._items.values()) > budget:
                self._items.popitem(last=False)
