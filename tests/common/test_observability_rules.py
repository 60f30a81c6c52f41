"""Request ids and JSON logs, rule by rule (issue 15): a valid incoming id is adopted and any
other replaced, the answer carries exactly one id, each request is logged once with its outcome
(500 when the app failed before answering), probes and feed polls only at debug level; log lines
are JSON with the request id and the caller's extra fields; configuring logging twice does not
double the lines."""

from __future__ import annotations

import json
import logging
import sys
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from starlette.types import Message, Receive, Scope, Send

from services.common.observability import (
    JsonFormatter,
    RequestContextMiddleware,
    configure_logging,
    current_request_id,
    new_request_id,
    request_id_var,
)

ACCESS = "bw.access"


def http_scope(path: str = "/v1/things", headers: list[tuple[bytes, bytes]] | None = None) -> Scope:
    return {
        "type": "http",
        "method": "GET",
        "path": path,
        "headers": headers or [],
        "client": ("203.0.113.9", 50000),
    }


async def call(app: Any, scope: Scope) -> tuple[list[Message], dict[str, Any]]:
    """Runs the middleware around ``app``; answers what it sent and the app's view of the
    request (its request id as state and as context)."""
    sent: list[Message] = []
    seen: dict[str, Any] = {}

    async def inner(scope: Scope, receive: Receive, send: Send) -> None:
        seen["state"] = scope.get("state", {}).get("request_id")
        seen["context"] = current_request_id()
        await app(scope, receive, send)

    async def receive() -> Message:
        return {"type": "http.request", "body": b""}

    async def send(message: Message) -> None:
        sent.append(message)

    await RequestContextMiddleware(inner, service="notes")(scope, receive, send)
    return sent, seen


def answering(status: int, headers: list[tuple[bytes, bytes]] | None = None) -> Any:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        assert (await receive())["type"] == "http.request"  # the request's body reaches the app
        start: Message = {"type": "http.response.start", "status": status}
        if headers is not None:  # optional in ASGI: none at all is no headers
            start["headers"] = headers
        await send(start)
        await send({"type": "http.response.body", "body": b"{}"})

    return app


def request_ids(message: Message) -> list[bytes]:
    return [v for k, v in message["headers"] if k.lower() == b"x-request-id"]


def access_records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == ACCESS]


async def test_a_valid_incoming_id_is_adopted_everywhere(caplog: pytest.LogCaptureFixture) -> None:
    scope = http_scope(headers=[(b"accept", b"*/*"), (b"x-request-id", b"trace:1.a_B-9")])
    with caplog.at_level(logging.DEBUG, logger=ACCESS):
        sent, seen = await call(answering(201), scope)
    assert request_ids(sent[0]) == [b"trace:1.a_B-9"]
    assert seen == {"state": "trace:1.a_B-9", "context": "trace:1.a_B-9"}
    [record] = access_records(caplog)
    assert record.request_id == "trace:1.a_B-9"  # type: ignore[attr-defined]
    assert current_request_id() is None  # reset once the request is done


@pytest.mark.parametrize(
    "incoming",
    [b"", b"has space", b"semi;colon", b"x" * 129, b"line\nbreak"],
)
async def test_an_invalid_incoming_id_is_replaced(incoming: bytes) -> None:
    sent, seen = await call(answering(200), http_scope(headers=[(b"x-request-id", incoming)]))
    [made] = request_ids(sent[0])
    assert made != incoming and len(made) == 32 and int(made, 16) >= 0
    assert seen["state"] == made.decode()


async def test_the_longest_valid_id_is_kept() -> None:
    longest = b"a" * 128
    sent, _ = await call(answering(200), http_scope(headers=[(b"x-request-id", longest)]))
    assert request_ids(sent[0]) == [longest]


async def test_each_request_without_an_id_gets_its_own() -> None:
    first, _ = await call(answering(200), http_scope())
    second, _ = await call(answering(200), http_scope())
    assert request_ids(first[0]) != request_ids(second[0])


async def test_the_answer_carries_one_id_the_middlewares_own() -> None:
    app = answering(200, [(b"X-Request-ID", b"from-the-app"), (b"etag", b'"1"')])
    sent, _ = await call(app, http_scope(headers=[(b"x-request-id", b"mine")]))
    # ASGI: response header names must be lowercase.
    assert sent[0]["headers"] == [(b"etag", b'"1"'), (b"x-request-id", b"mine")]
    assert sent[1]["body"] == b"{}"  # the body passes untouched


async def test_an_answer_without_headers_gets_the_id() -> None:
    sent, _ = await call(answering(204, headers=None), http_scope())
    assert [name for name, _ in sent[0]["headers"]] == [b"x-request-id"]


async def test_each_request_is_logged_once_with_its_outcome(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.DEBUG, logger=ACCESS):
        await call(answering(404), http_scope("/v1/things/x", [(b"x-request-id", b"r-1")]))
    [record] = access_records(caplog)
    assert record.levelno == logging.INFO and record.getMessage() == "request"
    fields = {
        k: getattr(record, k)
        for k in ("request_id", "service", "method", "path", "client", "status")
    }
    assert fields == {
        "request_id": "r-1",
        "service": "notes",
        "method": "GET",
        "path": "/v1/things/x",
        "client": "203.0.113.9",
        "status": 404,
    }


async def test_the_duration_is_logged_in_milliseconds_to_two_places(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    ticks = iter([100.0, 100.0123456])  # started, then finished 12.3456 ms later
    monkeypatch.setattr(time, "perf_counter", lambda: next(ticks))
    with caplog.at_level(logging.INFO, logger=ACCESS):
        await call(answering(200), http_scope())
    [record] = access_records(caplog)
    assert record.duration_ms == 12.35  # type: ignore[attr-defined]


async def test_a_request_without_a_client_address_is_logged_without_one(
    caplog: pytest.LogCaptureFixture,
) -> None:
    scope = http_scope()
    del scope["client"]
    with caplog.at_level(logging.INFO, logger=ACCESS):
        await call(answering(200), scope)
    [record] = access_records(caplog)
    assert record.client is None  # type: ignore[attr-defined]


async def test_a_failure_before_the_answer_is_logged_as_500_and_raised(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def broken(scope: Scope, receive: Receive, send: Send) -> None:
        raise RuntimeError("boom")

    with caplog.at_level(logging.INFO, logger=ACCESS), pytest.raises(RuntimeError):
        await call(broken, http_scope())
    [record] = access_records(caplog)
    assert record.status == 500  # type: ignore[attr-defined]
    assert current_request_id() is None


@pytest.mark.parametrize(
    ("path", "level"),
    [
        ("/health/ready", logging.DEBUG),
        ("/internal/changes", logging.DEBUG),
        ("/v1/health-checks", logging.INFO),
        ("/v1/internal", logging.INFO),
    ],
)
async def test_probes_and_feed_polls_are_logged_at_debug_only(
    path: str, level: int, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG, logger=ACCESS):
        await call(answering(200), http_scope(path))
    [record] = access_records(caplog)
    assert record.levelno == level


async def test_other_scopes_pass_through_untouched(caplog: pytest.LogCaptureFixture) -> None:
    got: list[Scope] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        got.append(scope)
        assert (await receive())["type"] == "http.request"  # the server's own channels
        await send({"type": "lifespan.startup.complete"})

    scope: Scope = {"type": "lifespan"}
    with caplog.at_level(logging.DEBUG, logger=ACCESS):
        sent, _ = await call(app, scope)
    assert got == [{"type": "lifespan"}]  # no state, no request id
    assert sent == [{"type": "lifespan.startup.complete"}]
    assert access_records(caplog) == []


def _record(**extra: Any) -> logging.LogRecord:
    record = logging.makeLogRecord(
        {"name": "bw.test", "levelname": "WARNING", "msg": "hello %s", "args": ("wörld",)}
    )
    record.__dict__.update(extra)
    return record


def test_a_log_line_is_json_with_the_request_id_and_the_extras() -> None:
    token = request_id_var.set("req-9")
    try:
        line = JsonFormatter().format(_record(factory="fac_1", _private=1, when=object))
    finally:
        request_id_var.reset(token)
    entry = json.loads(line)
    assert "wörld" in line  # kept readable, not \\u-escaped
    assert {k: entry[k] for k in ("level", "logger", "msg", "request_id", "factory")} == {
        "level": "warning",
        "logger": "bw.test",
        "msg": "hello wörld",
        "request_id": "req-9",
        "factory": "fac_1",
    }
    assert entry["when"] == str(object)  # what JSON cannot carry is written as text
    assert "_private" not in entry and "args" not in entry and "levelno" not in entry
    assert len(entry["ts"]) == 19 and entry["ts"][10] == "T"
    assert "exc" not in entry


def test_one_formatter_writes_each_record_with_exactly_its_own_extras_in_order() -> None:
    """The formatter remembers which attributes are extras per shape of record: records of
    other shapes, one after another on one formatter, still get their own and only theirs."""
    formatter = JsonFormatter()
    lines = [
        formatter.format(_record(zeta=1, alpha=2)),
        formatter.format(_record(alpha=3)),
        formatter.format(_record(zeta=4, alpha=5)),
        formatter.format(_record(alpha=6, zeta=7, _hidden=8)),
        formatter.format(_record()),
    ]
    extras = [
        [k for k in json.loads(line) if k not in ("ts", "level", "logger", "msg")] for line in lines
    ]
    assert extras == [["zeta", "alpha"], ["alpha"], ["zeta", "alpha"], ["alpha", "zeta"], []]
    assert [json.loads(line).get("alpha") for line in lines] == [2, 3, 5, 6, None]
    assert '"zeta": 1, "alpha": 2}' in lines[0]  # the line itself, as json.dumps writes it


def test_the_remembered_shapes_are_bounded() -> None:
    formatter = JsonFormatter()
    for n in range(300):
        entry = json.loads(formatter.format(_record(**{f"field_{n}": n})))
        assert entry[f"field_{n}"] == n
    assert 0 < len(formatter._extra_keys) <= 256


def test_a_made_request_id_is_a_random_version_4_uuid_in_hex() -> None:
    made = {new_request_id() for _ in range(200)}
    assert len(made) == 200
    for request_id in made:
        as_uuid = uuid.UUID(hex=request_id)
        assert as_uuid.hex == request_id  # 32 lowercase hex digits, no dashes
        assert (as_uuid.version, as_uuid.variant) == (4, uuid.RFC_4122)


def test_each_line_is_stamped_with_its_own_second() -> None:
    formatter = JsonFormatter()
    stamps = []
    for created in (1_700_000_000.2, 1_700_000_000.9, 1_700_000_001.1, 1_700_003_600.0):
        record = _record()
        record.created = created
        stamps.append(json.loads(formatter.format(record))["ts"])
    assert stamps[0] == stamps[1] != stamps[2] != stamps[3]
    record.created = 1_700_003_600.0
    assert stamps[3] == logging.Formatter().formatTime(record, "%Y-%m-%dT%H:%M:%S")


def test_a_log_line_outside_a_request_has_no_request_id_and_carries_the_exception() -> None:
    try:
        raise ValueError("bad input")
    except ValueError:
        record = _record(exc_info=sys.exc_info())
    entry = json.loads(JsonFormatter().format(record))
    assert "request_id" not in entry
    assert "ValueError: bad input" in entry["exc"]


@pytest.fixture
def root_logging() -> Iterator[logging.Logger]:
    """configure_logging changes the process's root logger: put it back afterwards."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    chatty = {name: logging.getLogger(name).level for name in ("httpx", "httpcore")}
    yield root
    root.handlers[:] = handlers
    root.setLevel(level)
    for name, chatty_level in chatty.items():
        logging.getLogger(name).setLevel(chatty_level)


def test_configuring_twice_keeps_one_json_handler_and_the_others(
    root_logging: logging.Logger,
) -> None:
    other = logging.NullHandler()
    root_logging.addHandler(other)
    configure_logging("debug")
    configure_logging("warning")
    ours = [h for h in root_logging.handlers if isinstance(h.formatter, JsonFormatter)]
    assert len(ours) == 1 and other in root_logging.handlers
    assert isinstance(ours[0], logging.StreamHandler) and ours[0].stream is sys.stderr
    assert root_logging.level == logging.WARNING
    assert logging.getLogger("httpx").level == logging.WARNING
    assert logging.getLogger("httpcore").level == logging.WARNING


def test_logging_is_at_info_unless_told(root_logging: logging.Logger) -> None:
    configure_logging()
    assert root_logging.level == logging.INFO


def test_a_service_says_it_started_once_configured(
    root_logging: logging.Logger, caplog: pytest.LogCaptureFixture
) -> None:
    configure_logging("info")
    assert not [r for r in caplog.records if r.name == "bw"]
    configure_logging("info", "training")
    [started] = [r for r in caplog.records if r.name == "bw"]
    assert started.getMessage() == "started" and started.levelno == logging.INFO
    assert started.service == "training"  # type: ignore[attr-defined]
