"""LRU cache of completions plus type-ahead reuse.

`get(prefix, suffix)` answers from an exact hit, or - when the user has typed the first
characters of a suggestion shown for a shorter prefix - with the rest of that suggestion
(the "forwarding" cache of Tabby / "hot streak" of Cody), without running the model.
"""
from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict

_TAIL = 2000  # characters of prefix/suffix that identify a request


def _key(prefix: str, suffix: str, multiline: bool) -> str:
    h = hashlib.sha1()
    for part in (prefix[-_TAIL:], "\x00", suffix[:_TAIL], "\x00", str(multiline)):
        h.update(part.encode("utf-8", "surrogatepass"))
    return h.hexdigest()


class CompletionCache:
    """Thread-safe; `capacity` entries, least recently used evicted first."""

    def __init__(self, capacity: int = 128, typeahead_window: int = 16) -> None:
        self.capacity = capacity
        self.typeahead_window = typeahead_window
        self._exact: OrderedDict[str, str | None] = OrderedDict()
        self._recent: list[tuple[str, str, bool, str]] = []  # (prefix, suffix, multiline, text)
        self._lock = threading.Lock()
        self.hits = 0
        self.typeahead_hits = 0

    def put(self, prefix: str, suffix: str, multiline: bool, text: str | None) -> None:
        with self._lock:
            key = _key(prefix, suffix, multiline)
            self._exact[key] = text
            self._exact.move_to_end(key)
            while len(self._exact) > self.capacity:
                self._exact.popitem(last=False)
            if text:
                self._recent.append((prefix[-_TAIL:], suffix[:_TAIL], multiline, text))
                del self._recent[: -self.typeahead_window]

    def get(self, prefix: str, suffix: str, multiline: bool) -> tuple[bool, str | None]:
        """(found, text); text None means "known to have no completion"."""
        with self._lock:
            key = _key(prefix, suffix, multiline)
            if key in self._exact:
                self._exact.move_to_end(key)
                self.hits += 1
                return True, self._exact[key]
            tail, head = prefix[-_TAIL:], suffix[:_TAIL]
            for old_prefix, old_suffix, old_multiline, text in reversed(self._recent):
                if old_multiline != multiline or old_suffix.strip() != head.strip():
                    continue
                typed = _typed_into(old_prefix, tail, text)
                if typed:
                    self.typeahead_hits += 1
                    return True, text[typed:]
            return False, None


def _typed_into(old_prefix: str, new_prefix: str, text: str) -> int:
    """How many leading characters of `text` were typed to go from `old_prefix` to `new_prefix`
    (0 when the new prefix is not the old one plus a strict beginning of `text`)."""
    anchor = old_prefix[-200:]
    for k in range(min(len(text) - 1, 512), 0, -1):
        if new_prefix.endswith(text[:k]) and new_prefix[:-k].endswith(anchor):
            return k
    return 0
