"""The raw-input guard's rules one by one (issue 15), driven as plain ASGI with scripted messages:
a body is limited by its declared length and by what actually streams, exactly at the limit
allowed; text is judged on the whole body, however it is chunked; the path and the query are
judged on their raw, percent-encoded form; a refusal is one complete problem response, unless
the app had already started answering; other scopes pass through untouched.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from starlette.types import Message, Receive, Scope, Send

from services.common.input_guard import (
    UNSTORABLE_DETAIL,
    BodyTooLarge,
    InputGuardMiddleware,
    has_unstorable_json_text,
)
from services.common.problems import PROBLEM_CONTENT_TYPE, field_error, problem_type

LIMIT = 10
PLAIN = b'{"a": "b"}'  # exactly LIMIT bytes
NUL = b'{"a": "\\u0000"}'


class Recorder:
    """An app that reads the whole body and answers 200 with it; remembers what it was given."""

    def __init__(self, reads_body: bool = True) -> None:
        self.reads_body = reads_body
        self.calls: list[tuple[Scope, Receive, Send]] = []
        self.body = b""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.calls.append((scope, receive, send))
        if scope["type"] != "http":
            return
        if self.reads_body:
            while True:
                message = await receive()
                self.body += message.get("body", b"")
                if not message.get("more_body", False):
                    break
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": self.body})


def http_scope(**overrides: Any) -> dict[str, Any]:
    scope: dict[str, Any] = {
        "type": "http",
        "method": "POST",
        "path": "/v1/things",
        "raw_path": b"/v1/things",
        "query_string": b"",
        "headers": [(b"host", b"guarded")],
    }
    scope.update(overrides)
    return {k: v for k, v in scope.items() if v is not None}


def chunks(*parts: bytes) -> list[Message]:
    """The request messages of a body sent in ``parts`` (no Content-Length: it streams)."""
    return [
        {"type": "http.request", "body": part, "more_body": i < len(parts) - 1}
        for i, part in enumerate(parts)
    ]


async def run(
    scope: dict[str, Any], messages: list[Message], app: Any = None, **guard: Any
) -> list[Message]:
    """The messages the guard sends for ``scope`` whose body arrives as ``messages``."""
    inner = app if app is not None else Recorder()
    pending = list(messages)
    sent: list[Message] = []

    async def receive() -> Message:
        return pending.pop(0) if pending else {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        sent.append(message)

    await InputGuardMiddleware(inner, **{"max_bytes": LIMIT, **guard})(scope, receive, send)
    return sent


def status(sent: list[Message]) -> int:
    return int(sent[0]["status"])


def problem(status: int, title: str, detail: str, instance: str = "/v1/things") -> list[Message]:
    """The exact messages of the guard's refusal."""
    body: dict[str, Any] = {
        "type": problem_type(status),
        "title": title,
        "status": status,
        "detail": detail,
        "instance": instance,
    }
    if status == 422:
        body["errors"] = [field_error(detail)]
    encoded = json.dumps(body).encode()
    headers = [
        (b"content-type", PROBLEM_CONTENT_TYPE.encode()),
        (b"content-length", str(len(encoded)).encode()),
        (b"connection", b"close"),
    ]
    return [
        {"type": "http.response.start", "status": status, "headers": headers},
        {"type": "http.response.body", "body": encoded},
    ]


TOO_LARGE = problem(
    413, "Content Too Large", f"The request body exceeds the limit of {LIMIT} bytes."
)
UNSTORABLE = problem(422, "Validation failed", UNSTORABLE_DETAIL)


# -- the body's size --------------------------------------------------------------------------


async def test_a_streamed_body_of_exactly_the_limit_reaches_the_app_whole() -> None:
    app = Recorder()
    sent = await run(http_scope(), chunks(PLAIN[:4], PLAIN[4:]), app)
    assert status(sent) == 200
    assert app.body == PLAIN


async def test_a_streamed_body_over_the_limit_in_total_is_one_problem() -> None:
    """Each chunk is under the limit; their sum is not."""
    assert await run(http_scope(), chunks(b" " * 6, b" " * 5)) == TOO_LARGE


async def test_a_declared_length_over_the_limit_is_refused_before_the_app_runs() -> None:
    app = Recorder()
    headers = [(b"host", b"guarded"), (b"content-length", str(LIMIT + 1).encode())]
    sent = await run(http_scope(headers=headers), chunks(b" " * (LIMIT + 1)), app)
    assert sent == TOO_LARGE
    assert app.calls == []


async def test_a_declared_length_is_refused_even_when_the_app_never_reads_the_body() -> None:
    app = Recorder(reads_body=False)
    headers = [(b"content-length", str(LIMIT + 1).encode())]
    assert await run(http_scope(headers=headers), [], app) == TOO_LARGE


async def test_a_declared_length_of_exactly_the_limit_is_not_refused() -> None:
    headers = [(b"host", b"guarded"), (b"content-length", str(LIMIT).encode())]
    assert status(await run(http_scope(headers=headers), chunks(PLAIN))) == 200


async def test_only_content_length_is_read_as_the_declared_length() -> None:
    headers = [(b"x-item-count", b"999"), (b"content-length", b"2"), (b"x-total", b"999")]
    assert status(await run(http_scope(headers=headers), chunks(b"{}"))) == 200


async def test_a_declared_length_that_is_not_a_number_is_left_to_the_server() -> None:
    headers = [(b"content-length", b"ten")]
    assert status(await run(http_scope(headers=headers), chunks(b"{}"))) == 200


async def test_a_message_without_a_body_is_an_empty_chunk() -> None:
    """``body`` is optional in an ASGI request message; its default is empty."""
    sent = await run(http_scope(), [{"type": "http.request"}], max_bytes=0)
    assert status(sent) == 200


# -- the body's text --------------------------------------------------------------------------


async def test_unstorable_text_in_a_body_is_one_located_problem() -> None:
    assert await run(http_scope(), chunks(NUL), max_bytes=1024) == UNSTORABLE


async def test_a_last_message_may_leave_more_body_out() -> None:
    """``more_body`` is optional too, and its absence means the body is complete."""
    sent = await run(http_scope(), [{"type": "http.request", "body": NUL}], max_bytes=1024)
    assert sent == UNSTORABLE


async def test_text_is_judged_on_the_whole_body_not_chunk_by_chunk() -> None:
    """A surrogate pair split across chunks is a proper pair; a NUL in a later chunk counts."""
    pair = chunks(b'{"a": "\\ud83d', b'\\ude00"}')
    assert status(await run(http_scope(), pair, max_bytes=1024)) == 200
    later = chunks(b'{"a": "ok", ', b'"b": "\\u0000"}')
    assert await run(http_scope(), later, max_bytes=1024) == UNSTORABLE
    third = chunks(b'{"a": ', b'"ok", ', b'"b": "\\u0000"}')
    assert await run(http_scope(), third, max_bytes=1024) == UNSTORABLE


async def test_a_guard_that_does_not_scan_passes_text_but_still_limits_size() -> None:
    app = Recorder()
    sent = await run(http_scope(), chunks(NUL), app, max_bytes=1024, scan_text=False)
    assert status(sent) == 200 and app.body == NUL
    assert status(await run(http_scope(), chunks(NUL), scan_text=False)) == 413


# -- the path and the query -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw_path", "query_string"),
    [
        (b"/v1/things/a%00b", b""),
        (b"/v1/things", b"name=a%00"),
        (b"/v1/things", b"name=%ED%A0%80"),  # the UTF-8 form of a high surrogate
        (b"/v1/things", b"name=%ed%bf%bf"),  # of a low one, lower case
    ],
)
async def test_a_nul_or_surrogate_in_the_raw_url_is_refused_unread(
    raw_path: bytes, query_string: bytes
) -> None:
    app = Recorder()
    scope = http_scope(raw_path=raw_path, query_string=query_string)
    assert await run(scope, chunks(PLAIN), app) == UNSTORABLE
    assert app.calls == []


@pytest.mark.parametrize(
    ("raw_path", "query_string"),
    [
        (b"/v1/things/a%2500", b""),  # an escaped percent sign followed by 00
        (b"/v1/things", b"name=%ED%9F%BF"),  # U+D7FF, the character before the surrogates
        (b"/v1/things", b"name=100%25"),
        (b"/v1/things", b"name=plain"),
    ],
)
async def test_ordinary_escapes_in_the_url_are_not_refused(
    raw_path: bytes, query_string: bytes
) -> None:
    path = raw_path.decode().replace("%25", "%")  # what a server decodes it to
    scope = http_scope(path=path, raw_path=raw_path, query_string=query_string)
    assert status(await run(scope, chunks(PLAIN))) == 200


async def test_without_a_raw_path_the_path_is_judged() -> None:
    """``raw_path`` is optional in ASGI; then the path is all there is."""
    refused = http_scope(path="/v1/things/a%00", raw_path=None)
    assert await run(refused, chunks(PLAIN)) == problem(
        422, "Validation failed", UNSTORABLE_DETAIL, instance="/v1/things/a%00"
    )
    assert status(await run(http_scope(raw_path=None), chunks(PLAIN))) == 200


async def test_a_scope_without_query_string_or_headers_is_judged_on_the_rest() -> None:
    scope = http_scope(query_string=None, headers=None)
    assert status(await run(scope, chunks(PLAIN))) == 200
    assert await run(scope, chunks(NUL), max_bytes=1024) == UNSTORABLE


# -- refusals the app lets escape, and other scopes --------------------------------------------


async def test_a_refusal_after_the_answer_started_is_raised_not_answered_twice() -> None:
    sent: list[Message] = []

    async def answers_then_reads(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await receive()

    async def receive() -> Message:
        return chunks(b" " * (LIMIT + 1))[0]

    async def send(message: Message) -> None:
        sent.append(message)

    guard = InputGuardMiddleware(answers_then_reads, max_bytes=LIMIT)
    with pytest.raises(BodyTooLarge):
        await guard(http_scope(), receive, send)
    assert [m["type"] for m in sent] == ["http.response.start"]


@pytest.mark.parametrize("kind", ["lifespan", "websocket"])
async def test_other_scopes_reach_the_app_untouched(kind: str) -> None:
    app = Recorder()
    scope = {"type": kind, "path": "/a%00", "raw_path": b"/a%00", "query_string": b"x=%00"}

    async def receive() -> Message:
        return {"type": f"{kind}.connect"}

    async def send(message: Message) -> None:
        raise AssertionError("the guard answered a scope it does not judge")

    await InputGuardMiddleware(app, max_bytes=0)(scope, receive, send)
    assert app.calls == [(scope, receive, send)]


# -- JSON escapes -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "unstorable"),
    [
        ('{"a": "plain"}', False),
        ("\\ud800\\udc00", False),  # the first pair
        ("\\udbff\\udfff", False),  # the last pair
        ("\\ud800\\ue000", True),  # U+E000 is not a low surrogate
        ("\\ud83d\\ude00\\u0041", False),  # a pair, then an ordinary escape
        ("\\ud83d\\ude00\\u0000", True),  # a pair, then a NUL
        ("\\ud83d\\ude00\\ud83d", True),  # a pair, then a high surrogate alone
        ("\\udc00", True),
        ("\\udfff", True),
        ("\\udbff", True),
        ("\\uD800", True),  # upper-case hex
        ("\\ud7ff", False),
        ("\\ue000", False),
        ("\\u0001", False),
    ],
)
def test_json_escapes_are_judged_by_code_point(text: str, unstorable: bool) -> None:
    assert has_unstorable_json_text(text.encode()) is unstorable
