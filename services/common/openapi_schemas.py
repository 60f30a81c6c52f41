"""Schema-level tidying of a service's OpenAPI document, so generated clients get usable
names and types: generic models named as their classes say (``FactoryPage``), defaults of
request fields that generators would read as "always present" moved into the description,
and reachability (which schemas a part of the document uses)."""

from __future__ import annotations

import json
import re
from typing import Any

REF_PREFIX = "#/components/schemas/"
_GENERIC_KEY = re.compile(r"[A-Za-z0-9]+_[A-Za-z0-9_]+_")


def document_request_defaults(document: dict[str, Any]) -> None:
    """A request body's field with a default may be left out, yet generators read ``default``
    as "always present" (openapi-typescript's default options make it required, so a client
    that leaves it out does not compile). In schemas that requests use, the default is said in
    the description instead; responses always carry every field, so theirs stay (in place)."""
    schemas: dict[str, Any] = document.get("components", {}).get("schemas", {})
    request_refs = [
        operation["requestBody"]
        for item in document.get("paths", {}).values()
        for operation in item.values()
        if isinstance(operation, dict) and "requestBody" in operation
    ]
    for name in reachable_schemas(schemas, request_refs):
        for field in schemas[name].get("properties", {}).values():
            if "default" in field:
                default = field.pop("default")
                note = f"Default when left out: `{json.dumps(default)}`."
                field["description"] = (
                    f"{field['description']} {note}" if field.get("description") else note
                )


def reachable_schemas(schemas: dict[str, Any], roots: list[Any]) -> set[str]:
    """Names of the schemas ``roots`` use, directly or through other schemas."""
    found: set[str] = set()
    pending = [ref for root in roots for ref in schema_refs(root)]
    while pending:
        name = pending.pop()
        if name not in found and name in schemas:
            found.add(name)
            pending.extend(schema_refs(schemas[name]))
    return found


def schema_refs(node: Any) -> list[str]:
    """Names of the schemas a part of the document refers to directly."""
    if isinstance(node, dict):
        ref = node.get("$ref")
        own = (
            [ref[len(REF_PREFIX) :]] if isinstance(ref, str) and ref.startswith(REF_PREFIX) else []
        )
        return own + [name for value in node.values() for name in schema_refs(value)]
    if isinstance(node, list):
        return [name for item in node for name in schema_refs(item)]
    return []


def name_generic_schemas(document: dict[str, Any]) -> None:
    """Give a generic model's schema the name its ``model_parametrized_name`` chose (its title):
    pydantic keys it ``Page_FactoryRead_`` whatever the class is called (in place)."""
    schemas: dict[str, Any] = document.get("components", {}).get("schemas", {})
    renames = {
        key: schema["title"]
        for key, schema in schemas.items()
        if _GENERIC_KEY.fullmatch(key)
        and re.fullmatch(r"[A-Za-z][A-Za-z0-9]*", schema.get("title", ""))
        and schema["title"] not in schemas
    }
    if not renames:
        return
    document["components"]["schemas"] = {renames.get(k, k): v for k, v in schemas.items()}
    renameschema_refs(document, renames)


def renameschema_refs(node: Any, renames: dict[str, str]) -> None:
    """Point every ``$ref`` to a renamed schema at its new name (in place)."""
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith(REF_PREFIX):
            name = ref[len(REF_PREFIX) :]
            node["$ref"] = REF_PREFIX + renames.get(name, name)
        for value in node.values():
            renameschema_refs(value, renames)
    elif isinstance(node, list):
        for item in node:
            renameschema_refs(item, renames)
