"""A raw JSON-RPC client over the server's stdio: it writes bytes exactly as given (malformed
JSON, lying `Content-Length`, wrong types) and reads every framed message the server sends.

The typed pygls client refuses to send most of what protocol fuzzing needs, so this one frames
bytes itself. A reader thread parses `Content-Length` frames from stdout; whatever on stdout is
not a well-formed frame is kept in `stray_stdout` (a traceback printed there would show up).
stderr goes to a file so the server never blocks on a full pipe.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Sequence

REPO = Path(__file__).resolve().parents[2]


def frame(body: bytes, length: int | None = None, headers: Sequence[str] = ()) -> bytes:
    """`Content-Length` framing; `length` may lie."""
    n = len(body) if length is None else length
    head = "".join(f"{h}\r\n" for h in headers)
    return f"Content-Length: {n}\r\n{head}\r\n".encode() + body


def id_key(msg_id: Any) -> str:
    """A canonical key for a JSON-RPC id (ints and strings stay distinct)."""
    return json.dumps(msg_id, sort_keys=True)


class RawClient:
    """`python LAUNCHER serve` with pipes; `send` bytes, `wait_for` answers by id."""

    def __init__(self, stderr_path: Path, launcher: Sequence[str] = ("-m", "lsp_server"),
                 env_extra: dict[str, str] | None = None, cwd: Path = REPO,
                 prefix: Sequence[str] = (), preexec_fn=None) -> None:
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
               **(env_extra or {})}
        self.stderr_path = stderr_path
        self._stderr = open(stderr_path, "wb")
        self.proc = subprocess.Popen([*prefix, sys.executable, *launcher, "serve", "--log-level", "info"],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=self._stderr, cwd=str(cwd), env=env, preexec_fn=preexec_fn)
        self.responses: dict[str, dict] = {}
        self.received_at: dict[str, float] = {}  # id key -> time.monotonic() of the answer
        self.notifications: list[dict] = []
        self.server_requests: list[dict] = []
        self.stray_stdout = bytearray()
        self.bad_frames = 0
        self.received = 0
        self._cond = threading.Condition()
        self._next_id = 10 ** 6
        self._reader = threading.Thread(target=self._read, name="raw-client-reader", daemon=True)
        self._reader.start()

    # -- reading ----------------------------------------------------------------------------
    def _read(self) -> None:
        out = self.proc.stdout
        while True:
            line = out.readline()
            if not line:
                break
            if not line.startswith(b"Content-Length:"):
                self.stray_stdout += line
                continue
            try:
                length = int(line.split(b":", 1)[1].strip())
            except ValueError:
                self.stray_stdout += line
                continue
            while True:  # other headers up to the blank line
                header = out.readline()
                if not header or header in (b"\r\n", b"\n"):
                    break
            body = out.read(length)
            try:
                message = json.loads(body)
            except ValueError:
                self.bad_frames += 1
                self.stray_stdout += body
                continue
            self._dispatch(message)
        with self._cond:
            self._cond.notify_all()

    def _dispatch(self, message: Any) -> None:
        with self._cond:
            self.received += 1
            if isinstance(message, dict) and "method" in message and "id" in message:
                self.server_requests.append(message)
                self._answer_server_request(message)
            elif isinstance(message, dict) and "method" in message:
                self.notifications.append(message)
            elif isinstance(message, dict) and "id" in message:
                self.responses[id_key(message["id"])] = message
                self.received_at[id_key(message["id"])] = time.monotonic()
            else:
                self.bad_frames += 1
            self._cond.notify_all()

    def _answer_server_request(self, message: dict) -> None:
        """Accept what the server asks (progress tokens, watcher registration)."""
        body = json.dumps({"jsonrpc": "2.0", "id": message["id"], "result": None}).encode()
        try:
            self.send(frame(body))
        except OSError:
            pass

    # -- writing ----------------------------------------------------------------------------
    def send(self, data: bytes) -> None:
        self.proc.stdin.write(data)
        self.proc.stdin.flush()

    def send_json(self, message: dict) -> None:
        self.send(frame(json.dumps(message).encode()))

    def send_request(self, method: str, params: Any = None) -> str:
        """Send a well-formed request; returns its id key (answer in `responses`)."""
        self._next_id += 1
        msg_id = self._next_id
        message = {"jsonrpc": "2.0", "id": msg_id, "method": method}
        if params is not None:
            message["params"] = params
        self.send_json(message)
        return id_key(msg_id)

    def request(self, method: str, params: Any = None, timeout: float = 30) -> dict:
        """Send a well-formed request and wait for its answer."""
        key = self.send_request(method, params)
        return self.wait_for([key], timeout)[key]

    def notify(self, method: str, params: Any = None) -> None:
        message = {"jsonrpc": "2.0", "method": method}
        if params is not None:
            message["params"] = params
        self.send_json(message)

    def wait_for(self, keys: Sequence[str], timeout: float = 30) -> dict[str, dict]:
        """The responses for `keys` (from `id_key`); raises TimeoutError naming the missing."""
        end = time.monotonic() + timeout
        with self._cond:
            while True:
                missing = [k for k in keys if k not in self.responses]
                if not missing:
                    return {k: self.responses[k] for k in keys}
                left = end - time.monotonic()
                if left <= 0 or self.proc.poll() is not None:
                    raise TimeoutError(f"{len(missing)} requests unanswered (e.g. {missing[:5]}); "
                                       f"server exit code {self.proc.poll()}")
                self._cond.wait(min(left, 0.5))

    def initialize(self, root: Path, options: dict, timeout: float = 60) -> dict:
        uri = root.resolve().as_uri()
        caps = {"textDocument": {"hover": {"contentFormat": ["markdown"]}, "inlineCompletion": {},
                                 "synchronization": {"didSave": True}},
                "window": {"workDoneProgress": True},
                "workspace": {"workspaceFolders": True,
                              "didChangeWatchedFiles": {"dynamicRegistration": True}}}
        result = self.request("initialize", {"processId": os.getpid(), "rootUri": uri,
                                             "capabilities": caps, "initializationOptions": options,
                                             "workspaceFolders": [{"uri": uri, "name": root.name}]},
                              timeout)
        self.notify("initialized", {})
        return result

    def statuses(self) -> list[dict]:
        with self._cond:
            return [n["params"] for n in self.notifications if n.get("method") == "codet5p/status"]

    def wait_until(self, predicate, timeout: float = 60) -> None:
        """Wait until `predicate(self)` holds (checked whenever a message arrives)."""
        end = time.monotonic() + timeout
        with self._cond:
            while not predicate(self):
                left = end - time.monotonic()
                if left <= 0:
                    raise TimeoutError("condition not reached")
                if self.proc.poll() is not None:
                    raise RuntimeError(f"server exited with {self.proc.returncode}")
                self._cond.wait(min(left, 0.5))

    def indexed(self) -> bool:
        """A full indexing run has ended (an `indexing` status followed by `idle`)."""
        seen = False
        for status in self.statuses():
            if status["index"]["state"] == "indexing":
                seen = True
            elif seen and status["index"]["state"] == "idle":
                return True
        return False

    def indexing(self) -> bool:
        return any(s["index"]["state"] == "indexing" for s in self.statuses())

    def rss_kb(self) -> int:
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        return 0

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stderr_text(self) -> str:
        if not self._stderr.closed:
            self._stderr.flush()
        return self.stderr_path.read_text("utf-8", "replace")

    def close(self, timeout: float = 20) -> int | None:
        """shutdown + exit, then wait; kills the process if it does not stop."""
        if self.alive():
            try:
                self.request("shutdown", None, timeout)
                self.notify("exit")
                self.proc.stdin.close()
                self.proc.wait(timeout)
            except (OSError, TimeoutError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait(10)
        self._reader.join(5)
        self._stderr.close()
        return self.proc.returncode

    def kill(self) -> None:
        """SIGKILL, no goodbye."""
        self.proc.kill()
        self.proc.wait(10)
        self._reader.join(5)
        self._stderr.close()
