"""JSON-RPC hardening over pygls: malformed input is answered with the JSON-RPC error it deserves, and `exit` stops
the server gracefully (no sys.exit from inside a handler, so the worker and the watcher are always stopped)."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import cattrs
from lsprotocol import types
from pygls.exceptions import JsonRpcException
from pygls.protocol import LanguageServerProtocol, lsp_method

log = logging.getLogger("covlens.lsp")

# JSON-RPC / LSP error codes.
PARSE_ERROR = -32700
INVALID_REQUEST = -32600
INVALID_PARAMS = -32602
SERVER_NOT_INITIALIZED = -32002

_BEFORE_INITIALIZE = {types.INITIALIZE, types.EXIT}


class CovlensProtocol(LanguageServerProtocol):
    """pygls' LSP protocol, fed whole message bodies by covlens's transport (see `receive`)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # Before pygls' __init__, which looks at every attribute while registering the built-in features.
        self._got_initialize = False
        self.exit_code: int | None = None  # set by `exit`: 0 after `shutdown`, 1 without (as LSP says)
        self._stopped: asyncio.Event | None = None
        super().__init__(*args, **kwargs)

    @property
    def stopped(self) -> asyncio.Event:
        """Set when the client sent `exit` (the transport then closes and the server cleans up)."""
        if self._stopped is None:
            self._stopped = asyncio.Event()
        return self._stopped

    def receive(self, body: bytes) -> None:
        """Handle one message body; anything malformed gets an error response instead of silence or a crash."""
        try:
            data = json.loads(body)
        except ValueError as exc:
            self._error(None, PARSE_ERROR, f"Parse error: the message is not valid JSON ({exc})")
            return
        if not isinstance(data, dict):
            self._error(None, INVALID_REQUEST, "Invalid Request: a message must be a JSON object (no batches in LSP)")
            return
        msg_id = data.get("id")
        if msg_id is not None and (isinstance(msg_id, bool) or not isinstance(msg_id, (int, str))):
            self._error(None, INVALID_REQUEST, f"Invalid Request: id must be a number or a string, got {msg_id!r}")
            return
        method = data.get("method")
        is_request = "id" in data and "method" in data
        if data.get("jsonrpc") != "2.0" or ("method" in data and not isinstance(method, str)) or \
                ("method" not in data and "id" not in data):
            if "method" in data or "id" not in data:
                self._error(msg_id, INVALID_REQUEST,
                            'Invalid Request: expected {"jsonrpc": "2.0", "method": <string>, ...}')
            return
        if is_request:
            if method == types.INITIALIZE:
                self._got_initialize = True
            elif not self._got_initialize and method not in _BEFORE_INITIALIZE:
                self._error(msg_id, SERVER_NOT_INITIALIZED, f"{method}: the server is not initialized yet")
                return
            elif self._shutdown and method != types.EXIT:
                self._error(msg_id, INVALID_REQUEST, f"{method}: the server is shutting down")
                return
        if isinstance(method, str) and "params" not in data and self.get_message_type(method) is None:
            data["params"] = None  # optional in JSON-RPC; pygls' generic message types insist on it
        try:
            # `json.loads(body, object_hook=structure_message)` as pygls does: only the outer object is a message.
            message = self.structure_message(data)
        except JsonRpcException as exc:
            detail = _detail(exc)
            if is_request:
                self._error(msg_id, INVALID_PARAMS, f"Invalid params for {method}: {detail}")
            else:
                log.warning("ignoring a malformed %s message: %s", method or "response", detail)
            return
        self.handle_message(message)

    def _error(self, msg_id: Any, code: int, message: str) -> None:
        log.warning("answering message %r with error %d: %s", msg_id, code, message)
        # A plain dict: JSON-RPC wants "id": null for a message whose id could not be read, which the typed
        # message would leave out.
        self._send_data({"jsonrpc": "2.0", "id": msg_id, "error": {"code": code, "message": message}})

    @lsp_method(types.EXIT)
    def lsp_exit(self, *args: Any) -> Any:
        """Stop serving; the transport closes and the server stops the run and the watcher before leaving."""
        if (user_handler := self.fm.features.get(types.EXIT)) is not None:
            yield user_handler, args, None
        self.exit_code = 0 if self._shutdown else 1
        self.stopped.set()


def _detail(exc: JsonRpcException) -> str:
    cause = exc.__cause__
    if isinstance(cause, (cattrs.ClassValidationError, cattrs.IterableValidationError)):
        try:
            return "; ".join(cattrs.transform_error(cause, path="params"))
        except Exception:  # noqa: BLE001 - fall back to the plain text
            pass
    return str(cause or exc) or type(exc).__name__
