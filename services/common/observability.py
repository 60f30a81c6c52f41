"""Request ids (``X-Request-ID``) and structured JSON logs, as a plain ASGI middleware."""

from __future__ import annotations

import contextvars
import json
import logging
import os
import re
import sys
import time
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

REQUEST_ID_HEADER = "x-request-id"
_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")

request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "request_id", default=None
)


def current_request_id() -> str | None:
    return request_id_var.get()


# A random UUID's bits (RFC 9562, version 4): what ``uuid.uuid4().hex`` gives, without its
# three Python calls on every request that arrives without an id.
_UUID4_CLEAR = ~((0xF000 << 64) | (0xC000 << 48))
_UUID4_SET = (0x4000 << 64) | (0x8000 << 48)


def new_request_id() -> str:
    """32 lowercase hex digits of a random version-4 UUID."""
    return f"{int.from_bytes(os.urandom(16)) & _UUID4_CLEAR | _UUID4_SET:032x}"


class JsonFormatter(logging.Formatter):
    """One JSON object per line. It runs for every request (the access log), so the encoder is
    built once and the timestamp worked out once per second, not per line."""

    _reserved = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}
    _encode = json.JSONEncoder(default=str, ensure_ascii=False).encode

    def __init__(self) -> None:
        super().__init__()
        self._second = -1
        self._ts = ""
        self._extra_keys: dict[tuple[str, ...], tuple[str, ...]] = {}

    def format(self, record: logging.LogRecord) -> str:
        second = int(record.created)
        if second != self._second:
            self._ts = self.formatTime(record, "%Y-%m-%dT%H:%M:%S")
            self._second = second
        entry: dict[str, Any] = {
            "ts": self._ts,
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        request_id = request_id_var.get()
        if request_id:
            entry["request_id"] = request_id
        fields = record.__dict__
        # The caller's extra fields, in the order given: worked out once per shape of record
        # (the access log's is always the same), not by testing each of its ~25 attributes.
        keys = tuple(fields)
        extra = self._extra_keys.get(keys)
        if extra is None:
            extra = tuple(k for k in keys if k not in self._reserved and not k.startswith("_"))
            if len(self._extra_keys) >= 256:  # a bound, should callers vary their extras
                self._extra_keys.clear()
            self._extra_keys[keys] = extra
        for key in extra:
            entry[key] = fields[key]
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return self._encode(entry)


def configure_logging(level: str = "INFO", service: str | None = None) -> None:
    """JSON lines on stderr; safe to call again (replaces only its own handler)."""
    root = logging.getLogger()
    for existing in list(root.handlers):
        if isinstance(existing.formatter, JsonFormatter):
            root.removeHandler(existing)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root.addHandler(handler)
    root.setLevel(level.upper())
    # One line per request is ours to write; the HTTP client's own would double it.
    for chatty in ("httpx", "httpcore"):
        logging.getLogger(chatty).setLevel(logging.WARNING)
    if service:
        logging.getLogger("bw").info("started", extra={"service": service})


class RequestContextMiddleware:
    """Adopts a valid incoming ``X-Request-ID`` or makes one, echoes it, logs each request."""

    def __init__(self, app: ASGIApp, service: str) -> None:
        self.app = app
        self.service = service
        self.log = logging.getLogger("bw.access")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = None
        for name, value in scope.get("headers", []):
            if name == b"x-request-id":
                incoming = value.decode("latin-1")
                break
        request_id = (
            incoming if incoming and _VALID_REQUEST_ID.match(incoming) else new_request_id()
        )
        token = request_id_var.set(request_id)
        scope.setdefault("state", {})["request_id"] = request_id
        started = time.perf_counter()
        status_holder = {"status": 500}

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                status_holder["status"] = message["status"]
                headers = [
                    (k, v) for k, v in message.get("headers", []) if k.lower() != b"x-request-id"
                ]
                headers.append((b"x-request-id", request_id.encode()))
                message["headers"] = headers
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            path = scope.get("path", "")
            # Health probes and change-feed polls arrive every few seconds: debug, not info.
            quiet = path.startswith(("/health", "/internal"))
            # As the gateway resolved it (trusted proxies only), or the server's socket peer.
            client = scope.get("client")
            level = logging.DEBUG if quiet else logging.INFO
            if self.log.isEnabledFor(level):
                # Straight to the handlers: log() would first walk the stack for the caller's
                # file and line, which the JSON line never shows; once per request, that counts.
                extra = {
                    "request_id": request_id,
                    "service": self.service,
                    "method": scope.get("method"),
                    "path": scope.get("path"),
                    "client": client[0] if client else None,
                    "status": status_holder["status"],
                    "duration_ms": round((time.perf_counter() - started) * 1000, 2),
                }
                record = self.log.makeRecord(
                    self.log.name, level, "", 0, "request", (), None, extra=extra
                )
                self.log.handle(record)
            request_id_var.reset(token)
