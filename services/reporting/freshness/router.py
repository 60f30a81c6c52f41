"""How current the reports are, and whether they include a given write."""

from fastapi import APIRouter, Query

from services.common.deps import ReadSessionDep
from services.reporting.access import Anyone
from services.reporting.freshness import service
from services.reporting.freshness.schemas import Freshness

router = APIRouter(prefix="/v1/reports", tags=["reports"])


@router.get("/freshness", response_model=Freshness, summary="How current the report data is")
async def freshness(
    caller: Anyone,
    session: ReadSessionDep,
    event: str | None = Query(
        None,
        pattern=service.EVENT_PATTERN,
        description="A write's `Feed-Event` answer header (`assessment:1234` on SQLite, "
        "`assessment:<txid>.<id>` on PostgreSQL): the answer "
        "then says whether the reports include that write. Poll until `event.applied`.",
    ),
) -> Freshness:
    """How current the report data is: for each source service's change feed, the last event
    applied and the moment before which every committed change is in the reports. Reports stay
    servable while a source is down; this says how stale they may be. With `event`, whether
    the reports include that write yet."""
    return await service.freshness(session, event)
