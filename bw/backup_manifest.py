"""The manifest of a backup: what was saved, by which version, at which migration revisions and
feed positions, with a checksum per file so a damaged copy is refused before it replaces
anything."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from bw.errors import OperatorError

MANIFEST = "manifest.json"
FORMAT = 1


@dataclass(frozen=True)
class FeedPosition:
    last_event_id: int
    last_event_at: str | None


@dataclass(frozen=True)
class ServicePositions:
    """A database's migration revision, the end of its own outbox, and (reporting) its cursors."""

    revision: str | None
    feed_end: FeedPosition
    cursors: dict[str, FeedPosition] = field(default_factory=dict)


@dataclass(frozen=True)
class ServiceEntry:
    file: str
    sha256: str
    bytes: int
    schema: str | None
    positions: ServicePositions


@dataclass(frozen=True)
class Manifest:
    backend: str
    services: dict[str, ServiceEntry]
    created_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat())
    platform_version: str = field(default_factory=lambda: platform_version())
    format: int = FORMAT

    def write(self, directory: Path) -> None:
        text = json.dumps(asdict(self), indent=2, ensure_ascii=False) + "\n"
        (directory / MANIFEST).write_text(text, encoding="utf-8")

    @classmethod
    def read(cls, directory: Path) -> Manifest:
        path = directory / MANIFEST
        if not path.is_file():
            raise OperatorError(f"{directory} holds no backup: {MANIFEST} is missing")
        try:
            raw: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
            if raw.get("format") != FORMAT:
                raise OperatorError(
                    f"{path} is backup format {raw.get('format')}; this version reads {FORMAT}"
                )
            services = {
                name: ServiceEntry(
                    file=entry["file"],
                    sha256=entry["sha256"],
                    bytes=entry["bytes"],
                    schema=entry["schema"],
                    positions=_positions(entry["positions"]),
                )
                for name, entry in raw["services"].items()
            }
            return cls(
                backend=raw["backend"],
                services=services,
                created_at=raw["created_at"],
                platform_version=raw["platform_version"],
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise OperatorError(f"{path} is not a readable backup manifest ({exc})") from exc

    def check_files(self, directory: Path) -> None:
        """Every file present and unchanged since the backup, before anything is replaced."""
        for name, entry in self.services.items():
            path = directory / entry.file
            if not path.is_file():
                raise OperatorError(f"the backup lacks {path} ({name})")
            if sha256(path) != entry.sha256:
                raise OperatorError(f"{path} ({name}) does not match its checksum: damaged copy")


def _positions(raw: dict[str, Any]) -> ServicePositions:
    return ServicePositions(
        revision=raw["revision"],
        feed_end=FeedPosition(**raw["feed_end"]),
        cursors={source: FeedPosition(**c) for source, c in raw.get("cursors", {}).items()},
    )


def platform_version() -> str:
    try:
        return metadata.version("betterwork-platform")
    except metadata.PackageNotFoundError:
        return "unknown"


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
