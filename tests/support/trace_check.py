"""Reading the audit trace written by `tests.support.traced_serve`: which files were opened,
which directories listed, which sockets made, what was imported, compiled or unpickled."""
from __future__ import annotations

import json
import os
import socket
from dataclasses import dataclass
from pathlib import Path


@dataclass
class Trace:
    events: list[tuple[str, list]]

    @classmethod
    def load(cls, path: Path) -> "Trace":
        events = []
        if path.exists():
            for line in path.read_text("utf-8", "surrogateescape").splitlines():
                try:
                    row = json.loads(line)
                except ValueError:
                    continue  # a line cut by kill -9
                events.append((row["event"], row["args"]))
        return cls(events)

    def of(self, *names: str) -> list[list]:
        return [args for event, args in self.events if event in names]

    def paths_touched(self) -> list[str]:
        """Absolute paths opened or listed (relative ones are resolved against nothing: kept)."""
        out = [a[0] for a in self.of("open", "os.scandir", "os.listdir") if isinstance(a[0], str)]
        return [os.path.abspath(p) for p in out]

    def touched_under(self, *dirs: Path) -> list[str]:
        """Paths touched inside any of `dirs` (compared resolved and as given)."""
        roots = [str(d) for d in dirs] + [str(Path(d).resolve()) for d in dirs]
        hits = []
        for p in self.paths_touched():
            candidates = {p, os.path.realpath(p)}
            if any(c == r or c.startswith(r.rstrip("/") + "/") for c in candidates for r in roots):
                hits.append(p)
        return hits

    def inet_sockets(self) -> list[list]:
        """Sockets of a network family (AF_INET/AF_INET6), and any connect/bind to an address
        that is not a Unix socket path."""
        families = {int(socket.AF_INET), int(socket.AF_INET6)}
        made = [a for a in self.of("socket.__new__") if len(a) > 1 and a[1] in families]
        addr = [a for a in self.of("socket.connect", "socket.bind", "socket.sendto", "socket.getaddrinfo")
                if not (len(a) > 1 and isinstance(a[1], str) and a[1].startswith("/"))]
        return made + addr

    def code_from(self, *dirs: Path) -> list[str]:
        """Files under `dirs` whose code was compiled or executed (an import of a source file
        compiles and execs it: importlib runs module code through `exec`)."""
        return sorted({a[0] for a in self.of("compile", "exec") if isinstance(a[0], str) and _under(a[0], dirs)})

    def pickles(self) -> list[list]:
        return self.of("pickle.find_class", "pickle.load")

    def processes(self) -> list[list]:
        return self.of("subprocess.Popen", "os.system", "os.exec", "os.posix_spawn", "os.fork")


def _under(path: str, dirs) -> bool:
    real = os.path.realpath(path)
    for d in dirs:
        for r in (str(d), str(Path(d).resolve())):
            if real == r or real.startswith(r.rstrip("/") + "/") or path.startswith(r.rstrip("/") + "/"):
                return True
    return False
