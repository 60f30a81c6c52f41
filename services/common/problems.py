"""RFC 9457 problem details for every error path, the same shape from every app."""

from __future__ import annotations

import logging
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


# Problem types whose slug is not the status phrase's (Python's phrase for 413 is the old one).
_TYPE_SLUGS = {413: "content-too-large", 422: "validation"}


def problem_type(status: int) -> str:
    """The problem type an error of this status carries (400 may also be ``malformed-json``)."""
    return (
        PROBLEM_TYPE_BASE + _TYPE_SLUGS[status] if status in _TYPE_SLUGS else _default_type(status)
    )


class Problem(Exception):
    """Raise anywhere to answer with a problem+json document."""

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        title: str | None = None,
        type_: str | None = None,
        errors: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.title = title or HTTPStatus(status).phrase
        self.type = type_ or _default_type(status)
        self.errors = errors
        self.headers = headers or {}
        self.extra = extra


def _default_type(status: int) -> str:
    slug = HTTPStatus(status).phrase.lower().replace(" ", "-").replace("'", "")
    return PROBLEM_TYPE_BASE + slug


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
    body: dict[str, Any] = {
        "type": type_ or _default_type(status),
        "title": title or HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
    }
    if request is not None:
        body["instance"] = request.url.path
        request_id = getattr(request.state, "request_id", None)
        if request_id:
            body["request_id"] = request_id
    if errors is not None:
        body["errors"] = errors
    body.update(extra)
    return JSONResponse(body, status_code=status, media_type=PROBLEM_CONTENT_TYPE, headers=headers)


def _validation_errors(exc: RequestValidationError) -> list[dict[str, Any]]:
    errors = []
    for err in exc.errors():
        errors.append(
            {
                "location": ".".join(str(part) for part in err.get("loc", ())),
                "message": err.get("msg", ""),
                "type": err.get("type", ""),
            }
        )
    return errors


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
        return problem_response(request, exc.status_code, detail, headers=headers)

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


def not_found(kind: str, ident: str) -> Problem:
    return Problem(404, f"{kind} {ident!r} does not exist.", title=f"{kind} not found")


def conflict(detail: str, **extra: Any) -> Problem:
    return Problem(409, detail, **extra)
