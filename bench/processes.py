"""Migrated platforms for benchmarks, in a temporary var/ (SQLite) or schema (PostgreSQL)."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import text

from bw.runner import Platform
from services.common.db import make_engine

SERVICES = ("assessment", "training", "reporting")
BENCH_SECRET = "bench-secret-bench-secret-bench-secret-0123"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def bench_env(var_dir: Path, database_url: str | None) -> dict[str, str]:
    env = {**os.environ, "BW_VAR_DIR": str(var_dir), "AUTH_JWT_SECRET": BENCH_SECRET}
    env.pop("DATABASE_URL", None)
    if database_url:
        tag = uuid.uuid4().hex[:6]
        env["DATABASE_URL"] = database_url
        for service in SERVICES:
            env[f"{service.upper()}_DB_SCHEMA"] = f"bench_{tag}_{service}"
    return env


@contextmanager
def running_platform(
    database_url: str | None = None,
    extra_env: dict[str, str] | None = None,
    seed_demo: bool = False,
) -> Iterator[Platform]:
    with tempfile.TemporaryDirectory(prefix="bw-bench-") as scratch:
        env = {**bench_env(Path(scratch) / "var", database_url), **(extra_env or {})}
        commands = [["migrate"], *([["seed", "demo"]] if seed_demo else [])]
        for command in commands:
            subprocess.run(
                [sys.executable, "-m", "bw.main", *command],
                env=env,
                check=True,
                capture_output=True,
            )
        ports = {name: free_port() for name in (*SERVICES, "gateway")}
        platform = Platform(host="127.0.0.1", ports=ports, env=env)
        platform.start()
        try:
            platform.wait_ready(timeout=60)
            yield platform
        finally:
            platform.stop()
            if database_url:
                schemas = [env[f"{service.upper()}_DB_SCHEMA"] for service in SERVICES]
                asyncio.run(_drop_schemas(database_url, schemas))


async def _drop_schemas(url: str, schemas: list[str]) -> None:
    engine = make_engine(url)
    async with engine.begin() as conn:
        for schema in schemas:
            await conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    await engine.dispose()
