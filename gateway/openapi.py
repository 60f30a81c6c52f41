"""One OpenAPI document for the platform, merged from the services' own documents."""

from __future__ import annotations

import asyncio
import copy
import json
import time
from typing import Any

import httpx

from gateway.api_description import API_DESCRIPTION
from gateway.proxy import RETRYABLE_METHODS, route_for
from services.common.openapi_contract import problem_response
from services.common.openapi_schemas import reachable_schemas

REF_PREFIX = "#/components/schemas/"
HTTP_METHODS = frozenset({"get", "put", "post", "delete", "options", "head", "patch", "trace"})


def _rename_refs(node: Any, renames: dict[str, str]) -> Any:
    if isinstance(node, dict):
        out = {}
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str) and value.startswith(REF_PREFIX):
                name = value[len(REF_PREFIX) :]
                out[key] = REF_PREFIX + renames.get(name, name)
            else:
                out[key] = _rename_refs(value, renames)
        return out
    if isinstance(node, list):
        return [_rename_refs(item, renames) for item in node]
    return node


def merge_documents(
    documents: dict[str, dict[str, Any]],
    routes: dict[str, str],
    *,
    title: str = "Better Work platform API",
    version: str = "0.1.0",
    unavailable: list[str] | None = None,
) -> dict[str, Any]:
    """Keep each service's public paths (those the gateway routes to it); schemas whose names
    collide with a different definition get the service name as a prefix."""
    merged: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {
            "title": title,
            "version": version,
            "description": API_DESCRIPTION,
        },
        "paths": {},
        "components": {
            "schemas": {},
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
            },
        },
        "security": [{"bearer": []}, {}],
        "tags": [],
    }
    if unavailable:
        merged["info"]["x-unavailable-services"] = sorted(unavailable)
    schemas: dict[str, Any] = merged["components"]["schemas"]
    seen_tags: set[str] = set()
    for service, document in sorted(documents.items()):
        document = copy.deepcopy(document)
        renames: dict[str, str] = {}
        for name, schema in document.get("components", {}).get("schemas", {}).items():
            if name in schemas and json.dumps(schemas[name], sort_keys=True) != json.dumps(
                schema, sort_keys=True
            ):
                renames[name] = f"{service}_{name}"
        document = _rename_refs(document, renames)
        for name, schema in document.get("components", {}).get("schemas", {}).items():
            schemas[renames.get(name, name)] = schema
        for path, item in document.get("paths", {}).items():
            if route_for(path, routes) == service:
                merged["paths"][path] = item
        for tag in document.get("tags", []):
            if tag.get("name") not in seen_tags:
                seen_tags.add(tag["name"])
                merged["tags"].append(tag)
    for item in merged["paths"].values():
        for method, operation in item.items():
            if method in HTTP_METHODS and isinstance(operation, dict):
                responses = operation.setdefault("responses", {})
                responses.update(GATEWAY_RESPONSES)
                if method.upper() not in RETRYABLE_METHODS:
                    responses.update(GATEWAY_WRITE_RESPONSES)
    merged["components"]["schemas"] = _published_schemas(merged)
    return merged


# What the gateway itself may answer to any operation, whatever the service declares.
GATEWAY_RESPONSES: dict[str, Any] = {
    "429": problem_response(429, "Retry-After"),
    "503": problem_response(503, "Retry-After"),
    "504": problem_response(504),
}
# And to a write: its service's answer broke off after the write went out, so it may have been
# applied (a write with an Idempotency-Key is sent again instead; proxy.py).
GATEWAY_WRITE_RESPONSES: dict[str, Any] = {"502": problem_response(502)}


def _published_schemas(document: dict[str, Any]) -> dict[str, Any]:
    """Only the schemas the public paths use, directly or through other schemas: those of
    internal routes (the change feed's ``ChangePage``) are not part of the contract."""
    schemas: dict[str, Any] = document["components"]["schemas"]
    used = reachable_schemas(schemas, [document["paths"]])
    return {name: schema for name, schema in schemas.items() if name in used}


class OpenAPICache:
    """Fetches the services' documents concurrently, at most once per ``ttl`` seconds."""

    def __init__(self, ttl: float) -> None:
        self.ttl = ttl
        self._document: dict[str, Any] | None = None
        self._fetched_at = 0.0
        self._lock = asyncio.Lock()

    async def get(
        self, clients: dict[str, httpx.AsyncClient], routes: dict[str, str]
    ) -> dict[str, Any]:
        async with self._lock:
            if self._document is not None and time.monotonic() - self._fetched_at < self.ttl:
                return self._document
            names = sorted(clients)
            results = await asyncio.gather(
                *(clients[name].get("/openapi.json") for name in names), return_exceptions=True
            )
            documents: dict[str, dict[str, Any]] = {}
            unavailable: list[str] = []
            for name, result in zip(names, results, strict=True):
                if isinstance(result, httpx.Response) and result.status_code == 200:
                    documents[name] = result.json()
                else:
                    unavailable.append(name)
            document = merge_documents(documents, routes, unavailable=unavailable)
            if not unavailable:
                self._document, self._fetched_at = document, time.monotonic()
            return document
