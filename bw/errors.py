"""Expected failures of an operator's command, each turned into one clear line and exit code 1.

A database that is missing, unreachable or refusing the login, a service that does not answer,
a URL the platform cannot use, no data for the asked scope: the operator needs the one thing
to do, not a traceback. ``bw --debug ...`` (or ``BW_DEBUG=1``) shows the traceback anyway;
failures nobody expected say so and point there too.
"""

from __future__ import annotations

import errno
import os
import socket
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import typer
from rich.console import Console
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError
from typer.core import TyperGroup

console = Console(stderr=True, highlight=False, soft_wrap=True)

EXIT_FAILURE = 1
EXIT_INTERRUPTED = 130


class OperatorError(Exception):
    """A failure the operator can fix; the message says how, in one line."""


@contextmanager
def working_on(what: str, url: str) -> Iterator[None]:
    """Failures of the database (``what``, e.g. "assessment database") in the block name it."""
    try:
        yield
    except OperatorError:
        raise
    except Exception as exc:
        for cause in _causes(exc):
            line = _database_line(cause, what, url)
            if line is not None:
                raise OperatorError(line) from exc
        raise


def safe_url(url: str) -> str:
    """The URL with any password hidden, fit to print."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return url


def _causes(exc: BaseException) -> list[BaseException]:
    """The exception and everything behind it (SQLAlchemy's ``orig``, causes, contexts)."""
    seen: list[BaseException] = []
    pending: list[BaseException | None] = [exc]
    while pending:
        current = pending.pop(0)
        if current is None or any(current is s for s in seen):
            continue
        seen.append(current)
        pending += [getattr(current, "orig", None), current.__cause__, current.__context__]
    return seen


def _class_names(exc: BaseException) -> set[str]:
    return {cls.__name__ for cls in type(exc).__mro__}


def caused_by(exc: BaseException, class_name: str) -> bool:
    """Whether an exception of that class (e.g. asyncpg's) is behind ``exc``."""
    return any(class_name in _class_names(cause) for cause in _causes(exc))


def _database_line(exc: BaseException, what: str = "database", url: str = "") -> str | None:
    at = f" at {safe_url(url)}" if url else ""
    names = _class_names(exc)
    message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    if "InvalidCatalogNameError" in names:
        return f"the {what}{at} does not exist ({message}): run `bw migrate`, which creates it"
    if names & {"InvalidPasswordError", "InvalidAuthorizationSpecificationError"}:
        return f"the {what}{at} refused the login: {message}: check the user and password"
    if names & {"UndefinedTableError", "UndefinedColumnError"} or (
        isinstance(exc, sqlite3.OperationalError) and "no such" in message
    ):
        return f"the {what}{at} is not migrated ({message}): run `bw migrate`"
    if isinstance(exc, sqlite3.OperationalError) and "unable to open" in message:
        return f"cannot open the {what}{at}: its directory is missing or not writable"
    if isinstance(exc, sqlite3.OperationalError) and "locked" in message:
        return f"the {what}{at} stayed locked by another writer: try again"
    if isinstance(exc, sqlite3.OperationalError) and "readonly" in message:
        return f"the {what}{at} is read-only here: check the file's owner and permissions"
    if isinstance(exc, OSError) and exc.errno == errno.ENOSPC:
        return f"no space left on the disk of the {what}{at}: free some and try again"
    if isinstance(exc, socket.gaierror):
        return f"cannot reach the {what}{at}: the host name does not resolve ({message})"
    if isinstance(exc, ConnectionRefusedError) or (
        isinstance(exc, OSError) and exc.errno in {errno.ECONNREFUSED, errno.EHOSTUNREACH}
    ):
        return f"cannot reach the {what}{at}: nothing listens there; is PostgreSQL running?"
    if isinstance(exc, TimeoutError) and url:
        return f"cannot reach the {what}{at}: the connection timed out"
    if "CannotConnectNowError" in names or "TooManyConnectionsError" in names:
        return f"the {what}{at} does not accept connections now: {message}"
    return None


def explain(exc: BaseException) -> str | None:
    """One line for an expected failure; None when nobody expected it (a bug)."""
    for cause in _causes(exc):
        if isinstance(cause, OperatorError):
            return str(cause)
    for cause in _causes(exc):
        if isinstance(cause, httpx.UnsupportedProtocol | httpx.InvalidURL):
            return f"not a usable URL: {cause}: use http://host:port"
        if isinstance(cause, httpx.TransportError):
            url = cause.request.url if _has_request(cause) else "the service"
            return f"{url} does not answer ({type(cause).__name__}): is the platform running?"
        if isinstance(cause, NoSuchModuleError | ArgumentError):
            return f"not a database URL the platform can use: {cause}; {URL_FORMS}"
        line = _database_line(cause)
        if line is not None:
            return line
    for cause in _causes(exc):
        if isinstance(cause, PermissionError | FileNotFoundError | IsADirectoryError):
            return f"{cause.strerror}: {cause.filename}"
    return None


def _has_request(exc: httpx.TransportError) -> bool:
    try:
        exc.request  # noqa: B018  # raises when the error was not tied to a request
    except RuntimeError:
        return False
    return True


URL_FORMS = (
    "use postgresql+asyncpg://user[:password]@host[:port]/database "
    "or sqlite+aiosqlite:///path/to/file.db"
)


def _is_command_line_control(exc: Exception) -> bool:
    """Exit codes, usage errors and bad parameters: typer (and click) print those themselves."""
    return type(exc).__module__.split(".")[0] in {"typer", "click"}


def debugging(ctx: Any) -> bool:
    if os.environ.get("BW_DEBUG", "").lower() in {"1", "true", "yes"}:
        return True
    while ctx is not None:
        if ctx.params.get("debug"):
            return True
        ctx = ctx.parent
    return False


class OperatorGroup(TyperGroup):
    """The top ``bw`` group: every subcommand runs inside it, so its failures end up here."""

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt as exc:
            console.print("[yellow]interrupted[/]")
            raise typer.Exit(EXIT_INTERRUPTED) from exc
        except Exception as exc:
            if _is_command_line_control(exc) or debugging(ctx):
                raise
            line = explain(exc)
            if line is None:
                first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
                line = (
                    f"unexpected {type(exc).__name__}: {first} "
                    "(rerun with `bw --debug ...` for the traceback, and report it)"
                )
            console.print(f"[red]error:[/] {line}")
            raise typer.Exit(EXIT_FAILURE) from exc
