"""What each operation of a service's OpenAPI document promises, derived in one place from what
its route declares, so generated clients see the real contract (docs/api-conventions.md):

- the operation id (``operation_id``), by one rule from the method and the path;
- the headers it takes and answers with (If-Match, Idempotency-Key, ETag, Location, ...);
- the errors it can return, each with its problem type, rather than one list for all.

The gateway adds what only it answers (429, 503, 504 with Retry-After): gateway/openapi.py.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from fastapi.routing import APIRoute

from services.common.auth import Role, declared_access
from services.common.etag import IF_MATCH_EXEMPT
from services.common.openapi_schemas import (
    REF_PREFIX,
    document_request_defaults,
    name_generic_schemas,
)
from services.common.pagination import SORT_EXTENSION, Page
from services.common.problems import (
    PROBLEM_CONTENT_TYPE,
    PROBLEM_KINDS,
    PROBLEM_TYPE_BASE,
    ProblemDetails,
    kind,
    problem_type,
)

CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# Path segments that are not resources: the API version, and the internal door's prefix.
_NOT_NOUNS = re.compile(r"v\d+")
_VERB_FOR = {"PUT": "replace", "PATCH": "update", "DELETE": "delete"}

ERROR_DESCRIPTIONS: dict[int, str] = {
    400: "Malformed request (bad JSON, cursor, filter or header)",
    401: "Missing or invalid bearer token",
    403: "The caller's role may not do this",
    404: "No such resource, or not visible to the caller",
    409: "Conflicts with the resource's current state, or a request with this Idempotency-Key "
    "is still in progress",
    412: "If-Match does not match the current ETag: read the resource again",
    413: "Request body too large",
    422: "Validation failed; `errors` names each problem",
    428: "If-Match is required: send the ETag you last read",
    429: "Rate limited; retry after Retry-After seconds",
    502: "The service's answer to this write broke off after the write was sent: it may have "
    "been applied, so read before sending it again (a write with an Idempotency-Key is sent "
    "again by the gateway instead)",
    503: "A service this request needs is unavailable; retry after Retry-After seconds",
    504: "The service did not answer in time",
}

HEADERS: dict[str, dict[str, Any]] = {
    "X-Request-ID": {
        "description": "The request's id: the one sent, or a new one. Quote it when reporting.",
        "schema": {"type": "string"},
    },
    "ETag": {
        "description": "The resource's current version; send it as If-Match to change it.",
        "schema": {"type": "string"},
    },
    "Location": {"description": "The created resource's URL.", "schema": {"type": "string"}},
    "Idempotent-Replayed": {
        "description": "`true` when this answer replays the first one sent with the same "
        "Idempotency-Key; nothing was created again.",
        "schema": {"type": "string", "enum": ["true"]},
    },
    "Retry-After": {
        "description": "Seconds to wait before retrying.",
        "schema": {"type": "integer"},
    },
    "WWW-Authenticate": {"description": "The bearer challenge.", "schema": {"type": "string"}},
}

_PARAMETERS: dict[str, dict[str, Any]] = {
    "If-Match": {
        "name": "If-Match",
        "in": "header",
        "required": True,
        "description": "The ETag you last read (or `*`); 428 without it, 412 when stale.",
        "schema": {"type": "string"},
    },
    "Idempotency-Key": {
        "name": "Idempotency-Key",
        "in": "header",
        "required": False,
        "description": "A unique key per intended create (a UUID); a retry with the same key "
        "and body replays the first answer instead of creating again.",
        "schema": {"type": "string", "maxLength": 200},
    },
    "If-None-Match": {
        "name": "If-None-Match",
        "in": "header",
        "required": False,
        "description": "The ETag you last read: 304 without a body while it is still current.",
        "schema": {"type": "string"},
    },
    "X-Request-ID": {
        "name": "X-Request-ID",
        "in": "header",
        "required": False,
        "description": "Your id for this request, echoed back and logged by every service "
        "(another value is replaced by a new id).",
        "schema": {"type": "string", "pattern": "^[A-Za-z0-9._:-]{1,128}$"},
    },
}


def header_parameter(name: str) -> dict[str, Any]:
    return dict(_PARAMETERS[name])


def header_refs(*names: str) -> dict[str, Any]:
    return {name: dict(HEADERS[name]) for name in names}


PROBLEM_TYPES_EXTENSION = "x-problem-types"


def problem_response(status: int, *headers: str, kinds: Sequence[str] = ()) -> dict[str, Any]:
    """An error response of the document naming the problem types it can carry (``kinds``, the
    registry's slugs; the status's default kind when none is given), so clients can branch on
    them. The example is of the status's default kind when it is one of them."""
    types = [kind(slug).type for slug in kinds] or [problem_type(status)]
    example = problem_type(status) if problem_type(status) in types else types[0]
    listed = ", ".join(f"`{t.removeprefix(PROBLEM_TYPE_BASE)}`" for t in types)
    response: dict[str, Any] = {
        "description": f"{ERROR_DESCRIPTIONS[status]}. Problem types ({PROBLEM_TYPE_BASE}...): "
        f"{listed}.",
        "headers": header_refs("X-Request-ID", *headers),
        "content": {
            PROBLEM_CONTENT_TYPE: {
                "schema": {"$ref": REF_PREFIX + "ProblemDetails"},
                "example": {
                    "type": example,
                    "title": PROBLEM_KINDS[example].title,
                    "status": status,
                    "detail": ERROR_DESCRIPTIONS[status] + ".",
                },
            }
        },
        PROBLEM_TYPES_EXTENSION: types,
    }
    return response


# --- operation ids -------------------------------------------------------------------------


def _words(segment: str) -> list[str]:
    return [part for part in re.split(r"[-_]", segment) if part]


def _singular(word: str) -> str:
    if word.endswith("ies"):
        return word[:-3] + "y"
    if word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


def _camel(words: list[str]) -> str:
    return "".join(word[:1].upper() + word[1:] for word in words)


def _is_param(segment: str) -> bool:
    return segment.startswith("{")


def _is_page(route: APIRoute) -> bool:
    # FastAPI names a route (generate_unique_id_function) before it sets its response model.
    model = getattr(route, "response_model", None)
    return isinstance(model, type) and issubclass(model, Page)


def operation_id(route: APIRoute) -> str:
    """``verb`` + the path's nouns in camelCase; docs/api-conventions.md states the rule.

    The verb: GET answering a page ``list``, other GET ``get``, POST ``create`` (or, when the
    path ends in a verb such as ``/publish``, that verb), PUT ``replace``, PATCH ``update``,
    DELETE ``delete``. The nouns: every static segment but the version; one followed by a path
    parameter is singular, as is the last one of a create; the others stay as written."""
    method = sorted(route.methods or {"GET"})[0]
    segments = [s for s in route.path.strip("/").split("/") if not _NOT_NOUNS.fullmatch(s)]
    action = None
    if (
        method == "POST"
        and len([s for s in segments if not _is_param(s)]) > 1
        and not _is_param(segments[-1])
        and not segments[-1].endswith("s")
    ):
        action = segments.pop()
    verb = action or _verb(method, route)
    words: list[str] = []
    for index, segment in enumerate(segments):
        if _is_param(segment):
            continue
        parts = _words(segment)
        is_last = index == len(segments) - 1
        follows_param = not is_last and _is_param(segments[index + 1])
        if follows_param or (is_last and verb == "create"):
            parts[-1] = _singular(parts[-1])
        words.extend(parts)
    return verb + _camel(words)


def _verb(method: str, route: APIRoute) -> str:
    if method == "GET":
        return "list" if _is_page(route) else "get"
    if method == "POST":
        return "create"
    return _VERB_FOR.get(method, method.lower())


# --- headers and errors --------------------------------------------------------------------


def needs_if_match(method: str, path: str, operation: dict[str, Any]) -> bool:
    """Changes an existing resource (a write under a path parameter) and is not exempt."""
    return method in CHANGING and "{" in path and IF_MATCH_EXEMPT not in operation


def creates(method: str, operation: dict[str, Any]) -> bool:
    return method == "POST" and "201" in operation.get("responses", {})


def _errors_for(
    route: APIRoute, method: str, operation: dict[str, Any]
) -> dict[int, tuple[tuple[str, ...], tuple[str, ...]]]:
    """Each status the operation can answer: (its headers, the kinds of problem it may be)."""
    access = declared_access(route.dependant)
    anonymous_open = access is not None and access.anonymous
    every_role = access is not None and access.roles >= {str(r) for r in Role}
    has_body = route.body_field is not None
    query = {p.get("name") for p in operation.get("parameters", []) if p.get("in") == "query"}
    has_query = bool(route.dependant.query_params) or bool(query)
    has_path = bool(route.dependant.path_params) or "{" in route.path
    errors: dict[int, tuple[tuple[str, ...], tuple[str, ...]]] = {}
    # Any POST sent with an Idempotency-Key may meet a bad key (400), the key's first request
    # still running (409) or the key reused with another body (422).
    keyed = method == "POST"
    # Every route refuses a query parameter it does not declare (services/common/query_guard.py).
    errors[400] = ((), _bad_request_kinds(has_body, query, keyed))
    # A bad token is refused everywhere; a missing one only where the route is not open.
    errors[401] = (("WWW-Authenticate",), ())
    if not (anonymous_open and every_role):
        errors[403] = ((), ())
    if has_path:
        errors[404] = ((), ())
    if method in CHANGING:
        errors[409] = ((), _conflict_kinds(route, method, operation))
    if needs_if_match(method, route.path, operation):
        errors[412] = ((), ())
        errors[428] = ((), ())
    if has_body:
        errors[413] = ((), ())
    if has_body or has_query or has_path or keyed:  # the input guard: unstorable text
        errors[422] = ((), ("validation", "idempotency-key-reused") if keyed else ())
    return errors


def _bad_request_kinds(has_body: bool, query: set[Any], keyed: bool) -> tuple[str, ...]:
    kinds = ["bad-request", "unknown-query-parameter"]
    if has_body:
        kinds.append("malformed-json")
    if "cursor" in query:
        kinds.append("invalid-cursor")
    if "sort" in query:
        kinds.append("invalid-sort")
    if "date_from" in query:
        kinds.append("invalid-filter")
    if keyed:
        kinds.append("invalid-idempotency-key")
    return tuple(kinds)


def _conflict_kinds(route: APIRoute, method: str, operation: dict[str, Any]) -> tuple[str, ...]:
    """``state-conflict`` on any write; a create may find its resource ``already-exists`` or
    lose a race (``concurrent-change``); a transition may be ``illegal-transition``; any POST
    may meet its Idempotency-Key's first request still running."""
    kinds = ["state-conflict"]
    if creates(method, operation):
        kinds += ["already-exists", "concurrent-change"]
    if route.path.endswith("/transitions"):
        kinds.append("illegal-transition")
    if method == "POST":
        kinds.append("request-in-progress")
    return tuple(kinds)


def _success_headers(method: str, operation: dict[str, Any], etag: bool) -> list[str]:
    headers = ["X-Request-ID"]
    if etag:
        headers.append("ETag")
    if creates(method, operation):
        headers += ["Location", "Idempotent-Replayed"]
    return headers


def declare_contract(document: dict[str, Any], routes: list[APIRoute]) -> None:
    """Rewrite each operation's header parameters and responses from its route (in place)."""
    conditional_paths = {
        route.path
        for route in routes
        for method in route.methods or ()
        if method in CHANGING
        and "{" in route.path
        and IF_MATCH_EXEMPT not in (route.openapi_extra or {})
    }
    for route in routes:
        item = document.get("paths", {}).get(route.path)
        if item is None:
            continue
        for method in route.methods or ():
            operation = item.get(method.lower())
            if operation is None:
                continue
            _declare_operation(route, method, operation, route.path in conditional_paths)
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    schemas["ProblemDetails"] = ProblemDetails.model_json_schema(
        ref_template=REF_PREFIX + "{model}"
    )
    name_generic_schemas(document)
    document_request_defaults(document)


def _declare_operation(
    route: APIRoute, method: str, operation: dict[str, Any], mutable_path: bool
) -> None:
    parameters = [
        _enumerate_sort(p)
        for p in operation.get("parameters", [])
        if not (p.get("in") == "header" and p.get("name") in _PARAMETERS)
    ]
    if needs_if_match(method, route.path, operation):
        parameters.append(header_parameter("If-Match"))
    if creates(method, operation):
        parameters.append(header_parameter("Idempotency-Key"))
    # A read of one resource that can change answers its ETag; a list's page has none.
    reads_etag = method == "GET" and mutable_path and not _is_page(route)
    if reads_etag:
        parameters.append(header_parameter("If-None-Match"))
    parameters.append(header_parameter("X-Request-ID"))
    operation["parameters"] = parameters
    responses: dict[str, Any] = {}
    etag = (
        needs_if_match(method, route.path, operation)
        or creates(method, operation)
        or (method == "GET" and mutable_path)
    )
    for status, response in operation.get("responses", {}).items():
        if status.isdigit() and int(status) >= 400:
            continue  # errors are derived below, never copied
        response = dict(response)
        response["headers"] = {
            **response.get("headers", {}),
            **header_refs(*_success_headers(method, operation, etag)),
        }
        responses[status] = response
    if reads_etag:
        responses["304"] = {
            "description": "Not modified: the If-None-Match ETag is still current; no body.",
            "headers": header_refs("X-Request-ID", "ETag"),
        }
    for status, (headers, kinds) in sorted(_errors_for(route, method, operation).items()):
        responses[str(status)] = problem_response(status, *headers, kinds=kinds)
    operation["responses"] = responses


def _enumerate_sort(parameter: dict[str, Any]) -> dict[str, Any]:
    """A list's ``sort`` as an enumeration of the orders it offers (``name``, ``-name``, ...),
    so generated clients offer exactly those; the route validates it itself (a 400 naming them,
    rather than FastAPI's 422)."""
    values = parameter.get("schema", {}).get(SORT_EXTENSION)
    if parameter.get("in") != "query" or values is None:
        return parameter
    # Member names for generated enums (NAME, NAME_DESC), not VALUE_1 for "-name".
    names = [v.removeprefix("-").upper() + ("_DESC" if v.startswith("-") else "") for v in values]
    schema = {"type": "string", "enum": list(values), "title": "Sort", "x-enum-varnames": names}
    return {**parameter, "schema": schema}
