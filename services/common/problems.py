"""RFC 9457 problem details for every error path, the same shape from every app."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

PROBLEM_CONTENT_TYPE = "application/problem+json"
PROBLEM_TYPE_BASE = "https://betterwork.example.org/problems/"

log = logging.getLogger("bw.problems")


class ProblemDetails(BaseModel):
    """RFC 9457 problem details, as every error of this platform is answered."""

    type: str
    title: str
    status: int
    detail: str
    instance: str | None = None
    request_id: str | None = None
    errors: list[dict[str, Any]] | None = None


@dataclass(frozen=True)
class ProblemKind:
    """One kind of error: its problem type (``PROBLEM_TYPE_BASE + slug``), status and title."""

    slug: str
    status: int
    title: str
    meaning: str

    @property
    def type(self) -> str:
        return PROBLEM_TYPE_BASE + self.slug


# The registry: every problem type the platform answers with, one per kind of error. A Problem
# of another type cannot be raised (ValueError), and the OpenAPI document names only these
# (tests/common/test_problems.py and the class test over the merged document check both).
KINDS: tuple[ProblemKind, ...] = (
    ProblemKind("bad-request", 400, "Bad Request", "The request is malformed"),
    ProblemKind("malformed-json", 400, "Malformed request", "The body is not valid JSON"),
    ProblemKind("invalid-cursor", 400, "Invalid cursor", "The cursor is not one this list issued"),
    ProblemKind("invalid-sort", 400, "Invalid sort", "The list cannot be sorted that way"),
    ProblemKind(
        "unknown-query-parameter", 400, "Unknown query parameter", "The operation has no such"
    ),
    ProblemKind("invalid-filter", 400, "Invalid filter", "Filters that contradict each other"),
    ProblemKind("invalid-idempotency-key", 400, "Invalid Idempotency-Key", "The key is not usable"),
    ProblemKind("unauthorized", 401, "Unauthorized", "Missing or invalid bearer token"),
    ProblemKind("forbidden", 403, "Forbidden", "The caller may not do this"),
    ProblemKind("not-found", 404, "Not Found", "No such resource, or not visible to the caller"),
    ProblemKind("method-not-allowed", 405, "Method Not Allowed", "The path takes other methods"),
    ProblemKind("not-acceptable", 406, "Not Acceptable", "No representation the client accepts"),
    ProblemKind("already-exists", 409, "Already exists", "The resource it would create exists"),
    ProblemKind(
        "illegal-transition", 409, "Illegal status transition", "The status cannot move there"
    ),
    ProblemKind(
        "state-conflict", 409, "Not allowed in this state", "The resource's state forbids it"
    ),
    ProblemKind(
        "concurrent-change", 409, "Concurrent change", "Another request changed it first; retry"
    ),
    ProblemKind(
        "request-in-progress",
        409,
        "Request in progress",
        "A request with this Idempotency-Key is still running",
    ),
    ProblemKind("precondition-failed", 412, "Precondition Failed", "If-Match is stale"),
    ProblemKind("content-too-large", 413, "Content Too Large", "The body is too large"),
    ProblemKind(
        "unsupported-media-type", 415, "Unsupported Media Type", "The body's type is refused"
    ),
    ProblemKind("validation", 422, "Validation failed", "`errors` names each problem"),
    ProblemKind(
        "idempotency-key-reused",
        422,
        "Idempotency key reused",
        "The Idempotency-Key was first sent with another request",
    ),
    ProblemKind("precondition-required", 428, "Precondition Required", "Send If-Match"),
    ProblemKind("too-many-requests", 429, "Too Many Requests", "Rate limited"),
    ProblemKind("internal-server-error", 500, "Internal Server Error", "An unexpected error"),
    ProblemKind("bad-gateway", 502, "Bad Gateway", "A service answered wrongly"),
    ProblemKind("service-unavailable", 503, "Service Unavailable", "A service is unavailable"),
    ProblemKind("gateway-timeout", 504, "Gateway Timeout", "A service did not answer in time"),
)
PROBLEM_KINDS: dict[str, ProblemKind] = {kind.type: kind for kind in KINDS}
# The kind an error of a status is when nothing more specific is said: the first of its status
# (a 409 that does not say is ``state-conflict``; creates say ``already-exists``).
_DEFAULT_SLUG = {k.status: k.slug for k in reversed(KINDS)} | {409: "state-conflict"}


def kind(slug: str) -> ProblemKind:
    """The registered kind of this slug (KeyError for one not registered)."""
    return PROBLEM_KINDS[PROBLEM_TYPE_BASE + slug]


def kinds_of(status: int) -> list[ProblemKind]:
    return [k for k in KINDS if k.status == status]


def problem_type(status: int) -> str:
    """The problem type an error of this status carries unless it names a more specific one."""
    slug = _DEFAULT_SLUG.get(status)
    if slug is None:
        raise ValueError(f"no default problem type for {status}: name one from KINDS")
    return PROBLEM_TYPE_BASE + slug


def registered_type(status: int, type_: str | None) -> str:
    """``type_`` (or the status's default) if it is one of the registry's, else ValueError."""
    resolved = type_ or problem_type(status)
    if resolved not in PROBLEM_KINDS or PROBLEM_KINDS[resolved].status != status:
        raise ValueError(
            f"problem type {resolved!r} is not registered for {status}: add a ProblemKind to "
            "services/common/problems.py"
        )
    return resolved


def json_pointer(*parts: str | int) -> str:
    """RFC 6901: ``("body", "items", 0, "code")`` -> ``/body/items/0/code``."""
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)


def field_error(message: str, *location: str | int) -> dict[str, Any]:
    """One entry of ``errors``: where (a JSON pointer into the request: ``/body/...``,
    ``/query/name``, ``/path/name``, ``/header/name``; empty for the request as a whole)."""
    return {"location": json_pointer(*location), "message": message}


_PYDANTIC_PREFIXES = ("Value error, ", "Assertion failed, ")


def _clean_message(message: str) -> str:
    for prefix in _PYDANTIC_PREFIXES:
        if message.startswith(prefix):
            return message[len(prefix) :]
    return message


def normalise_errors(errors: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every entry with a JSON-pointer ``location`` (a dotted one, ``body.url``, is converted)
    and a message without pydantic's "Value error, " prefix."""
    out = []
    for error in errors:
        location = str(error.get("location", ""))
        if location and not location.startswith("/"):  # body.items[0].code, body.items.0.code
            location = json_pointer(*re.sub(r"\[(\d+)\]", r".\1", location).split("."))
        out.append(
            {
                **error,
                "location": location,
                "message": _clean_message(str(error.get("message", ""))),
            }
        )
    return out


class Problem(Exception):
    """Raise anywhere to answer with a problem+json document; ``kind`` names its registered
    kind (``Problem(400, "...", kind="invalid-filter")``), else the status's default is used."""

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        title: str | None = None,
        type_: str | None = None,
        kind: str | None = None,
        errors: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.type = registered_type(status, PROBLEM_TYPE_BASE + kind if kind else type_)
        self.title = title or PROBLEM_KINDS[self.type].title
        self.errors = errors
        self.headers = headers or {}
        self.extra = extra


def problem_response(
    request: Request | None,
    status: int,
    detail: str,
    *,
    title: str | None = None,
    type_: str | None = None,
    errors: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    resolved = type_ or problem_type(status)
    if resolved not in PROBLEM_KINDS:  # an answer is still given; the registry test fails
        log.error("unregistered problem type", extra={"problem_type": resolved})
    registered = PROBLEM_KINDS.get(resolved)
    body: dict[str, Any] = {
        "type": resolved,
        "title": title or (registered.title if registered else HTTPStatus(status).phrase),
        "status": status,
        "detail": detail,
    }
    if request is not None:
        body["instance"] = request.url.path
        request_id = getattr(request.state, "request_id", None)
        if request_id:
            body["request_id"] = request_id
    if errors is None and status == 422:
        errors = [{"location": "", "message": detail}]  # every 422 says where; here: all of it
    if errors is not None:
        body["errors"] = normalise_errors(errors)
    body.update(extra)
    return JSONResponse(body, status_code=status, media_type=PROBLEM_CONTENT_TYPE, headers=headers)


def _validation_errors(exc: RequestValidationError) -> list[dict[str, Any]]:
    return [
        {
            "location": json_pointer(*err.get("loc", ())),
            "message": _clean_message(str(err.get("msg", ""))),
            "type": err.get("type", ""),
        }
        for err in exc.errors()
    ]


def install_problem_handlers(app: FastAPI) -> None:
    async def on_problem(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, Problem)
        return problem_response(
            request,
            exc.status,
            exc.detail,
            title=exc.title,
            type_=exc.type,
            errors=exc.errors,
            headers=exc.headers,
            **exc.extra,
        )

    async def on_http(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        detail = exc.detail if isinstance(exc.detail, str) else HTTPStatus(exc.status_code).phrase
        if exc.status_code == 404 and detail == "Not Found":
            detail = f"No resource at {request.url.path}."
        if exc.status_code == 405:
            detail = f"{request.method} is not allowed on {request.url.path}."
        headers = dict(exc.headers) if exc.headers else None
        try:
            type_ = problem_type(exc.status_code)
        except ValueError:  # a status with no kind of its own (409 raised as HTTPException)
            type_ = "about:blank"
        return problem_response(request, exc.status_code, detail, type_=type_, headers=headers)

    async def on_validation(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        errors = _validation_errors(exc)
        malformed = any(e["type"] == "json_invalid" for e in errors)
        return problem_response(
            request,
            400 if malformed else 422,
            "The request body is not valid JSON."
            if malformed
            else "The request does not match the expected shape; see errors.",
            title="Malformed request" if malformed else "Validation failed",
            type_=PROBLEM_TYPE_BASE + ("malformed-json" if malformed else "validation"),
            errors=errors,
        )

    async def on_unhandled(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error", extra={"path": request.url.path})
        return problem_response(request, 500, "An unexpected error occurred; it has been logged.")

    app.add_exception_handler(Problem, on_problem)
    app.add_exception_handler(StarletteHTTPException, on_http)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(Exception, on_unhandled)


def not_found(what: str, ident: str) -> Problem:
    return Problem(404, f"{what} {ident!r} does not exist.", title=f"{what} not found")


def conflict(detail: str, slug: str = "state-conflict", **extra: Any) -> Problem:
    """A 409 of a specific kind: ``already-exists``, ``illegal-transition``, ``state-conflict``
    (the default: the resource's state forbids the change) or ``concurrent-change``."""
    registered = kind(slug)
    if registered.status != 409:
        raise ValueError(f"{slug} is not a kind of 409")
    return Problem(409, detail, kind=slug, **extra)


def already_exists(detail: str, **extra: Any) -> Problem:
    return conflict(detail, "already-exists", **extra)
