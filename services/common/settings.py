"""Settings base shared by every app.

Each service subclasses `ServiceSettings` with its own env prefix (``ASSESSMENT_``, ...). A
service's database comes from ``<PREFIX>DATABASE_URL``, else from the platform-wide
``DATABASE_URL`` (one PostgreSQL database, one schema per service), else from one SQLite file
per service under ``var/``.

Built-in secrets exist so that ``make run`` works out of the box; an app refuses to start with
one unless ``BW_ENV=development`` says this is a developer's machine.
"""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

DEV_JWT_SECRET = "dev-only-secret-change-me-in-production-0123456789"
ENVIRONMENT_VARIABLE = "BW_ENV"
DEVELOPMENT = "development"


class InsecureSettings(RuntimeError):
    """A built-in development secret outside development: the app must not start."""


def development_mode() -> bool:
    """Only an explicit ``BW_ENV=development`` (``make run`` sets it) allows built-in secrets."""
    return os.environ.get(ENVIRONMENT_VARIABLE, "").strip().lower() == DEVELOPMENT


class AuthSettings(BaseSettings):
    """Token verification, read from ``AUTH_*``; the same for the gateway and every service."""

    model_config = SettingsConfigDict(env_prefix="AUTH_", extra="ignore")

    jwt_secret: str = DEV_JWT_SECRET
    jwt_secret_file: Path | None = None
    jwt_public_key_file: Path | None = None
    jwks_url: str | None = None
    algorithms: list[str] = Field(default_factory=lambda: ["HS256"])
    issuer: str = "bw-dev"
    audience: str = "bw-platform"
    leeway_seconds: int = 30

    def secret(self) -> str:
        if self.jwt_secret_file is not None:
            return self.jwt_secret_file.read_text().strip()
        return self.jwt_secret


def require_real_secrets(auth: AuthSettings) -> None:
    """Refuse to run with a built-in secret outside development: anyone who has read this
    repository could mint admin tokens for such a deployment."""
    if development_mode():
        return
    if auth.secret() == DEV_JWT_SECRET:
        raise InsecureSettings(
            "AUTH_JWT_SECRET is the built-in development secret: set AUTH_JWT_SECRET (or "
            f"AUTH_JWT_SECRET_FILE) to a secret of your own, or {ENVIRONMENT_VARIABLE}="
            f"{DEVELOPMENT} on a development machine"
        )


class ServiceSettings(BaseSettings):
    """What every service needs; subclasses set ``service_name`` and their env prefix."""

    model_config = SettingsConfigDict(extra="ignore")

    service_name: str = "service"
    host: str = "127.0.0.1"
    port: int = 8001
    database_url: str | None = None
    db_schema: str | None = None
    var_dir: Path = Path(os.environ.get("BW_VAR_DIR", "var"))
    log_level: str = "INFO"
    sql_echo: bool = False
    http_timeout_seconds: float = 5.0
    max_body_bytes: int = 5 * 1024 * 1024
    max_page_size: int = 500
    idempotency_ttl_seconds: int = 24 * 3600
    idempotency_purge_interval_seconds: float = 3600.0  # expired records deleted hourly
    default_page_size: int = 50
    peer_urls: dict[str, str] = Field(default_factory=dict)
    # FastAPI's native OpenTelemetry spans and metrics for the service's requests, exported to
    # whatever providers the process installs; off, it costs nothing per request.
    telemetry: bool = False

    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        shared = os.environ.get("DATABASE_URL")
        if shared:
            return shared
        self.var_dir.mkdir(parents=True, exist_ok=True)
        return f"sqlite+aiosqlite:///{self.var_dir / (self.service_name + '.db')}"

    def resolved_schema(self) -> str | None:
        """PostgreSQL schema of this service; SQLite files need none."""
        if self.resolved_database_url().startswith("sqlite"):
            return None
        return self.db_schema or self.service_name
