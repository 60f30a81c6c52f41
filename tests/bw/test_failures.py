"""Every expected failure of a `bw` command is one clear line and a non-zero exit code; the
traceback only with --debug. PostgreSQL-only cases run when TEST_DATABASE_URL is set."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine
from typer.testing import CliRunner, Result

from bw.main import app
from tests.bw.conftest import SERVICES, closed_port
from tests.support import RUN_ID, TEST_DATABASE_URL

runner = CliRunner()
needs_postgres = pytest.mark.skipif(not TEST_DATABASE_URL, reason="needs TEST_DATABASE_URL")


def one_clear_line(result: Result) -> str:
    """The failure's message: exactly one line on stderr, no traceback, exit code 1."""
    assert result.exit_code == 1, result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.output
    return lines[0]


def use_database_url(monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    for service in SERVICES:
        monkeypatch.delenv(f"{service.upper()}_DATABASE_URL", raising=False)
        monkeypatch.delenv(f"{service.upper()}_DB_SCHEMA", raising=False)
    monkeypatch.setenv("DATABASE_URL", url)


async def _admin(statements: list[str]) -> None:
    assert TEST_DATABASE_URL
    engine = create_async_engine(TEST_DATABASE_URL, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as conn:
            for statement in statements:
                await conn.execute(text(statement))
    finally:
        await engine.dispose()


def admin(*statements: str) -> None:
    asyncio.run(_admin(list(statements)))


@pytest.fixture
def fresh_database_name() -> Iterator[str]:
    name = f"bw_cli_{RUN_ID}"
    admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    yield name
    admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_unreachable_database_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    port = closed_port()
    use_database_url(monkeypatch, f"postgresql+asyncpg://postgres@127.0.0.1:{port}/bw")
    line = one_clear_line(runner.invoke(app, ["migrate"]))
    assert f"127.0.0.1:{port}" in line and "is PostgreSQL running" in line


def test_unresolvable_host_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    use_database_url(monkeypatch, "postgresql+asyncpg://postgres@no-such-host.invalid/bw")
    line = one_clear_line(runner.invoke(app, ["migrate", "--check"]))
    assert "does not resolve" in line


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("postgres://postgres@127.0.0.1/bw", "driver 'postgres'"),
        ("not a url at all", "is not a database URL"),
        ("postgresql+asyncpg://postgres@127.0.0.1:5432", "names no database"),
    ],
)
def test_wrong_database_url_is_one_line(
    url: str, says: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_database_url(monkeypatch, url)
    line = one_clear_line(runner.invoke(app, ["migrate"]))
    assert says in line and "DATABASE_URL" in line


def test_database_not_created_yet_says_run_migrate(sqlite_deployment: Path) -> None:
    line = one_clear_line(runner.invoke(app, ["report", "annual", "2024", "-f", "json"]))
    assert "does not exist yet: run `bw migrate`" in line
    assert not (sqlite_deployment / "reporting.db").exists(), "an empty database was created"


def test_a_database_not_migrated_is_one_line(sqlite_deployment: Path) -> None:
    (sqlite_deployment / "assessment.db").touch()  # there, but empty
    line = one_clear_line(runner.invoke(app, ["seed", "demo"]))
    assert "assessment database" in line and "is not migrated" in line
    assert line.endswith("run `bw migrate`")


def test_a_service_not_answering_fails_in_one_line(tmp_path: Path) -> None:
    attendance = tmp_path / "attendance.csv"
    attendance.write_text(
        "full_name,sex,role,factory_id,attended,completed\n"
        "Dilnoza Karimova,female,worker,fac_1,yes,yes\n"
    )
    url = f"http://127.0.0.1:{closed_port()}"
    arguments = ["training", "import", str(attendance), "--session", "ses_1", "--url", url]
    result = runner.invoke(app, arguments)
    assert result.exit_code != 0
    assert f"could not reach {url}" in result.stderr and "Traceback" not in result.output


def test_up_on_a_database_behind_the_code_does_not_start(sqlite_deployment: Path) -> None:
    line = one_clear_line(runner.invoke(app, ["up"]))
    assert line.startswith("error: not starting: assessment: database not created yet")
    assert line.endswith("run `bw migrate` first")


def test_no_data_for_the_scope_writes_nothing(sqlite_deployment: Path) -> None:
    assert runner.invoke(app, ["migrate"]).exit_code == 0
    output = sqlite_deployment / "x.pdf"
    result = runner.invoke(app, ["report", "annual", "1999", "--country", "ZZ", "-o", str(output)])
    line = one_clear_line(result)
    assert "no data for ZZ in 1999" in line
    assert not output.exists()


def test_an_empty_report_is_written_when_asked(sqlite_deployment: Path) -> None:
    assert runner.invoke(app, ["migrate"]).exit_code == 0
    output = sqlite_deployment / "x.json"
    arguments = ["annual", "1999", "--country", "ZZ", "-f", "json", "--allow-empty"]
    result = runner.invoke(app, ["report", *arguments, "-o", str(output)])
    assert result.exit_code == 0, result.output
    assert '"assessments_in_period":0' in output.read_text().replace(" ", "")


def test_sync_with_a_source_not_answering_is_one_line_per_source(
    sqlite_deployment: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert runner.invoke(app, ["migrate"]).exit_code == 0
    monkeypatch.setenv("REPORTING_ASSESSMENT_URL", f"http://127.0.0.1:{closed_port()}")
    result = runner.invoke(app, ["sync", "--source", "assessment", "--retries", "0"])
    line = one_clear_line(result)
    assert line.startswith("assessment: unavailable") and "ConnectError" in line


def test_debug_shows_the_traceback(monkeypatch: pytest.MonkeyPatch) -> None:
    use_database_url(monkeypatch, f"postgresql+asyncpg://postgres@127.0.0.1:{closed_port()}/bw")
    result = runner.invoke(app, ["--debug", "migrate"])
    assert result.exit_code != 0
    raised: BaseException | None = result.exception  # raised, not turned into one line
    causes = []
    while raised is not None:
        causes.append(raised)
        raised = raised.__cause__ or raised.__context__
    assert any(isinstance(cause, OSError) for cause in causes), causes


def test_migrate_check_says_what_is_pending(sqlite_deployment: Path) -> None:
    before = runner.invoke(app, ["migrate", "--check"])
    assert before.exit_code == 1
    assert "assessment: database not created yet" in before.stderr
    assert not (sqlite_deployment / "assessment.db").exists(), "--check created a database"
    first = ["migrate", "assessment", "--revision", "f1d2b75fecef"]
    assert runner.invoke(app, first).exit_code == 0
    partly = runner.invoke(app, ["migrate", "--check", "assessment"])
    assert partly.exit_code == 1 and "at f1d2b75fecef, pending" in partly.stderr
    assert runner.invoke(app, ["migrate"]).exit_code == 0
    after = runner.invoke(app, ["migrate", "--check"])
    assert after.exit_code == 0, after.output
    assert after.stderr.count("at head") == 3


@needs_postgres
def test_migrate_creates_the_missing_database(
    monkeypatch: pytest.MonkeyPatch, fresh_database_name: str
) -> None:
    assert TEST_DATABASE_URL
    url = make_url(TEST_DATABASE_URL).set(database=fresh_database_name)
    use_database_url(monkeypatch, url.render_as_string(hide_password=False))
    result = runner.invoke(app, ["migrate"])
    assert result.exit_code == 0, result.output
    assert "created the assessment database" in result.stderr
    assert runner.invoke(app, ["migrate", "--check"]).exit_code == 0


@needs_postgres
def test_a_role_that_may_not_create_is_told_the_command(
    monkeypatch: pytest.MonkeyPatch, fresh_database_name: str
) -> None:
    assert TEST_DATABASE_URL
    role = f"bw_cli_nocreate_{RUN_ID}"
    admin(f'DROP ROLE IF EXISTS "{role}"', f'CREATE ROLE "{role}" LOGIN NOCREATEDB')
    try:
        url = make_url(TEST_DATABASE_URL).set(database=fresh_database_name, username=role)
        use_database_url(monkeypatch, url.render_as_string(hide_password=False))
        line = one_clear_line(runner.invoke(app, ["migrate"]))
        assert "may not create it" in line
        assert f"createdb -h {url.host}" in line and f"-O {role} {fresh_database_name}" in line
    finally:
        admin(f'DROP ROLE IF EXISTS "{role}"')


@needs_postgres
def test_refused_login_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    assert TEST_DATABASE_URL
    url = make_url(TEST_DATABASE_URL).set(username=f"nobody_{RUN_ID}", password="wrong")
    use_database_url(monkeypatch, url.render_as_string(hide_password=False))
    line = one_clear_line(runner.invoke(app, ["migrate", "--check"]))
    assert "refused the login" in line and "wrong" not in line, "the password is printed"
