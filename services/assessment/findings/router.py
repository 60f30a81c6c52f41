"""Findings of an assessment (bulk or one at a time) and its computed results.

Findings belong to their assessment: every write is conditional on the assessment's ETag
(If-Match), bumps its version and answers with the new ETag, so two assessors writing from the
same reading cannot silently overwrite each other."""

from fastapi import APIRouter, Depends, Request, Response
from sqlalchemy.ext.asyncio import AsyncSession

from services.assessment.assessments.service import get_assessment
from services.assessment.findings import service
from services.assessment.findings.schemas import (
    FindingBody,
    FindingRead,
    FindingsSubmission,
    ResultsRead,
    SubmissionResult,
)
from services.common.app import get_read_session, get_session
from services.common.auth import Access, Principal, Role
from services.common.etag import etag_for, require_if_match
from services.common.pagination import Page, PageParams

router = APIRouter(prefix="/v1/assessments/{assessment_id}", tags=["findings"])

WRITERS = Access(Role.ADMIN, Role.STAFF)
READERS = Access(Role.ADMIN, Role.STAFF, Role.SERVICE, Role.FACTORY, Role.BRAND)


@router.put(
    "/findings",
    response_model=SubmissionResult,
    summary="Submit all findings at once (one transaction; replaces earlier ones)",
    description="If-Match: the assessment's ETag. The answer's ETag is the assessment's new one.",
)
async def submit_findings(
    assessment_id: str,
    body: FindingsSubmission,
    request: Request,
    response: Response,
    session: AsyncSession = Depends(get_session),
    caller: Principal = Depends(WRITERS),
) -> SubmissionResult:
    # Visibility first: a hidden assessment answers 404 whatever the If-Match says.
    assessment = await get_assessment(session, assessment_id, caller, lock=True)
    require_if_match(request, etag_for(assessment.id, assessment.version))
    stored = await service.replace_findings(session, assessment, body.findings, caller)
    response.headers["ETag"] = etag_for(assessment.id, assessment.version)
    return SubmissionResult(
        assessment_id=assessment_id, findings_stored=stored, version=assessment.version
    )


@router.put(
    "/findings/{question_code}",
    response_model=FindingRead,
    summary="Record one finding",
    description="If-Match: the assessment's ETag. The answer's ETag is the assessment's new one.",
)
async def put_finding(
    assessment_id: str,
    question_code: str,
    body: FindingBody,
    request: Request,
    response: Response,
    session: AsyncSession = Depends(get_session),
    caller: Principal = Depends(WRITERS),
) -> FindingRead:
    assessment = await get_assessment(session, assessment_id, caller, lock=True)
    require_if_match(request, etag_for(assessment.id, assessment.version))
    finding = await service.put_finding(session, assessment, question_code, body, caller)
    response.headers["ETag"] = etag_for(assessment.id, assessment.version)
    return FindingRead.model_validate(finding)


@router.get(
    "/findings",
    response_model=Page[FindingRead],
    summary="Findings, by question code",
    description="The ETag is the assessment's: send it as If-Match to change the findings.",
)
async def list_findings(
    assessment_id: str,
    response: Response,
    params: PageParams = Depends(service.FINDING_SORTING.page_params),
    session: AsyncSession = Depends(get_read_session),
    caller: Principal = Depends(READERS),
) -> Page[FindingRead]:
    assessment = await get_assessment(session, assessment_id, caller)
    response.headers["ETag"] = etag_for(assessment.id, assessment.version)
    rows, next_cursor = await service.list_findings(session, assessment_id, params)
    return Page(
        items=[FindingRead.model_validate(r) for r in rows],
        next_cursor=next_cursor,
        total=params.total,
    )


@router.get(
    "/findings/{question_code}",
    response_model=FindingRead,
    summary="One finding",
    description="The ETag is the assessment's: send it as If-Match to change the finding.",
)
async def get_finding(
    assessment_id: str,
    question_code: str,
    response: Response,
    session: AsyncSession = Depends(get_read_session),
    caller: Principal = Depends(READERS),
) -> FindingRead:
    assessment = await get_assessment(session, assessment_id, caller)
    response.headers["ETag"] = etag_for(assessment.id, assessment.version)
    return FindingRead.model_validate(
        await service.get_finding(session, assessment_id, question_code)
    )


@router.get(
    "/results",
    response_model=ResultsRead,
    summary="Non-compliance by compliance point and cluster (Better Work methodology)",
)
async def get_results(
    assessment_id: str,
    session: AsyncSession = Depends(get_read_session),
    caller: Principal = Depends(READERS),
) -> ResultsRead:
    assessment = await get_assessment(session, assessment_id, caller)
    return await service.results(session, assessment)
