"""Rules of the OpenAPI document's schema tidying (services/common/openapi_schemas.py), on small
hand-written documents: which schemas a request reaches, where a default goes, which generic
schemas are renamed and that every reference follows the rename."""

from __future__ import annotations

from typing import Any

from services.common.openapi_schemas import (
    REF_PREFIX,
    document_request_defaults,
    name_generic_schemas,
    reachable_schemas,
    schema_refs,
)


def ref(name: str) -> dict[str, str]:
    return {"$ref": REF_PREFIX + name}


def test_refs_are_found_in_nested_dicts_and_lists_only_under_the_prefix() -> None:
    node = {
        "a": ref("One"),
        "b": [ref("Two"), {"c": [ref("Three")]}],
        "d": {"$ref": "https://elsewhere.example/schemas/Four"},
        "e": {"$ref": 5},
        "f": "text",
    }
    assert sorted(schema_refs(node)) == ["One", "Three", "Two"]
    assert schema_refs(ref("Only")) == ["Only"]
    assert schema_refs([ref("A"), ref("A")]) == ["A", "A"]
    assert schema_refs("#/components/schemas/NotARef") == []


def test_reachable_schemas_follow_references_through_cycles_and_skip_the_unknown() -> None:
    schemas = {
        "Request": {"properties": {"child": ref("Child"), "ghost": ref("Missing")}},
        "Child": {"properties": {"back": ref("Request"), "leaf": ref("Leaf")}},
        "Leaf": {"type": "string"},
        "Unrelated": {"properties": {"x": ref("Leaf")}},
    }
    assert reachable_schemas(schemas, [ref("Request")]) == {"Request", "Child", "Leaf"}
    assert reachable_schemas(schemas, [{"body": [ref("Leaf")]}]) == {"Leaf"}
    assert reachable_schemas(schemas, []) == set()


def defaults_document() -> dict[str, Any]:
    return {
        "paths": {
            "/v1/things": {
                "parameters": [{"name": "shared", "in": "query"}],  # a path item's own list
                "post": {
                    "requestBody": {"content": {"application/json": {"schema": ref("ThingIn")}}},
                    "responses": {"201": {"content": {"application/json": {"schema": ref("Out")}}}},
                },
                "get": {"responses": {"200": {}}},
            }
        },
        "components": {
            "schemas": {
                "ThingIn": {
                    "properties": {
                        "name": {"type": "string"},
                        "label": {"type": "string", "default": "a b", "description": "Shown."},
                        "note": {"type": "string", "default": None},
                        "inner": ref("Inner"),
                    }
                },
                "Inner": {"properties": {"size": {"type": "integer", "default": 3}}},
                "Out": {"properties": {"size": {"type": "integer", "default": 3}}},
            }
        },
    }


def test_request_defaults_move_into_the_description_and_response_defaults_stay() -> None:
    document = defaults_document()
    document_request_defaults(document)
    schemas = document["components"]["schemas"]
    assert schemas["ThingIn"]["properties"] == {
        "name": {"type": "string"},
        "label": {"type": "string", "description": 'Shown. Default when left out: `"a b"`.'},
        "note": {"type": "string", "description": "Default when left out: `null`."},
        "inner": ref("Inner"),
    }
    assert schemas["Inner"]["properties"]["size"] == {
        "type": "integer",
        "description": "Default when left out: `3`.",
    }
    assert schemas["Out"]["properties"]["size"] == {"type": "integer", "default": 3}


def test_a_document_without_requests_or_schemas_is_left_alone() -> None:
    document: dict[str, Any] = {"paths": {"/v1/x": {"get": {"responses": {}}}}}
    document_request_defaults(document)
    name_generic_schemas(document)
    assert document == {"paths": {"/v1/x": {"get": {"responses": {}}}}}
    empty: dict[str, Any] = {}
    document_request_defaults(empty)
    name_generic_schemas(empty)
    assert empty == {}
    body = {"content": {"application/json": {"schema": ref("Gone")}}}
    dangling: dict[str, Any] = {
        "paths": {"/v1/x": {"post": {"requestBody": body}}},
        "components": {},
    }
    document_request_defaults(dangling)  # a reference to a schema not there is skipped
    name_generic_schemas(dangling)
    assert dangling == {"paths": {"/v1/x": {"post": {"requestBody": body}}}, "components": {}}


def test_generic_schemas_take_their_titles_and_every_reference_follows() -> None:
    document: dict[str, Any] = {
        "paths": {
            "/v1/things": {
                "get": {
                    "responses": {
                        "200": {"content": {"application/json": {"schema": ref("Page_ThingRead_")}}}
                    }
                }
            }
        },
        "components": {
            "schemas": {
                "First": {"type": "string"},
                "Page_ThingRead_": {
                    "title": "ThingPage",
                    "properties": {"items": {"items": ref("ThingRead")}},
                },
                "ThingRead": {
                    "title": "ThingRead",
                    "properties": {"all": [ref("Page_ThingRead_")]},
                },
                "Page_Taken_": {"title": "ThingRead"},  # its title is a schema already
                "Page_Spaced_": {"title": "Not A Name"},
                "Page_Untitled_": {},
                "Plain": {"title": "Renamed"},  # not a generic key
                "Pair_A_B_": {"title": "ABPair"},
            }
        },
    }
    name_generic_schemas(document)
    schemas = document["components"]["schemas"]
    assert list(schemas) == [
        "First",
        "ThingPage",
        "ThingRead",
        "Page_Taken_",
        "Page_Spaced_",
        "Page_Untitled_",
        "Plain",
        "ABPair",
    ]
    response = document["paths"]["/v1/things"]["get"]["responses"]["200"]
    assert response["content"]["application/json"]["schema"] == ref("ThingPage")
    assert schemas["ThingPage"]["properties"]["items"]["items"] == ref("ThingRead")
    assert schemas["ThingRead"]["properties"]["all"] == [ref("ThingPage")]
