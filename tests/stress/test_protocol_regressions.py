"""One test per protocol bug the fuzzer found: each request below went unanswered (or killed
the server) before the fix."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.support.lsp_session import EXAMPLE
from tests.support.raw_client import RawClient, frame, id_key

INVALID_REQUEST = -32600


@pytest.fixture
def client(tmp_path: Path, stress_options):
    root = tmp_path / "ws"
    shutil.copytree(EXAMPLE, root)
    c = RawClient(tmp_path / "server.log")
    c.initialize(root, stress_options(None, tmp_path / "cache", index={"enabled": False}))
    c.root = root
    yield c
    c.close()


def _answer(client: RawClient, message: dict, timeout: float = 10) -> dict:
    client.send(frame(json.dumps(message).encode()))
    return client.wait_for([id_key(message["id"])], timeout)[id_key(message["id"])]


def test_a_huge_content_length_is_skipped_and_the_next_message_read(client: RawClient) -> None:
    client.send(frame(b'{"jsonrpc": "2.0", "id": 1, "method": "codet5p/getStatus"}', 10 ** 12))
    assert "result" in client.request("codet5p/getStatus", {}, timeout=10)  # MemoryError + exit before
    assert "over the" in client.stderr_text()


def test_requests_without_a_valid_jsonrpc_version_get_an_error(client: RawClient) -> None:
    for n, msg in enumerate([{"id": "a", "method": "codet5p/getStatus", "params": {}},
                             {"jsonrpc": "1.0", "id": "b", "method": "codet5p/getStatus", "params": {}}]):
        assert _answer(client, msg)["error"]["code"] == INVALID_REQUEST


def test_a_notification_sent_as_a_request_gets_an_error(client: RawClient) -> None:
    uri = (client.root / "x.py").as_uri()
    answer = _answer(client, {"jsonrpc": "2.0", "id": 7, "method": "textDocument/didOpen", "params": {
        "textDocument": {"uri": uri, "languageId": "python", "version": 1, "text": "x = 1\n"}}})
    assert answer["error"]["code"] == INVALID_REQUEST and "notification" in answer["error"]["message"]


def test_a_non_string_method_gets_an_error(client: RawClient) -> None:
    assert _answer(client, {"jsonrpc": "2.0", "id": 8, "method": 5})["error"]["code"] == INVALID_REQUEST


def test_a_custom_request_without_params_is_answered(client: RawClient) -> None:
    answer = _answer(client, {"jsonrpc": "2.0", "id": 9, "method": "codet5p/getStatus"})
    assert "result" in answer, answer  # an internal error before


def test_a_second_initialize_is_refused_and_the_session_kept(client: RawClient) -> None:
    uri = (client.root / "bookshelf/catalog.py").as_uri()
    text = (client.root / "bookshelf/catalog.py").read_text()
    client.notify("textDocument/didOpen", {"textDocument": {"uri": uri, "languageId": "python",
                                                            "version": 1, "text": text}})
    answer = _answer(client, {"jsonrpc": "2.0", "id": 10, "method": "initialize",
                              "params": {"processId": None, "rootUri": None, "capabilities": {}}})
    assert answer["error"]["code"] == INVALID_REQUEST
    line = next(i for i, l in enumerate(text.splitlines()) if l.startswith("class "))
    hover = client.request("textDocument/hover", {"textDocument": {"uri": uri}, "position": {"line": line, "character": 7}})
    assert hover["result"] is not None  # the open document survived


def test_code_action_resolve_with_any_data(client: RawClient) -> None:
    for data in (5, "x", [1], {"uri": 3}, None):
        answer = client.request("codeAction/resolve", {"title": "Generate docstring", "data": data})
        assert "result" in answer, answer


def test_requests_after_shutdown_get_an_error(client: RawClient) -> None:
    assert "result" in client.request("shutdown")
    answer = _answer(client, {"jsonrpc": "2.0", "id": 11, "method": "codet5p/getStatus", "params": {}})
    assert answer["error"]["code"] == INVALID_REQUEST
