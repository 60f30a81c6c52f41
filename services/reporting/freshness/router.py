from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.app import get_read_session
from services.common.auth import PUBLIC, Principal
from services.reporting.freshness import service
from services.reporting.freshness.schemas import Freshness

router = APIRouter(prefix="/v1/reports", tags=["reports"])


@router.get("/freshness", response_model=Freshness, summary="How current the report data is")
async def freshness(
    event: str | None = Query(
        None,
        pattern=service.EVENT_PATTERN,
        description="A write's `Feed-Event` answer header (e.g. `assessment:1234`): the answer "
        "then says whether the reports include that write. Poll until `event.applied`.",
    ),
    session: AsyncSession = Depends(get_read_session),
    _caller: Principal = Depends(PUBLIC),
) -> Freshness:
    return await service.freshness(session, event)


async def feeds_readiness(request: Request) -> dict[str, Any]:
    """For /health/ready: reports stay servable while a source is down, so this only informs."""
    async for session in request.app.state.db.read_session():
        result = await service.freshness(session)
        return {
            "status": "ok" if all(f.status == "ok" for f in result.feeds) else "degraded",
            "feeds": {f.source: f.model_dump(mode="json") for f in result.feeds},
        }
    return {"status": "unknown"}
