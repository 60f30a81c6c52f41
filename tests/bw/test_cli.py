"""The `bw` command line: tokens it mints verify, durations parse, migrate is idempotent."""

import jwt
import pytest
import typer
from typer.testing import CliRunner

from bw.main import app, parse_duration
from services.common.auth import verify_token
from services.common.settings import AuthSettings

runner = CliRunner()


def test_token_mints_a_verifiable_brand_token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUTH_JWT_SECRET", "cli-secret-cli-secret-cli-secret-0123456789")
    result = runner.invoke(app, ["token", "--role", "brand", "--brand-id", "brd_9", "--ttl", "2h"])
    assert result.exit_code == 0, result.output
    principal = verify_token(result.output.strip(), AuthSettings())
    assert (principal.role, principal.brand_id) == ("brand", "brd_9")
    claims = jwt.decode(result.output.strip(), options={"verify_signature": False})
    assert claims["exp"] - claims["iat"] == 7200


@pytest.mark.parametrize(
    ("text", "seconds"), [("30m", 1800), ("1h", 3600), ("7d", 604800), ("90", 90)]
)
def test_durations(text: str, seconds: int) -> None:
    assert parse_duration(text) == seconds


def test_bad_duration_is_refused() -> None:
    with pytest.raises(typer.BadParameter):
        parse_duration("soon")


def test_migrate_twice_changes_nothing_the_second_time(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    for service in ("ASSESSMENT", "TRAINING", "REPORTING"):
        monkeypatch.setenv(
            f"{service}_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / service.lower()}.db"
        )
    first = runner.invoke(app, ["migrate"])
    second = runner.invoke(app, ["migrate"])
    assert first.exit_code == 0 and second.exit_code == 0, first.output + second.output
    assert (tmp_path / "assessment.db").exists() and (tmp_path / "reporting.db").exists()
    assert second.output.count("migrated") == 3
