"""Load generators over `RawClient`: typing storms (didChange + completion + `$/cancelRequest`
on several documents at once) and interactive requests while a large tree is being indexed.
Both return plain dicts of figures (latencies in ms, unanswered counts, RSS)."""
from __future__ import annotations

import json
import time
from pathlib import Path

from tests.support.raw_client import RawClient

REQUEST_CANCELLED = -32800


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 1)


def _pos_end(text: str) -> dict:
    lines = text.split("\n")
    return {"line": len(lines) - 1, "character": len(lines[-1].encode("utf-16-le")) // 2}


def typing_storm(client: RawClient, root: Path, edits: int, documents: int = 3,
                 timeout: float = 120) -> dict:
    """`edits` didChange notifications spread over `documents` open files, each followed by an
    inline completion request; every older completion of that document is cancelled. Each
    document types `def storm_<d>_<k>():` lines, so the final texts can be checked by search."""
    docs = []
    for d in range(documents):
        path = root / f"storm_{d}.py"
        text = f"import os\n\n\ndef helper_{d}(value):\n    return value\n\n"
        path.write_text(text)
        uri = path.as_uri()
        client.notify("textDocument/didOpen", {"textDocument": {"uri": uri, "languageId": "python",
                                                                "version": 1, "text": text}})
        docs.append({"uri": uri, "text": text, "version": 1, "pending": [], "typed": 0})
    script = ["".join(f"def storm_{d}_{k}(x):\n    return x\n\n" for k in range(1000)) for d in range(documents)]
    rss0 = client.rss_kb()
    sent: dict[str, float] = {}
    cancelled = 0
    deletions = 0
    t0 = time.monotonic()
    for i in range(edits):
        d = i % documents
        doc = docs[d]
        end = _pos_end(doc["text"])
        if i % 17 == 16 and doc["typed"] > 0 and end["character"] > 0:  # a deletion now and then
            start = {"line": end["line"], "character": end["character"] - 1}
            change = {"range": {"start": start, "end": end}, "text": ""}
            doc["text"] = doc["text"][:-1]
            doc["typed"] -= 1
            deletions += 1
        else:
            ch = script[d][doc["typed"]]
            doc["typed"] += 1
            change = {"range": {"start": end, "end": end}, "text": ch}
            doc["text"] += ch
        doc["version"] += 1
        client.notify("textDocument/didChange", {"textDocument": {"uri": doc["uri"], "version": doc["version"]},
                                                 "contentChanges": [change]})
        for old in doc["pending"]:
            client.notify("$/cancelRequest", {"id": json.loads(old)})
            cancelled += 1
        key = client.send_request("textDocument/inlineCompletion", {
            "textDocument": {"uri": doc["uri"]}, "position": _pos_end(doc["text"]),
            "context": {"triggerKind": 2}})
        sent[key] = time.monotonic()
        doc["pending"] = [key]
    storm_s = time.monotonic() - t0
    keys = list(sent)
    try:
        client.wait_for(keys, timeout)
    except TimeoutError:
        pass
    unanswered = [k for k in keys if k not in client.responses]
    results = [k for k in keys if k in client.responses and "result" in client.responses[k]]
    errors = [client.responses[k]["error"] for k in keys if k in client.responses and "error" in client.responses[k]]
    other_errors = [e for e in errors if e.get("code") != REQUEST_CANCELLED]
    latencies = [(client.received_at[k] - sent[k]) * 1000 for k in results]
    # after the storm: one more completion per document, answered within its deadline
    final = []
    for doc in docs:
        t = time.monotonic()
        answer = client.request("textDocument/inlineCompletion", {
            "textDocument": {"uri": doc["uri"]}, "position": _pos_end(doc["text"]),
            "context": {"triggerKind": 1}}, timeout=30)
        final.append({"ms": round((time.monotonic() - t) * 1000, 1), "ok": "result" in answer})
    return {"edits": edits, "documents": documents, "completions_sent": len(keys), "cancels_sent": cancelled,
            "deletions": deletions, "storm_seconds": round(storm_s, 2), "unanswered": len(unanswered),
            "answered_with_result": len(results), "answered_cancelled": len(errors) - len(other_errors),
            "other_errors": other_errors[:5], "latency_ms_p50": percentile(latencies, 0.5),
            "latency_ms_p95": percentile(latencies, 0.95), "final_completion": final,
            "rss_kb_before": rss0, "rss_kb_after": client.rss_kb(), "texts": [d["text"] for d in docs],
            "uris": [d["uri"] for d in docs]}


def interactive_while_indexing(client: RawClient, probe_uri: str, probe_text: str, max_seconds: float,
                               min_requests: int = 0) -> dict:
    """Hover, identifier search, sentence search and completion in turn while indexing runs
    (from its start until it ends or `max_seconds`); latencies per kind."""
    client.notify("textDocument/didOpen", {"textDocument": {"uri": probe_uri, "languageId": "python",
                                                            "version": 1, "text": probe_text}})
    client.wait_until(lambda c: c.indexing(), 120)
    lines = probe_text.split("\n")
    def_line = next(i for i, l in enumerate(lines) if l.startswith("def "))
    kinds = [
        ("hover", "textDocument/hover", {"textDocument": {"uri": probe_uri}, "position": {"line": def_line, "character": 5}}),
        ("symbol", "workspace/symbol", {"query": "read_config"}),
        ("search", "workspace/symbol", {"query": "parse the user order file"}),
        ("completion", "textDocument/inlineCompletion", {"textDocument": {"uri": probe_uri},
                                                         "position": {"line": def_line + 1, "character": 4},
                                                         "context": {"triggerKind": 1}}),
    ]
    lat: dict[str, list[float]] = {k: [] for k, _, _ in kinds}
    unanswered = errors = 0
    error_samples: list[str] = []
    t0 = time.monotonic()
    i = 0
    rss0 = client.rss_kb()
    rss_max = rss0
    during = True
    while (during or i < min_requests) and time.monotonic() - t0 < max_seconds:
        name, method, params = kinds[i % len(kinds)]
        i += 1
        start = time.monotonic()
        try:
            answer = client.request(method, params, timeout=60)
        except TimeoutError:
            unanswered += 1
            continue
        if "error" in answer:
            errors += 1
            if len(error_samples) < 3:
                error_samples.append(f"{name}: {answer['error'].get('message', '')[:500]}")
        if not client.indexed():
            lat[name].append((time.monotonic() - start) * 1000)
        during = not client.indexed()
        if i % 20 == 0:
            rss_max = max(rss_max, client.rss_kb())
    every = [v for vs in lat.values() for v in vs]
    return {"requests": i, "requests_during_indexing": len(every), "unanswered": unanswered, "errors": errors,
            "error_samples": error_samples,
            "indexing_finished": client.indexed(), "seconds": round(time.monotonic() - t0, 1),
            "p95_ms": percentile(every, 0.95), "p50_ms": percentile(every, 0.5),
            "by_kind_p95_ms": {k: percentile(v, 0.95) for k, v in lat.items()},
            "max_ms": round(max(every), 1) if every else None,
            "rss_kb_start": rss0, "rss_kb_max": rss_max}
