"""A tiny service built only from the kernel, to test kernel behaviour without domain code."""

from __future__ import annotations

from fastapi import APIRouter, Depends, FastAPI, Request, Response
from pydantic import BaseModel, ConfigDict
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

from services.common.app import create_service_app, get_session
from services.common.auth import Access, Principal, Role
from services.common.db import Database
from services.common.etag import Versioned, commit_update, etag_for, require_if_match
from services.common.idempotency import IdempotencyFields
from services.common.ids import new_id
from services.common.outbox import OutboxFields, append_event
from services.common.problems import not_found
from services.common.settings import ServiceSettings
from tests.support import TEST_AUTH


class NotesTable(SQLModel, registry=registry()):
    pass


class Note(NotesTable, Versioned, table=True):
    __tablename__ = "note"

    id: str = Field(primary_key=True)
    text: str


class NoteOutbox(NotesTable, OutboxFields, table=True):
    __tablename__ = "outbox"


class NoteIdempotency(NotesTable, IdempotencyFields, table=True):
    __tablename__ = "idempotency_record"


async def append_note_event(session: AsyncSession, aggregate_id: str) -> None:
    """A ``note.created`` event for ``aggregate_id`` in the session's transaction."""
    await append_event(
        session,
        NoteOutbox,
        event_type="note.created",
        aggregate_type="note",
        aggregate_id=aggregate_id,
        payload={"id": aggregate_id},
    )


async def current_txid(session: AsyncSession) -> int:
    """The session's PostgreSQL transaction id (assigned now if it has none yet)."""
    return int((await session.execute(text("SELECT pg_current_xact_id()::text"))).scalar_one())


class NoteIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: str


router = APIRouter(prefix="/v1/notes")
writer = Access(Role.ADMIN, Role.STAFF)


@router.post("", status_code=201)
async def create_note(
    body: NoteIn,
    response: Response,
    session: AsyncSession = Depends(get_session),
    _: Principal = Depends(writer),
) -> dict[str, object]:
    note = Note(id=new_id("note"), text=body.text)
    session.add(note)
    await session.flush()
    await append_event(
        session,
        NoteOutbox,
        event_type="note.created",
        aggregate_type="note",
        aggregate_id=note.id,
        payload={"id": note.id, "text": note.text},
    )
    await session.commit()
    response.headers["ETag"] = etag_for(note.id, note.version)
    return {"id": note.id, "text": note.text, "version": note.version}


@router.get("")
async def count_notes(
    session: AsyncSession = Depends(get_session), _: Principal = Depends(writer)
) -> dict[str, int]:
    from sqlalchemy import func, select

    return {"count": (await session.execute(select(func.count()).select_from(Note))).scalar_one()}


@router.patch("/{note_id}")
async def update_note(
    note_id: str,
    body: NoteIn,
    request: Request,
    response: Response,
    session: AsyncSession = Depends(get_session),
    _: Principal = Depends(writer),
) -> dict[str, object]:
    note = await session.get(Note, note_id)
    if note is None:
        raise not_found("Note", note_id)
    require_if_match(request, etag_for(note.id, note.version))
    await commit_update(
        session,
        note,
        {"text": body.text},
        lambda: append_event(
            session,
            NoteOutbox,
            event_type="note.updated",
            aggregate_type="note",
            aggregate_id=note.id,
            payload={"id": note.id, "text": body.text},
        ),
    )
    response.headers["ETag"] = etag_for(note.id, note.version)
    return {"id": note.id, "text": note.text, "version": note.version}


def create_notes_app(database: Database) -> FastAPI:
    return create_service_app(
        title="notes",
        description="kernel test app",
        settings=ServiceSettings(service_name="notes"),
        routers=[router],
        database=database,
        auth_settings=TEST_AUTH,
        idempotency_model=NoteIdempotency,
    )
