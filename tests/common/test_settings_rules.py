"""Settings rules one by one (issue 15): only an explicit ``BW_ENV=development`` allows the
built-in secret, and the refusal says what to set; a secret file wins over the variable; a
service's database is its own URL, else the platform's, else its own SQLite file under the var
directory; its schema is its own name unless set, and SQLite has none.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic_settings import SettingsConfigDict

from services.common.settings import (
    DEV_JWT_SECRET,
    AuthSettings,
    InsecureSettings,
    ServiceSettings,
    development_mode,
    require_real_secrets,
)

OWN_SECRET = "a-secret-of-our-own-that-is-long-enough-0123456789"
POSTGRES = "postgresql+asyncpg://bw@db.example.org/bw"


class NotesSettings(ServiceSettings):
    """A service's settings as each service declares them: with its own env prefix, so that
    the platform-wide ``DATABASE_URL`` is not its own ``database_url``."""

    model_config = SettingsConfigDict(env_prefix="NOTES_", extra="ignore")

    service_name: str = "notes"


@pytest.fixture(autouse=True)
def bare_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No development flag, no secrets, no database URL, unless a test sets them."""
    for name in ("BW_ENV", "AUTH_JWT_SECRET", "AUTH_JWT_SECRET_FILE", "DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    for name in ("NOTES_DATABASE_URL", "NOTES_DB_SCHEMA"):
        monkeypatch.delenv(name, raising=False)


@pytest.mark.parametrize(
    ("value", "development"),
    [
        (None, False),
        ("", False),
        ("production", False),
        ("development", True),
        (" Development\n", True),
        ("DEVELOPMENT", True),
        ("develop", False),
    ],
)
def test_only_an_explicit_development_flag_is_development(
    monkeypatch: pytest.MonkeyPatch, value: str | None, development: bool
) -> None:
    if value is not None:
        monkeypatch.setenv("BW_ENV", value)
    assert development_mode() is development


def test_the_built_in_secret_is_refused_outside_development_naming_what_to_set() -> None:
    with pytest.raises(InsecureSettings) as refused:
        require_real_secrets(AuthSettings())
    assert str(refused.value) == (
        "AUTH_JWT_SECRET is the built-in development secret: set AUTH_JWT_SECRET (or "
        "AUTH_JWT_SECRET_FILE) to a secret of your own, or BW_ENV=development on a "
        "development machine"
    )


def test_the_built_in_secret_is_allowed_in_development(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BW_ENV", "development")
    require_real_secrets(AuthSettings())


def test_a_secret_of_ones_own_is_allowed_anywhere() -> None:
    require_real_secrets(AuthSettings(jwt_secret=OWN_SECRET))


def test_a_secret_file_wins_over_the_variable_and_loses_its_newline(tmp_path: Path) -> None:
    secret_file = tmp_path / "jwt-secret"
    secret_file.write_text(OWN_SECRET + "\n")
    auth = AuthSettings(jwt_secret_file=secret_file)
    assert auth.jwt_secret == DEV_JWT_SECRET
    assert auth.secret() == OWN_SECRET
    require_real_secrets(auth)


def test_without_a_file_the_secret_is_the_variable() -> None:
    assert AuthSettings(jwt_secret=OWN_SECRET).secret() == OWN_SECRET


def test_a_services_own_database_url_comes_first(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql+asyncpg://bw@elsewhere/bw")
    monkeypatch.setenv("NOTES_DATABASE_URL", POSTGRES)
    assert NotesSettings(var_dir=tmp_path).resolved_database_url() == POSTGRES


def test_then_the_platforms_database_url(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("DATABASE_URL", POSTGRES)
    settings = NotesSettings(var_dir=tmp_path / "var")
    assert settings.database_url is None
    assert settings.resolved_database_url() == POSTGRES
    assert not (tmp_path / "var").exists(), "no SQLite directory for a PostgreSQL service"


def test_else_a_sqlite_file_of_the_service_under_a_var_dir_it_creates(tmp_path: Path) -> None:
    var_dir = tmp_path / "deploy" / "var"
    settings = NotesSettings(var_dir=var_dir)
    expected = f"sqlite+aiosqlite:///{var_dir / 'notes.db'}"
    assert settings.resolved_database_url() == expected
    assert var_dir.is_dir()
    assert settings.resolved_database_url() == expected, "the directory may already exist"


def test_sqlite_has_no_schema(tmp_path: Path) -> None:
    settings = NotesSettings(db_schema="custom", var_dir=tmp_path)
    assert settings.resolved_schema() is None


@pytest.mark.parametrize(("db_schema", "schema"), [(None, "notes"), ("custom", "custom")])
def test_on_postgresql_the_schema_is_the_services_name_unless_set(
    tmp_path: Path, db_schema: str | None, schema: str
) -> None:
    settings = NotesSettings(database_url=POSTGRES, db_schema=db_schema, var_dir=tmp_path)
    assert settings.resolved_schema() == schema
