"""`bw doctor`: one table of what a deployment needs, each row ok or the thing to do.

Every check runs whatever the others found (a database that is down does not hide that the
secret is the development one), and none of them changes anything.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import urlsplit

import httpx
import typer
from rich.console import Console
from rich.table import Table

from bw.databases import all_databases, service_database
from bw.errors import OperatorError, explain
from bw.migrations import migration_state
from gateway.settings import GatewaySettings
from services.common.settings import (
    DEV_JWT_SECRET,
    ENVIRONMENT_VARIABLE,
    AuthSettings,
    development_mode,
)

MIN_SECRET_BYTES = 32
# Letters the reports print: Uzbek Latin (ʻ), Uzbek Cyrillic (Ў, Ғ), Russian.
REPORT_CHARACTERS = "Oʻzbekiston Ўзбекистон Ғалла Россия"


@dataclass(frozen=True)
class Finding:
    check: str
    ok: bool
    detail: str
    warning: bool = False

    @property
    def status(self) -> str:
        if not self.ok:
            return "[red]fix[/]"
        return "[yellow]note[/]" if self.warning else "[green]ok[/]"


def _failure(check: str, exc: BaseException) -> Finding:
    line = explain(exc) or f"{type(exc).__name__}: {exc}"
    return Finding(check, False, line)


def check_databases() -> list[Finding]:
    findings = []
    for database in all_databases():
        check = f"{database.service} database"
        try:
            state = migration_state(database)
        except Exception as exc:
            findings.append(_failure(check, exc))
            continue
        if not state.exists:
            findings.append(Finding(check, False, f"not created ({database.where}): bw migrate"))
        elif state.pending:
            findings.append(
                Finding(check, False, f"{len(state.pending)} migrations pending: bw migrate")
            )
        else:
            findings.append(Finding(check, True, f"at head {state.head} ({database.where})"))
    return findings


def check_secrets() -> list[Finding]:
    auth = AuthSettings()
    try:
        secret = auth.secret()
    except OSError as exc:
        return [Finding("token secret", False, f"AUTH_JWT_SECRET_FILE unreadable: {exc}")]
    findings = []
    if secret == DEV_JWT_SECRET:
        if development_mode():
            findings.append(
                Finding(
                    "token secret",
                    True,
                    f"the built-in development secret ({ENVIRONMENT_VARIABLE}=development); "
                    "never outside development",
                    warning=True,
                )
            )
        else:
            findings.append(
                Finding(
                    "token secret",
                    False,
                    "the built-in development secret, which anyone can read: set "
                    "AUTH_JWT_SECRET or AUTH_JWT_SECRET_FILE (e.g. `openssl rand -hex 32`)",
                )
            )
    elif len(secret.encode()) < MIN_SECRET_BYTES:
        findings.append(
            Finding("token secret", False, f"shorter than {MIN_SECRET_BYTES} bytes: set a longer")
        )
    else:
        findings.append(Finding("token secret", True, "set, not the development default"))
    asymmetric = {a for a in auth.algorithms if a.startswith(("RS", "ES", "PS"))}
    if asymmetric and not (auth.jwks_url or auth.jwt_public_key_file):
        findings.append(
            Finding(
                "identity provider",
                False,
                f"{', '.join(sorted(asymmetric))} accepted but no keys: set AUTH_JWKS_URL "
                "or AUTH_JWT_PUBLIC_KEY_FILE",
            )
        )
    return findings


def check_pdf() -> list[Finding]:
    """WeasyPrint and its system libraries render, and a font covers the reports' letters."""
    findings = []
    try:
        from weasyprint import HTML

        pdf = HTML(string=f"<p style='font-family: DejaVu Sans'>{REPORT_CHARACTERS}</p>")
        findings.append(Finding("PDF rendering", bool(pdf.write_pdf()), "WeasyPrint renders"))
    except Exception as exc:  # missing Pango or HarfBuzz surfaces as OSError or ImportError
        findings.append(
            Finding(
                "PDF rendering",
                False,
                f"WeasyPrint cannot render ({type(exc).__name__}: {exc}); install Pango and "
                "HarfBuzz (apt install libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0)",
            )
        )
    fc_list = shutil.which("fc-list")
    if fc_list is None:
        findings.append(Finding("PDF fonts", False, "fontconfig missing: apt install fontconfig"))
        return findings
    codes = " ".join(f"{ord(c):x}" for c in sorted(set(REPORT_CHARACTERS) - {" "}))
    listed = subprocess.run(
        [fc_list, f":charset={codes}", "family"], capture_output=True, text=True, check=False
    ).stdout
    if "DejaVu Sans" in listed:
        findings.append(Finding("PDF fonts", True, "DejaVu Sans covers Uzbek and Russian"))
    else:
        findings.append(
            Finding(
                "PDF fonts",
                False,
                "no DejaVu Sans with Uzbek and Cyrillic letters: apt install fonts-dejavu-core",
            )
        )
    return findings


async def check_http(client: httpx.AsyncClient, name: str, base: str, replica: str = "") -> Finding:
    """``replica`` ("2/3") names one of a service's replicas in the row."""
    check = f"{name} service" if name != "gateway" else "gateway"
    if replica:
        check += f" {replica}"
    url = base.rstrip("/") + "/health/ready"
    try:
        response = await client.get(url)
    except httpx.HTTPError as exc:
        return _failure(check, exc)
    if response.status_code == 200:
        return Finding(check, True, f"ready at {base}")
    try:
        checks: dict[str, Any] = response.json().get("checks", {})
    except ValueError:
        checks = {}
    failing = [f"{k}: {v.get('status')}" for k, v in checks.items() if v.get("status") != "ok"]
    detail = ", ".join(failing) or f"HTTP {response.status_code}"
    return Finding(check, False, f"not ready at {base} ({detail})")


async def check_feed_lag(max_lag_seconds: float) -> list[Finding]:
    from services.reporting.freshness.service import freshness

    target = service_database("reporting")
    database = target.open()
    try:
        with target.working():
            async with database.sessionmaker() as session:
                result = await freshness(session)
    finally:
        await database.dispose()
    findings = []
    for feed in result.feeds:
        check = f"reporting feed: {feed.source}"
        if feed.status == "never_synced" or feed.lag_seconds is None:
            findings.append(Finding(check, False, "never synced: start the platform or bw sync"))
        elif feed.status == "source_unavailable":
            findings.append(
                Finding(check, False, f"source unavailable: {feed.last_error or 'no answer'}")
            )
        elif feed.lag_seconds > max_lag_seconds:
            findings.append(
                Finding(
                    check,
                    False,
                    f"{feed.lag_seconds:,.0f} s behind (over {max_lag_seconds:g} s): is reporting "
                    "running, with its sync enabled?",
                )
            )
        else:
            findings.append(Finding(check, True, f"{feed.lag_seconds:,.1f} s behind"))
    return findings


class RedisRefused(Exception):
    """Redis answered with an error (e.g. NOAUTH)."""


async def check_redis(url: str | None) -> Finding:
    """A PING over Redis's own protocol: no client library needed to know it answers."""
    if not url:
        return Finding("redis", True, "not configured (REDIS_URL): limits kept per process")
    parts = urlsplit(url)
    if parts.scheme not in {"redis", "rediss"} or not parts.hostname:
        return Finding("redis", False, f"REDIS_URL is not redis://host:port ({url!r})")
    try:
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(
                parts.hostname, parts.port or 6379, ssl=parts.scheme == "rediss"
            ),
            timeout=3,
        )
        try:
            if parts.password:
                user = [parts.username] if parts.username else []
                await _redis(reader, writer, "AUTH", *user, parts.password)
            answer = await _redis(reader, writer, "PING")
        finally:
            writer.close()
    except RedisRefused as exc:
        return Finding("redis", False, f"refused: {exc} (the password goes in REDIS_URL)")
    except (OSError, TimeoutError) as exc:
        return Finding("redis", False, f"{parts.hostname}:{parts.port or 6379} unreachable: {exc}")
    if answer != "+PONG":
        return Finding("redis", False, f"answered {answer!r} to PING")
    return Finding("redis", True, f"answers at {parts.hostname}:{parts.port or 6379}")


async def _redis(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *words: str) -> str:
    command = f"*{len(words)}\r\n" + "".join(f"${len(w.encode())}\r\n{w}\r\n" for w in words)
    writer.write(command.encode())
    await writer.drain()
    line = (await asyncio.wait_for(reader.readline(), timeout=3)).decode().strip()
    if line.startswith("-"):
        raise RedisRefused(line[1:])
    return line


def _guarded(check: Callable[[], list[Finding]]) -> list[Finding]:
    try:
        return check()
    except OperatorError as exc:
        return [Finding(check.__name__.removeprefix("check_"), False, str(exc))]


async def gather_findings(
    max_lag: float, mounts: dict[str, httpx.AsyncBaseTransport] | None = None
) -> list[Finding]:
    """Every check; ``mounts`` serves URLs in-process (tests)."""
    findings: list[Finding] = []
    for local in (check_databases, check_secrets, check_pdf):
        # In a thread: they run their own event loops (migrations) or block (rendering).
        findings += await asyncio.to_thread(_guarded, local)
    gateway = GatewaySettings()
    host = "127.0.0.1" if gateway.host in {"0.0.0.0", "::"} else gateway.host
    async with httpx.AsyncClient(
        timeout=httpx.Timeout(5.0, connect=2.0), mounts=dict(mounts or {})
    ) as client:
        # Each replica on its own row: GATEWAY_*_URL may list several, and one down among
        # them is worth knowing even while the gateway routes around it.
        checks: list[Awaitable[Finding]] = [
            check_http(client, name, url, f"{n}/{len(urls)}" if len(urls) > 1 else "")
            for name, urls in gateway.replica_urls().items()
            for n, url in enumerate(urls, start=1)
        ]
        checks.append(check_http(client, "gateway", f"http://{host}:{gateway.port}"))
        checks.append(check_redis(os.environ.get("REDIS_URL")))
        findings += await asyncio.gather(*checks)
    try:
        findings += await check_feed_lag(max_lag)
    except Exception as exc:
        findings.append(_failure("reporting feeds", exc))
    return findings


def doctor(
    max_lag: Annotated[
        float, typer.Option(help="Seconds reporting may trail a feed before it is a problem.")
    ] = 300.0,
) -> None:
    """Check what a deployment needs (databases, secrets, PDF, services, feeds, Redis);
    exit 1 when anything needs fixing."""
    findings = asyncio.run(gather_findings(max_lag))
    table = Table(title=f"bw doctor, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC")
    table.add_column("check")
    table.add_column("status")
    table.add_column("detail, or what to do", overflow="fold")
    for finding in findings:
        table.add_row(finding.check, finding.status, finding.detail)
    Console(width=max(Console().width, 120)).print(table)
    if not all(finding.ok for finding in findings):
        raise typer.Exit(1)
