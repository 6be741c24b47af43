"""Protocol tweaks over pygls 2.1.

- A request whose params do not fit the LSP schema gets an `InvalidParams` error response
  (pygls only logs it, leaving the client waiting forever).
- Positions are always UTF-16 (the LSP default, which the engine uses): the client's
  `general.positionEncodings` offer is ignored so pygls never negotiates UTF-8/32.
"""
from __future__ import annotations

import logging
from typing import Any

from pygls.exceptions import JsonRpcException
from lsprotocol import types as lsp
from pygls.protocol import LanguageServerProtocol
from pygls.protocol.language_server import lsp_method

log = logging.getLogger(__name__)


class CodeT5pProtocol(LanguageServerProtocol):
    """`LanguageServerProtocol` that answers malformed requests with an error."""

    def structure_message(self, data: dict[str, Any]) -> Any:
        try:
            return super().structure_message(data)
        except JsonRpcException as exc:
            if isinstance(data, dict) and "id" in data and "method" in data:
                log.warning("malformed %s request %r: %s", data.get("method"), data.get("id"), exc)
                self._send_response(data["id"], None, exc.to_response_error())
            raise

    @lsp_method(lsp.INITIALIZE)
    def lsp_initialize(self, params: lsp.InitializeParams):
        if params.capabilities.general is not None:
            params.capabilities.general.position_encodings = None
        return (yield from super().lsp_initialize(params))
