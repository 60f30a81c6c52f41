from datetime import datetime

from fastapi import APIRouter, Depends
from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.app import get_read_session
from services.common.auth import PUBLIC, Principal
from services.reporting.models import FeedCursor

router = APIRouter(prefix="/v1/reports", tags=["reports"])


class FeedFreshness(BaseModel):
    source: str
    last_event_id: int
    data_as_of: datetime | None


class Freshness(BaseModel):
    feeds: list[FeedFreshness]


@router.get("/freshness", response_model=Freshness, summary="How current the report data is")
async def freshness(
    session: AsyncSession = Depends(get_read_session),
    _caller: Principal = Depends(PUBLIC),
) -> Freshness:
    rows = (await session.execute(select(FeedCursor).order_by(FeedCursor.source))).scalars()
    return Freshness(
        feeds=[
            FeedFreshness(
                source=r.source, last_event_id=r.last_event_id, data_as_of=r.last_event_at
            )
            for r in rows
        ]
    )
