"""Grammar-based protocol fuzzing (hypothesis) of a running server through `RawClient`.

A batch is a list of messages drawn from a grammar of LSP traffic gone wrong: malformed JSON,
wrong types and missing fields, huge/negative/string/float ids, unknown methods, out-of-range
and negative positions, UTF-16 surrogate edges (astral characters, lone surrogates), requests
for unopened, deleted or outside documents, notifications sent as requests and the reverse, a
second `initialize`, `$/cancelRequest` storms, and a `Content-Length` that lies (followed by
the bytes that put the stream back in frame, as a confused client would). `shutdown`/`exit`
are left out: they end the session by design.

Every message that is a well-framed JSON object with an `id` and a `method` must be answered
(result or JSON-RPC error). After each batch a probe request checks the server is alive.
`run_fuzz` returns the figures; a failed check raises AssertionError.
"""
from __future__ import annotations

import itertools
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, Phase, given, seed as hyp_seed, settings, strategies as st

from tests.support.raw_client import RawClient, frame, id_key

INTERNAL_ERROR = -32603


@dataclass
class FuzzTargets:
    """URIs the grammar points at."""

    open_uri: str  # a document the fuzzer opened (it keeps changing)
    file_uris: list[str]  # workspace files on disk, not opened
    deleted_uri: str
    outside_uri: str  # a real file outside the workspace: must never be read


@dataclass
class FuzzReport:
    messages: int = 0
    requests: int = 0
    answered: int = 0
    unanswered: int = 0
    batches: int = 0
    alive_after_every_batch: bool = True
    internal_errors: list[str] = field(default_factory=list)
    error_codes: dict[str, int] = field(default_factory=dict)
    kinds: dict[str, int] = field(default_factory=dict)
    stray_stdout_bytes: int = 0
    seconds: float = 0.0


_ids = itertools.count(1)

TEXTS = st.one_of(
    st.text(max_size=40),
    st.sampled_from(["", "def f(x):\n    return x\n", "\ud800", "\udfff x", "a\U0001F600b", "\U0001F600" * 5,
                     "\r\n\r\n", "\x00\x01", "class A:\n  def m(self):\n    pa", "é" * 30, "\u2028\u2029"]),
)
INTS = st.one_of(st.integers(0, 40), st.sampled_from([-1, -2 ** 31, 2 ** 31 - 1, 2 ** 31, 2 ** 32, 2 ** 53, 10 ** 30]))
WRONG = st.one_of(st.none(), st.booleans(), st.floats(allow_nan=False), st.text(max_size=5),
                  st.lists(st.integers(), max_size=2), st.dictionaries(st.text(max_size=3), st.integers(), max_size=2))


def _new_id(kind: str) -> Any:
    n = next(_ids)
    return {"int": n, "neg": -n, "huge": 2 ** 100 + n, "big64": 2 ** 63 + n, "str": f"req-{n}",
            "unicode": f"\U0001F600-{n}-\u00e9", "float": n + 0.5, "empty": "" if n < 0 else f" {n}"}[kind]


def _position():
    return st.one_of(st.fixed_dictionaries({"line": INTS, "character": INTS}),
                     st.fixed_dictionaries({"line": WRONG, "character": INTS}), WRONG)


def _uri(t: FuzzTargets):
    return st.one_of(st.just(t.open_uri), st.sampled_from(t.file_uris), st.just(t.deleted_uri),
                     st.just(t.outside_uri),
                     st.sampled_from(["untitled:Untitled-1", "file:///", "file://%zz/%ff.py", "", "file:",
                                      "http://example.invalid/x.py", "file:///proc/self/environ",
                                      t.open_uri + "%00", t.open_uri.replace("file://", "file:///../..")]),
                     WRONG)


def _mutate(draw, params: dict) -> Any:
    """Usually valid; sometimes a key dropped, a value of the wrong type, or no params at all."""
    choice = draw(st.integers(0, 9))
    if not isinstance(params, dict):
        return params
    if choice == 0 and params:
        params = dict(params)
        params.pop(draw(st.sampled_from(sorted(params))))
    elif choice == 1 and params:
        params = {**params, draw(st.sampled_from(sorted(params))): draw(WRONG)}
    elif choice == 2:
        return draw(WRONG)
    return params


@st.composite
def _request_body(draw, t: FuzzTargets) -> tuple[str, Any]:
    doc = {"uri": draw(_uri(t))}
    pos = draw(_position())
    method = draw(st.sampled_from([
        "textDocument/hover", "textDocument/inlineCompletion", "textDocument/completion",
        "textDocument/codeAction", "codeAction/resolve", "workspace/symbol", "codet5p/getStatus",
        "textDocument/definition", "foo/bar", "$/unknown", "initialize", "textDocument/didOpen",
        "textDocument/didClose", "workspace/executeCommand"]))
    if method == "textDocument/inlineCompletion":
        params = {"textDocument": doc, "position": pos,
                  "context": {"triggerKind": draw(st.sampled_from([1, 2, 0, 7, "x"]))}}
    elif method == "textDocument/codeAction":
        params = {"textDocument": doc, "range": {"start": pos, "end": draw(_position())},
                  "context": {"diagnostics": []}}
    elif method == "codeAction/resolve":
        params = {"title": "Generate docstring", "data": draw(st.one_of(WRONG, st.fixed_dictionaries(
            {"uri": _uri(t), "line": INTS | WRONG, "character": INTS | WRONG})))}
    elif method == "workspace/symbol":
        params = {"query": draw(st.one_of(TEXTS, WRONG, st.just("x" * 10000), st.just("read the config file")))}
    elif method == "initialize":
        params = {"processId": None, "rootUri": draw(_uri(t)), "capabilities": {}}
    elif method == "textDocument/didOpen":
        params = {"textDocument": {**doc, "languageId": "python", "version": 1, "text": draw(TEXTS)}}
    else:
        params = {"textDocument": doc, "position": pos}
    return method, _mutate(draw, params)


@st.composite
def _notification_body(draw, t: FuzzTargets) -> tuple[str, Any]:
    method = draw(st.sampled_from([
        "textDocument/didChange", "textDocument/didChange", "textDocument/didOpen", "textDocument/didClose",
        "textDocument/didSave", "$/cancelRequest", "$/setTrace", "workspace/didChangeWatchedFiles",
        "workspace/didChangeConfiguration", "unknown/notification", "textDocument/hover",
        "window/workDoneProgress/cancel"]))
    if method == "textDocument/didChange":
        if draw(st.booleans()):
            change: Any = {"text": draw(TEXTS)}
        else:
            change = {"range": {"start": draw(_position()), "end": draw(_position())}, "text": draw(TEXTS)}
        params: Any = {"textDocument": {"uri": draw(st.one_of(st.just(t.open_uri), _uri(t))),
                                        "version": draw(INTS)}, "contentChanges": [change]}
    elif method == "textDocument/didOpen":
        params = {"textDocument": {"uri": draw(_uri(t)), "languageId": draw(st.sampled_from(
            ["python", "rust", "cobol", ""])), "version": draw(INTS), "text": draw(TEXTS)}}
    elif method in ("textDocument/didClose", "textDocument/didSave"):
        params = {"textDocument": {"uri": draw(_uri(t))}}
        if method == "textDocument/didClose" and params["textDocument"]["uri"] == t.open_uri:
            params["textDocument"]["uri"] = t.deleted_uri  # keep the fuzzed document open
    elif method == "$/cancelRequest":
        params = {"id": draw(st.one_of(st.integers(0, 20_000), st.text(max_size=4), WRONG))}
    elif method == "$/setTrace":
        params = {"value": draw(st.sampled_from(["off", "messages", "verbose", "loud", 3]))}
    elif method == "workspace/didChangeWatchedFiles":
        params = {"changes": [{"uri": draw(_uri(t)), "type": draw(st.sampled_from([1, 2, 3, 0, 9]))}]}
    elif method == "workspace/didChangeConfiguration":
        params = {"settings": draw(st.one_of(WRONG, st.fixed_dictionaries({"codet5p": st.fixed_dictionaries({
            "completion": st.fixed_dictionaries({"deadlineMs": st.one_of(INTS, WRONG),
                                                 "maxNewTokens": st.one_of(st.integers(1, 8), WRONG)}),
            "search": st.fixed_dictionaries({"limit": st.one_of(INTS, WRONG)})})})))}
    elif method == "textDocument/hover":  # a request sent as a notification
        params = {"textDocument": {"uri": t.open_uri}, "position": draw(_position())}
    else:
        params = draw(WRONG)
    return method, _mutate(draw, params) if method != "textDocument/didChange" else params


@st.composite
def message(draw, t: FuzzTargets) -> tuple[str, bytes, str | None]:
    """(kind, bytes to write, id key that must be answered or None)."""
    kind = draw(st.sampled_from(["request"] * 6 + ["notification"] * 5 + [
        "bad_json", "not_object", "no_jsonrpc", "wrong_version", "method_type", "short_length",
        "long_length", "long_length_ws", "extra_headers", "no_length", "bad_length", "deep_json",
        "huge_length"]))
    if kind in ("request", "no_jsonrpc", "wrong_version", "method_type", "short_length",
                "long_length", "long_length_ws", "extra_headers", "no_length", "bad_length", "huge_length"):
        method, params = draw(_request_body(t))
        msg_id = _new_id(draw(st.sampled_from(["int", "int", "str", "neg", "huge", "big64", "unicode", "float"])))
        msg: dict[str, Any] = {"jsonrpc": "2.0", "id": msg_id, "method": method}
        if params is not None or draw(st.booleans()):
            msg["params"] = params
        if kind == "no_jsonrpc":
            del msg["jsonrpc"]
        elif kind == "wrong_version":
            msg["jsonrpc"] = draw(st.sampled_from(["1.0", "3", 2.0, None]))
        elif kind == "method_type":
            msg["method"] = draw(WRONG)
        body = json.dumps(msg).encode()
        key = id_key(msg_id)
        if kind == "short_length":  # the rest of the body becomes a junk line, then a clean frame
            cut = draw(st.integers(1, max(1, len(body) - 1)))
            return kind, frame(body, len(body) - cut) + b"\r\n", None
        if kind == "long_length":  # the server reads k more bytes than the body: junk
            k = draw(st.integers(1, 64))
            return kind, frame(body, len(body) + k) + b"x" * k, None
        if kind == "long_length_ws":  # ... that happen to be whitespace: valid JSON after all
            k = draw(st.integers(1, 64))
            return kind, frame(body, len(body) + k) + b" " * k, key
        if kind == "huge_length":  # over the server's limit: skipped, the stream re-synchronised
            return kind, frame(body, draw(st.sampled_from([10 ** 12, 2 ** 40, 2 ** 63, 200 * 2 ** 20]))), None
        if kind == "extra_headers":
            return kind, frame(body, headers=["Content-Type: application/vscode-jsonrpc; charset=utf-8"]), key
        if kind == "no_length":
            return kind, b"Content-Type: x\r\n\r\n" + body + b"\r\n", None
        if kind == "bad_length":
            return kind, f"Content-Length: {draw(st.sampled_from(['-5', 'abc', '', '1e3']))}\r\n\r\n".encode() \
                + body + b"\r\n", None
        return kind, frame(body), key
    if kind == "notification":
        method, params = draw(_notification_body(t))
        msg = {"jsonrpc": "2.0", "method": method}
        if params is not None:
            msg["params"] = params
        return kind, frame(json.dumps(msg).encode()), None
    if kind == "bad_json":
        body = draw(st.one_of(st.binary(min_size=1, max_size=60), st.sampled_from([
            b"{", b'{"jsonrpc": "2.0", "id": 1, "method": "textDocument/hover", "params": {',
            b"\xff\xfe{}", b'{"jsonrpc": "2.0", "id": 1e999999}', b"{'single': 'quotes'}", b"NaN",
            b'{"a": "\\ud800"', b'\xef\xbb\xbf{"jsonrpc": "2.0", "method": "x"}'])))
        return kind, frame(body), None
    if kind == "not_object":
        body = draw(st.sampled_from([b"[]", b"null", b"42", b'"str"', b"true",
                                     b'[{"jsonrpc": "2.0", "id": 5, "method": "codet5p/getStatus"}]']))
        return kind, frame(body), None
    depth = draw(st.integers(100, 50_000))  # deep_json: recursion limits
    return kind, frame(b"[" * depth + b"]" * depth), None


def run_fuzz(client: RawClient, targets: FuzzTargets, batches: int, batch_size: int = 25,
             seed: int = 0, batch_timeout: float = 60) -> FuzzReport:
    """Send `batches` hypothesis-drawn batches; after each, every request must be answered and a
    probe must succeed. Returns the figures (raises AssertionError on a failed check)."""
    report = FuzzReport()
    t0 = time.monotonic()

    @hyp_seed(seed)
    @settings(max_examples=batches, deadline=None, database=None, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck), derandomize=False)
    @given(st.lists(message(targets), min_size=batch_size // 2, max_size=batch_size))
    def one_batch(batch: list[tuple[str, bytes, str | None]]) -> None:
        keys = []
        for kind, data, key in batch:
            client.send(data)
            report.messages += 1
            report.kinds[kind] = report.kinds.get(kind, 0) + 1
            if key is not None:
                keys.append(key)
        probe = client.request("codet5p/getStatus", {}, timeout=batch_timeout)
        report.messages += 1
        report.batches += 1
        assert "result" in probe, f"probe failed: {probe}"
        try:
            answers = client.wait_for(keys, timeout=batch_timeout)
        except TimeoutError as exc:
            missing = [k for k in keys if k not in client.responses]
            report.unanswered += len(missing)
            sent = {key: data for _, data, key in batch if key is not None}
            raise AssertionError(f"unanswered after a batch: {exc}; e.g. "
                                 f"{[sent[k][:400] for k in missing[:3]]}") from exc
        report.requests += len(keys) + 1
        report.answered += len(answers) + 1
        for key, answer in answers.items():
            assert "result" in answer or "error" in answer, answer
            if "error" in answer:
                code = str(answer["error"].get("code"))
                report.error_codes[code] = report.error_codes.get(code, 0) + 1
                if answer["error"].get("code") == INTERNAL_ERROR:
                    report.internal_errors.append(f"{key}: {answer['error'].get('message', '')[:300]}")
        if not client.alive():
            report.alive_after_every_batch = False
            raise AssertionError(f"server died: {client.stderr_text()[-3000:]}")

    one_batch()
    report.stray_stdout_bytes = len(client.stray_stdout)
    report.seconds = round(time.monotonic() - t0, 1)
    return report


def fuzz_targets(root: Path, outside: Path) -> FuzzTargets:
    """Targets in a workspace: `fuzzed.py` (to be opened), the other files, a deleted one."""
    files = sorted(p for p in root.rglob("*.py") if p.name != "fuzzed.py")[:20]
    return FuzzTargets(open_uri=(root / "fuzzed.py").as_uri(), file_uris=[p.as_uri() for p in files],
                       deleted_uri=(root / "deleted_long_ago.py").as_uri(), outside_uri=outside.as_uri())
