"""Findings of an assessment (bulk or one at a time) and its computed results.

Findings belong to their assessment: every write is conditional on the assessment's ETag
(If-Match), bumps its version and answers with the new ETag, so two assessors writing from the
same reading cannot silently overwrite each other."""

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request, Response

from services.assessment.access import Reader, Writer
from services.assessment.assessments.service import get_assessment
from services.assessment.findings import service
from services.assessment.findings.schemas import (
    QUESTION_CODE_MAX_LENGTH,
    FindingBody,
    FindingRead,
    FindingsSubmission,
    ResultsRead,
    SubmissionResult,
)
from services.common.deps import ReadSessionDep, SessionDep
from services.common.etag import etag_for, require_if_match
from services.common.pagination import Page, PageParams

router = APIRouter(prefix="/v1/assessments/{assessment_id}", tags=["findings"])

# Checked where it arrives, as a finding's question code in a body is (FindingIn).
QuestionCode = Annotated[str, Path(min_length=1, max_length=QUESTION_CODE_MAX_LENGTH)]


@router.put(
    "/findings",
    response_model=SubmissionResult,
    summary="Submit all findings at once (one transaction; replaces earlier ones)",
)
async def submit_findings(
    assessment_id: str,
    body: FindingsSubmission,
    request: Request,
    response: Response,
    caller: Writer,
    session: SessionDep,
) -> SubmissionResult:
    """Replaces all findings of an assessment in one transaction, while it is in_progress or
    draft (409 otherwise); every problem in the set is listed in one 422 and nothing is stored.

    If-Match: the assessment's ETag. The answer's ETag is the assessment's new one."""
    # Visibility first: a hidden assessment answers 404 whatever the If-Match says.
    assessment = await get_assessment(session, assessment_id, caller, lock=True)
    require_if_match(request, etag_for(assessment.id, assessment.version))
    stored = await service.replace_findings(session, assessment, body.findings, caller)
    response.headers["ETag"] = etag_for(assessment.id, assessment.version)
    return SubmissionResult(
        assessment_id=assessment_id, findings_stored=stored, version=assessment.version
    )


@router.put("/findings/{question_code}", response_model=FindingRead, summary="Record one finding")
async def put_finding(
    assessment_id: str,
    question_code: QuestionCode,
    body: FindingBody,
    request: Request,
    response: Response,
    caller: Writer,
    session: SessionDep,
) -> FindingRead:
    """Records or replaces the finding of one question while the assessment is in_progress or
    draft (409 otherwise).

    If-Match: the assessment's ETag. The answer's ETag is the assessment's new one."""
    # One statement reads the assessment (locked, 404 if hidden) and the question.
    target = await service.finding_target(session, assessment_id, question_code, caller)
    assessment = target.assessment
    require_if_match(request, etag_for(assessment.id, assessment.version))
    finding = await service.put_finding(session, target, question_code, body, caller)
    response.headers["ETag"] = etag_for(assessment.id, assessment.version)
    return finding


@router.get("/findings", response_model=Page[FindingRead], summary="Findings, by question code")
async def list_findings(
    assessment_id: str,
    response: Response,
    caller: Reader,
    session: ReadSessionDep,
    params: PageParams = Depends(service.FINDING_SORTING.page_params),
) -> Page[FindingRead]:
    """The assessment's findings, for whoever may see the assessment.

    The ETag is the assessment's: send it as If-Match to change the findings."""
    assessment = await get_assessment(session, assessment_id, caller)
    response.headers["ETag"] = etag_for(assessment.id, assessment.version)
    rows, next_cursor = await service.list_findings(session, assessment_id, params)
    items = [FindingRead.of(r) for r in rows]
    return Page(items=items, next_cursor=next_cursor, total=params.total)


@router.get("/findings/{question_code}", response_model=FindingRead, summary="One finding")
async def get_finding(
    assessment_id: str,
    question_code: QuestionCode,
    response: Response,
    caller: Reader,
    session: ReadSessionDep,
) -> FindingRead:
    """The finding of one question; 404 when none is recorded.

    The ETag is the assessment's: send it as If-Match to change the finding."""
    assessment = await get_assessment(session, assessment_id, caller)
    response.headers["ETag"] = etag_for(assessment.id, assessment.version)
    return FindingRead.of(await service.get_finding(session, assessment_id, question_code))


@router.get(
    "/results",
    response_model=ResultsRead,
    summary="Non-compliance by compliance point and cluster (Better Work methodology)",
)
async def get_results(assessment_id: str, caller: Reader, session: ReadSessionDep) -> ResultsRead:
    """Non-compliance of the assessment by the Better Work rule: a compliance point is
    non-compliant when any of its answered finding questions is, a cluster when any of its
    points is, and information-only questions never count."""
    assessment = await get_assessment(session, assessment_id, caller)
    return await service.results(session, assessment)
