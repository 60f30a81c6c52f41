"""Every route says who may call it; a route that does not cannot even start."""

import pytest
from fastapi import APIRouter, Depends, FastAPI

from services.common.app import create_service_app
from services.common.auth import Access, Role
from services.common.settings import ServiceSettings


def build(router: APIRouter) -> FastAPI:
    return create_service_app(
        title="t", description="", settings=ServiceSettings(service_name="t"), routers=[router]
    )


def test_a_route_without_access_fails_at_startup() -> None:
    router = APIRouter()

    @router.get("/v1/open-by-accident")
    async def oops() -> dict[str, str]:
        return {}

    with pytest.raises(RuntimeError, match="/v1/open-by-accident declares no Access"):
        build(router)


def test_access_is_published_in_openapi() -> None:
    router = APIRouter()

    @router.get("/v1/things")
    async def things(_: object = Depends(Access(Role.STAFF, Role.ADMIN))) -> dict[str, str]:
        return {}

    operation = build(router).openapi()["paths"]["/v1/things"]["get"]
    assert operation["x-access"] == {"roles": ["admin", "staff"], "anonymous": False}


async def test_every_service_route_publishes_its_access(gateway_client) -> None:  # type: ignore[no-untyped-def]
    document = (await gateway_client.get("/openapi.json")).json()
    operations = [
        (path, method, operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if method in {"get", "post", "put", "patch", "delete"}
    ]
    assert len(operations) > 10
    missing = [(m, p) for p, m, op in operations if "x-access" not in op]
    assert missing == []
