"""JSON-RPC protocol tweak: a request whose params do not fit the LSP schema gets an
`InvalidParams` error response (pygls 2.1 only logs it, leaving the client waiting forever)."""
from __future__ import annotations

import logging
from typing import Any

from pygls.exceptions import JsonRpcException
from pygls.protocol import LanguageServerProtocol

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
