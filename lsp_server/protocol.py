"""Protocol tweaks over pygls 2.1.

- A request whose params do not fit the LSP schema gets an `InvalidParams` error response
  (pygls only logs it, leaving the client waiting forever).
- A notification method sent with an `id` (pygls would treat it as a notification and never
  answer), or a non-string method, gets an `InvalidRequest` error and is not run; omitted
  `params` are `null` (pygls answered a custom request without params with an internal error).
- A request pygls would drop without a word gets an `InvalidRequest` error instead: one
  without `"jsonrpc": "2.0"`, one after `shutdown`, and a second `initialize` (which would
  otherwise replace the workspace, its open documents and the engine mid-session).
- Positions are always UTF-16 (the LSP default, which the engine uses): the client's
  `general.positionEncodings` offer is ignored so pygls never negotiates UTF-8/32.
"""
from __future__ import annotations

import logging
from typing import Any

import attrs

from pygls.exceptions import JsonRpcException, JsonRpcInvalidRequest
from lsprotocol import types as lsp
from pygls.protocol import LanguageServerProtocol
from pygls.protocol.language_server import lsp_method

log = logging.getLogger(__name__)


class CodeT5pProtocol(LanguageServerProtocol):
    """`LanguageServerProtocol` that answers malformed requests with an error."""

    _initialized = False

    def structure_message(self, data: dict[str, Any]) -> Any:
        reason = _invalid_request(self, data)
        if reason is not None:
            log.warning("invalid request %r: %s", data["id"], reason)
            error = JsonRpcInvalidRequest(reason)
            self._send_response(data["id"], None, error.to_response_error())
            raise error
        if isinstance(data, dict) and "jsonrpc" in data and "method" in data and "params" not in data:
            data = {**data, "params": None}  # params may be omitted (JSON-RPC 2.0, section 4)
        try:
            return super().structure_message(data)
        except JsonRpcException as exc:
            if isinstance(data, dict) and "id" in data and "method" in data:
                log.warning("malformed %s request %r: %s", data.get("method"), data.get("id"), exc)
                self._send_response(data["id"], None, exc.to_response_error())
            raise

    def handle_message(self, message: Any) -> None:
        if message is None:  # a body `BoundedStdin` refused (it logged why)
            return
        if isinstance(message, dict):  # no "jsonrpc" key: pygls hands the raw dict over
            version, msg_id, method = message.get("jsonrpc"), message.get("id"), message.get("method")
            is_request = "id" in message and "method" in message
        else:
            version, msg_id = getattr(message, "jsonrpc", None), getattr(message, "id", None)
            method = getattr(message, "method", None)
            is_request = method is not None and hasattr(message, "id")
        if version != self.VERSION or (self._shutdown and is_request and method != lsp.EXIT):
            why = "after shutdown" if version == self.VERSION else f"jsonrpc must be {self.VERSION!r}"
            log.warning("invalid %s message %r: %s", method, msg_id, why)
            if is_request:
                self._send_response(msg_id, None, JsonRpcInvalidRequest(why).to_response_error())
            return
        super().handle_message(message)

    @lsp_method(lsp.INITIALIZE)
    def lsp_initialize(self, params: lsp.InitializeParams):
        if self._initialized:
            raise JsonRpcInvalidRequest("the server is already initialized")
        self._initialized = True
        if params.capabilities.general is not None:
            params.capabilities.general.position_encodings = None
        return (yield from super().lsp_initialize(params))


def _invalid_request(protocol: LanguageServerProtocol, data: Any) -> str | None:
    """Why a message with an `id` and a `method` cannot be run as a request; None if it can."""
    if not (isinstance(data, dict) and "jsonrpc" in data and "id" in data and "method" in data
            and "result" not in data and "error" not in data):
        return None
    method = data["method"]
    if not isinstance(method, str):
        return "method must be a string"
    msg_type = protocol.get_message_type(method)
    if msg_type is not None and "id" not in attrs.fields_dict(msg_type):
        return f"{method} is a notification, not a request"
    return None
