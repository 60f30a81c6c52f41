from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.assessment.factories.schemas import FactoryCreate, FactoryRead
from services.assessment.models import Factory, OutboxEvent
from services.common.ids import new_id
from services.common.observability import current_request_id
from services.common.outbox import append_event
from services.common.pagination import PageParams, paginate


async def create_factory(session: AsyncSession, data: FactoryCreate) -> Factory:
    factory = Factory(id=new_id("fac"), **data.model_dump())
    session.add(factory)
    await append_event(
        session,
        OutboxEvent,
        event_type="factory.created",
        aggregate_type="factory",
        aggregate_id=factory.id,
        payload=FactoryRead.model_validate(factory).model_dump(mode="json"),
        request_id=current_request_id(),
    )
    await session.commit()
    return factory


async def list_factories(
    session: AsyncSession, params: PageParams, country: str | None = None
) -> tuple[list[Factory], str | None]:
    stmt = select(Factory)
    if country:
        stmt = stmt.where(Factory.country == country)
    rows, next_cursor = await paginate(session, stmt, Factory.id, params)  # type: ignore[arg-type]
    return list(rows), next_cursor
