"""Logging setup: stderr or a file, never stdout (stdout carries JSON-RPC in the server)."""
from __future__ import annotations

import logging
import sys
from pathlib import Path

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
_file_handlers: dict[str, logging.Handler] = {}


def setup_logging(level: str = "info", file: str | None = None) -> None:
    """Root logger at WARNING to stderr (or `file`); this package at `level`."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    handler: logging.Handler
    if file:
        Path(file).expanduser().parent.mkdir(parents=True, exist_ok=True)
        handler = logging.FileHandler(Path(file).expanduser(), encoding="utf-8")
    else:
        handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(FORMAT))
    root.addHandler(handler)
    root.setLevel(logging.WARNING)
    logging.getLogger("lsp_server").setLevel(level.upper())
    logging.getLogger("model").setLevel(level.upper())


def add_file_handler(file: str) -> None:
    """Also log to `file` (the `log.file` option), once per path."""
    if file in _file_handlers:
        return
    path = Path(file).expanduser()
    path.parent.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter(FORMAT))
    logging.getLogger().addHandler(handler)
    _file_handlers[file] = handler
