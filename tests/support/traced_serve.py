"""Test-only launcher: `python -m tests.support.traced_serve serve ...` runs `codet5p-lsp` with
a `sys.addaudithook` tracer when `$CODET5P_TRACE` names a file.

The hook records, one JSON line each, the events a security check needs: files opened
(`open`, with the mode), directories listed (`os.scandir`, `os.listdir`), sockets created,
bound or connected, modules imported from a file, code compiled from a file, pickles loaded
(`pickle.find_class`, plus wrappers around `pickle.load(s)`), processes started, and SQLite
databases opened. Lines are written with `os.write` to an fd opened before the hook, so they
survive a `kill -9`. `tests/support/trace_check.py` reads them.

`python -m tests.support.traced_serve selftest ...` does forbidden things on purpose (used by the
tests to prove the tracer sees them).
"""
from __future__ import annotations

import json
import os
import sys
import threading

TRACE_ENV = "CODET5P_TRACE"
_busy = threading.local()
_FD = -1

_EVENTS = {"open", "os.scandir", "os.listdir", "socket.__new__", "socket.bind", "socket.connect",
           "socket.getaddrinfo", "socket.sendto", "import", "compile", "exec", "pickle.find_class",
           "subprocess.Popen", "os.system", "os.exec", "os.posix_spawn", "os.fork",
           "sqlite3.connect", "marshal.loads"}


def _text(value: object) -> object:
    if isinstance(value, bytes):
        return value.decode("utf-8", "surrogateescape")
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if isinstance(value, (str, int, float, type(None))):
        return value
    if isinstance(value, (tuple, list)):
        return [_text(v) for v in value]
    return repr(value)[:200]


def _record(event: str, args: tuple) -> None:
    line = json.dumps({"event": event, "args": _text(args)}, ensure_ascii=True) + "\n"
    os.write(_FD, line.encode())


def _hook(event: str, args: tuple) -> None:
    if event not in _EVENTS or getattr(_busy, "on", False):
        return
    _busy.on = True
    try:
        if event == "open" and not isinstance(args[0], (str, bytes, os.PathLike)):
            return  # an fd being wrapped: already opened
        if event == "import":
            args = (args[0], args[1])  # module name, file (None for built-ins)
        elif event == "compile":
            args = (args[1],)  # the filename; the source can be huge
        elif event == "exec":
            code = args[0]
            args = (getattr(code, "co_filename", None),)
        elif event == "marshal.loads":
            return
        _record(event, args)
    except Exception:  # the tracer must never break the server
        pass
    finally:
        _busy.on = False


def _wrap_pickle() -> None:
    import pickle

    def wrapped(fn):
        def call(*args, **kwargs):
            _record("pickle.load", (fn.__name__,))
            return fn(*args, **kwargs)
        return call

    pickle.load, pickle.loads = wrapped(pickle.load), wrapped(pickle.loads)


def install(path: str) -> None:
    """Start recording into `path` (appended)."""
    global _FD
    _FD = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    _wrap_pickle()
    sys.addaudithook(_hook)


def _selftest(outside: str) -> int:
    """Open a file, list a directory, create an inet socket, unpickle, import from `outside`."""
    import pickle
    import socket
    with open(os.path.join(outside, "secret.txt"), "w") as fh:
        fh.write("x")
    os.listdir(outside)
    socket.socket(socket.AF_INET, socket.SOCK_STREAM).close()
    pickle.loads(pickle.dumps({"a": [1]}))
    pickle.loads(pickle.dumps(threading.Event))  # find_class
    sys.path.insert(0, outside)
    with open(os.path.join(outside, "planted_mod.py"), "w") as fh:
        fh.write("X = 1\n")
    __import__("planted_mod")
    return 0


def main() -> int:
    if os.environ.get(TRACE_ENV):
        install(os.environ[TRACE_ENV])
    if sys.argv[1:2] == ["selftest"]:
        return _selftest(sys.argv[2])
    from lsp_server.cli import main as cli_main
    return cli_main(sys.argv[1:])


if __name__ == "__main__":
    raise SystemExit(main())
