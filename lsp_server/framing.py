"""Bounded reads of the client's stdin for pygls's message loop.

pygls reads a body with `stdin.read(Content-Length)`. A lying length (say 10**12) made that one
read allocate the whole size up front: `MemoryError`, and the server exited. `BoundedStdin`
refuses a body over `MAX_MESSAGE_BYTES`: it logs the length, hands pygls a `null` body (which
the protocol ignores) and leaves the bytes in the stream, where pygls skips junk up to the next
`Content-Length` header. Junk glued in front of a header line (the rest of a body whose
length lied) is dropped with a warning, so the next message is read, not lost. Header lines
are read in bounded pieces.
"""
from __future__ import annotations

import logging
import re
from typing import BinaryIO

log = logging.getLogger(__name__)

MAX_MESSAGE_BYTES = 128 * 1024 * 1024  # a didOpen of a 100 MB file still fits
MAX_HEADER_LINE = 64 * 1024
_HEADER_TAIL = re.compile(rb"Content-Length: \d+\r\n$")


class BoundedStdin:
    """The `readline`/`read` pair pygls's `StdinAsyncReader` uses, with limits."""

    def __init__(self, raw: BinaryIO, max_message: int = MAX_MESSAGE_BYTES) -> None:
        self.raw = raw
        self.max_message = max_message

    def readline(self) -> bytes:
        line = self.raw.readline(MAX_HEADER_LINE)
        found = _HEADER_TAIL.search(line)
        if found is not None and found.start() > 0:
            log.warning("skipped %d bytes of junk before a Content-Length header", found.start())
            return line[found.start():]
        return line

    def read(self, n: int) -> bytes:
        if n > self.max_message:
            log.error("message skipped: Content-Length %d is over the %d-byte limit", n, self.max_message)
            return b"null"
        return self.raw.read(n)
