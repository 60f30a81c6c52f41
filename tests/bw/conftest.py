"""CLI fixtures: a deployment's environment pointed at private databases, and closed ports."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

SERVICES = ("assessment", "training", "reporting")


def closed_port() -> int:
    """A local port nothing listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


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
