"""CLI fixtures: a deployment's environment pointed at private databases, and closed ports."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.common.db import Database
from tests.support import TEST_AUTH, free_port

SERVICES = ("assessment", "training", "reporting")


def closed_port() -> int:
    """A local port nothing listens on."""
    return free_port()


@pytest.fixture
def sqlite_deployment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every service on its own SQLite file under a fresh directory (nothing created yet)."""
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.setenv("BW_VAR_DIR", str(tmp_path))
    for service in SERVICES:
        monkeypatch.setenv(
            f"{service.upper()}_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / service}.db"
        )
        monkeypatch.delenv(f"{service.upper()}_DB_SCHEMA", raising=False)
    return tmp_path


def point_bw_at(monkeypatch: pytest.MonkeyPatch, databases: dict[str, Database]) -> None:
    """`bw` configured onto the test databases, signing with the tests' secret, with no
    platform answering on its ports."""
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.delenv("BW_ENV", raising=False)
    for service, database in databases.items():
        prefix = service.upper()
        monkeypatch.setenv(f"{prefix}_DATABASE_URL", database.url)
        if database.schema:
            monkeypatch.setenv(f"{prefix}_DB_SCHEMA", database.schema)
        monkeypatch.setenv(f"{prefix}_PORT", str(closed_port()))
    for name in ("AUTH_JWT_SECRET", "AUTH_ISSUER", "AUTH_AUDIENCE"):
        monkeypatch.setenv(name, str(getattr(TEST_AUTH, name.removeprefix("AUTH_").lower())))
