"""The house style of services/README.md, read from the code so it cannot quietly drift.

A router parses, authorizes, calls a service function and shapes the response. It never ends or
opens a transaction: a write commits once, in its service function, together with its outbox
event (docs/adr/0003-outbox-committed-with-its-row.md). A router that committed could commit a
row without its event, or twice where a keyed request expects one unit of work.
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI

from services.assessment.app import create_app as create_assessment
from services.assessment.settings import AssessmentSettings
from services.reporting.app import create_app as create_reporting
from services.reporting.settings import ReportingSettings
from services.training.app import create_app as create_training
from services.training.settings import TrainingSettings
from tests.support import TEST_AUTH

SERVICES = Path(__file__).resolve().parents[2] / "services"
ROUTERS = sorted(SERVICES.glob("*/*/router.py"))

# Calls that end or open a transaction, or write through the session: service functions only.
TRANSACTIONAL = {
    "commit",
    "flush",
    "begin",
    "begin_nested",
    "request_transaction",
    "commit_update",
    "stale_write_guard",
}


def transactional_calls(source: str) -> list[tuple[int, str]]:
    """(line, name) of every call in ``source`` to a name in TRANSACTIONAL, as ``x.commit()``
    or as a bare ``commit_update(...)``, awaited or not, inside ``async with`` or not."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
        if name in TRANSACTIONAL:
            found.append((node.lineno, name))
    return found


def test_the_check_finds_commits_however_they_are_spelled() -> None:
    source = (
        "async def route(session):\n"
        "    await session.commit()\n"
        "    async with session.begin():\n"
        "        pass\n"
        "    await commit_update(session, row, {}, emit)\n"
        "    await session.rollback()\n"  # ending a read snapshot early is allowed
    )
    assert transactional_calls(source) == [(2, "commit"), (3, "begin"), (5, "commit_update")]


def test_the_routers_are_found() -> None:
    packages = {path.parent.name for path in ROUTERS}
    assert {"factories", "findings", "courses", "annual"} <= packages
    assert len(ROUTERS) >= 16


@pytest.mark.parametrize("path", ROUTERS, ids=lambda p: str(p.relative_to(SERVICES)))
def test_no_router_commits_or_opens_a_transaction(path: Path) -> None:
    assert transactional_calls(path.read_text(encoding="utf-8")) == []


# What a router spells differently from the house style (services/README.md): audiences come
# from the service's access.py as caller aliases, sessions as SessionDep/ReadSessionDep, rows
# become answers through XRead.of.
OFF_STYLE = {
    "Access": "an audience defined in the router, not in the service's access.py",
    "PUBLIC": "an audience spelled in the router, not taken from the service's access.py",
    "ANY_USER": "an audience spelled in the router, not taken from the service's access.py",
    "get_session": "Depends(get_session) instead of SessionDep",
    "get_read_session": "Depends(get_read_session) instead of ReadSessionDep",
    "get_read_connection": "Depends(get_read_connection) instead of ReadConnectionDep",
    "model_validate": "a row turned into an answer in the router instead of XRead.of(row)",
    "to_read": "a second row-to-answer idiom instead of XRead.of(row)",
}


ROW_TO_ANSWER = {"model_validate", "to_read"}


def off_style(source: str) -> list[tuple[int, str]]:
    """(line, name) of every name or attribute in ``source`` listed in OFF_STYLE."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Name):
            name: str | None = node.id
        elif isinstance(node, ast.Attribute) and node.attr in ROW_TO_ANSWER:
            name = node.attr  # service.get_session (a training session) is no dependency
        elif isinstance(node, ast.alias):
            name = node.asname or node.name
        else:
            continue
        if name in OFF_STYLE:
            found.append((getattr(node, "lineno", 0), name))
    return sorted(set(found))


def test_the_style_check_finds_each_spelling() -> None:
    source = (
        "from services.common.app import get_session\n"
        "WRITERS = Access(Role.ADMIN)\n"
        "read = BrandRead.model_validate(brand)\n"
        "training = await service.get_session(session, ident, caller)\n"
    )
    assert [name for _, name in off_style(source)] == ["get_session", "Access", "model_validate"]


@pytest.mark.parametrize("path", ROUTERS, ids=lambda p: str(p.relative_to(SERVICES)))
def test_routers_read_the_same(path: Path) -> None:
    found = off_style(path.read_text(encoding="utf-8"))
    assert [f"line {line}: {name}: {OFF_STYLE[name]}" for line, name in found] == []


def imported_services(source: str) -> set[str]:
    """The ``services.<name>`` packages a module imports, however the import is spelled."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return {name.split(".")[1] for name in names if name.startswith("services.") and "." in name}


def test_the_import_check_reads_both_spellings() -> None:
    source = "import services.training.models\nfrom services.common.db import Database\n"
    assert imported_services(source) == {"training", "common"}


@pytest.mark.parametrize("service", ["assessment", "training", "reporting", "common"])
def test_a_service_imports_only_itself_and_the_kernel(service: str) -> None:
    """docs/adr/0004: a service owns its data and talks to the others over HTTP only; the
    kernel imports no service at all."""
    allowed = {"common"} if service == "common" else {service, "common"}
    foreign = {
        str(path.relative_to(SERVICES)): sorted(
            imported_services(path.read_text("utf-8")) - allowed
        )
        for path in sorted((SERVICES / service).rglob("*.py"))
    }
    assert {module: names for module, names in foreign.items() if names} == {}
    assert len(foreign) > 5


def service_apps() -> dict[str, FastAPI]:
    return {
        "assessment": create_assessment(AssessmentSettings(), None, TEST_AUTH),
        "training": create_training(TrainingSettings(), None, TEST_AUTH),
        "reporting": create_reporting(ReportingSettings(), None, TEST_AUTH),
    }


METHODS = {"get", "post", "put", "patch", "delete"}


def public_operations(app: FastAPI) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method.upper(), path, operation)
        for path, item in app.openapi()["paths"].items()
        if path.startswith("/v1/")
        for method, operation in item.items()
        if method in METHODS
    ]


def test_every_public_route_says_why_in_a_docstring() -> None:
    """The docstring becomes the operation's OpenAPI description: what the route does and
    which rules apply (who sees what, If-Match, idempotency), for the integrator reading it."""
    apps = service_apps()
    operations = [op for app in apps.values() for op in public_operations(app)]
    assert len(operations) > 60
    missing = [
        f"{method} {path} ({operation['operationId']})"
        for method, path, operation in operations
        if not operation.get("description", "").strip()
    ]
    assert missing == []
