"""`bw backup` and `bw restore` refuse, in one line and before touching anything, what would
lose data: a directory already in use, a running platform, a backup from a newer version or
for another back end."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bw.main import app
from tests.bw.test_failures import one_clear_line

runner = CliRunner()


@pytest.fixture
def backed_up(sqlite_deployment: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A migrated SQLite deployment and a backup of it, with no platform on its ports."""
    for name in ("ASSESSMENT", "TRAINING", "REPORTING"):
        monkeypatch.setenv(f"{name}_PORT", "9")  # discard: nothing answers HTTP there
    assert runner.invoke(app, ["migrate"]).exit_code == 0
    result = runner.invoke(app, ["backup", str(sqlite_deployment / "backup")])
    assert result.exit_code == 0, result.output
    return sqlite_deployment / "backup"


@pytest.fixture
def answering_port() -> Iterator[int]:
    """A port where something answers HTTP, like a running service."""

    class Alive(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b'{"status": "ok"}')

        def log_message(self, *_args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Alive)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def test_a_backup_holds_every_service_and_its_manifest(backed_up: Path) -> None:
    manifest = json.loads((backed_up / "manifest.json").read_text())
    assert manifest["backend"] == "sqlite"
    assert set(manifest["services"]) == {"assessment", "training", "reporting"}
    for name, entry in manifest["services"].items():
        assert (backed_up / entry["file"]).stat().st_size == entry["bytes"], name
        assert entry["positions"]["revision"], name


def test_backup_refuses_a_directory_in_use(backed_up: Path) -> None:
    line = one_clear_line(runner.invoke(app, ["backup", str(backed_up)]))
    assert "is not empty" in line


def test_backup_of_a_deployment_never_migrated_is_refused(sqlite_deployment: Path) -> None:
    line = one_clear_line(runner.invoke(app, ["backup", str(sqlite_deployment / "b")]))
    assert "run `bw migrate`" in line or "holds nothing yet" in line
    assert not (sqlite_deployment / "b").exists()


def test_restore_refuses_while_a_service_answers(
    backed_up: Path, answering_port: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TRAINING_PORT", str(answering_port))
    line = one_clear_line(runner.invoke(app, ["restore", str(backed_up), "--no-safety-copy"]))
    assert "training service answers" in line and "stop the platform" in line


def test_restore_refuses_a_backup_from_a_newer_version(backed_up: Path) -> None:
    manifest = json.loads((backed_up / "manifest.json").read_text())
    manifest["services"]["assessment"]["positions"]["revision"] = "ffffffffffff"
    (backed_up / "manifest.json").write_text(json.dumps(manifest))
    line = one_clear_line(runner.invoke(app, ["restore", str(backed_up), "assessment"]))
    assert "ffffffffffff" in line and "newer version" in line


def test_restore_refuses_another_back_end(backed_up: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("ASSESSMENT", "TRAINING", "REPORTING"):
        monkeypatch.delenv(f"{name}_DATABASE_URL")
    monkeypatch.setenv("DATABASE_URL", "postgresql+asyncpg://postgres@127.0.0.1:9/bw")
    line = one_clear_line(runner.invoke(app, ["restore", str(backed_up)]))
    assert "backup is of sqlite" in line and "postgresql" in line


def test_restore_keeps_a_copy_of_what_it_replaces(backed_up: Path) -> None:
    result = runner.invoke(app, ["restore", str(backed_up)])
    assert result.exit_code == 0, result.output
    [kept] = (backed_up.parent / "backups").iterdir()
    assert kept.name.startswith("before-restore-") and (kept / "manifest.json").is_file()
    assert f"kept a copy of the replaced databases in {kept}" in result.stderr
