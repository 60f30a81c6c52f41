"""Checks factory, assessment and finding ids against the assessment service, over HTTP.

The training service stores those ids but does not own them. A factory's check also answers its
country, which factory-owned rows record (the country scope filters on it). The caller's token
is forwarded, so a factory outside the caller's country is unknown, like a missing one. Every
check happens before the write's transaction begins, so an unreachable assessment service (503)
or an unknown id (422) leaves nothing stored. Tests inject an httpx transport through
``app.state.assessment_transport``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import httpx
from fastapi import Request

from services.common.auth import Principal, bearer_token, mint_token
from services.common.http_client import make_client
from services.common.problems import Problem
from services.common.scope import in_country_scope

FINDINGS_PAGE_SIZE = 500


@dataclass(frozen=True)
class FindingRef:
    question_code: str
    compliance_point_code: str | None
    non_compliant: bool | None


@dataclass(frozen=True)
class AssessmentRef:
    id: str
    factory_id: str | None
    findings: list[FindingRef] = field(default_factory=list)

    def finding(self, question_code: str) -> FindingRef | None:
        return next((f for f in self.findings if f.question_code == question_code), None)

    def compliance_point_codes(self) -> set[str]:
        return {f.compliance_point_code for f in self.findings if f.compliance_point_code}


class References(Protocol):
    """What the training service needs to know about ids it does not own."""

    async def factory_countries(self, factory_ids: Iterable[str]) -> dict[str, str | None]:
        """The country of each factory that exists (and the caller may see); others left out."""
        ...

    async def assessment(self, assessment_id: str) -> AssessmentRef | None: ...


def unknown_references(errors: list[dict[str, Any]]) -> Problem:
    names = "; ".join(e["message"] for e in errors)
    return Problem(
        422,
        f"Unknown or mismatched references: {names}.",
        title="Unknown reference",
        errors=errors,
    )


async def require_factories(
    references: References, factory_ids: Iterable[str], field: str, principal: Principal
) -> dict[str, str | None]:
    """Each factory's country; 422 naming every factory id the assessment service does not know
    or that lies outside the caller's country (the same answer: it reveals nothing)."""
    wanted = sorted(set(factory_ids))
    known = await references.factory_countries(wanted)
    missing = [f for f in wanted if f not in known or not in_country_scope(principal, known[f])]
    if missing:
        raise unknown_references(
            [
                {"location": field, "message": f"factory {fid!r} does not exist", "value": fid}
                for fid in missing
            ]
        )
    return known


async def require_factories_country(
    references: References, factory_ids: Iterable[str], field: str, principal: Principal
) -> str | None:
    """The one country the factories are in (a session or plan never spans two programmes)."""
    countries = set((await require_factories(references, factory_ids, field, principal)).values())
    if len(countries) > 1:
        raise Problem(
            422,
            "The factories are in different countries ("
            + ", ".join(sorted(str(c) for c in countries))
            + "); one record belongs to one country programme.",
            title="Validation failed",
            errors=[{"location": field, "message": "factories of several countries"}],
        )
    return countries.pop() if countries else None


def _unavailable(detail: str) -> Problem:
    return Problem(
        503,
        detail,
        title="Assessment service unavailable",
        headers={"Retry-After": "5"},
    )


class AssessmentClient:
    """HTTP client of the assessment service: GET /v1/factories/{id}, /v1/assessments/{id} and
    /v1/assessments/{id}/findings. One instance per request; close it with ``aclose``."""

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._base_url = base_url
        self._token = token
        self._transport = transport
        self._http: httpx.AsyncClient | None = None

    @property
    def http(self) -> httpx.AsyncClient:
        """Made on first use: most requests that may check references never need to."""
        if self._http is None:
            self._http = make_client(self._base_url, token=self._token, transport=self._transport)
        return self._http

    async def aclose(self) -> None:
        if self._http is not None:
            await self._http.aclose()

    async def _get(self, path: str, params: dict[str, Any] | None = None) -> Any | None:
        """The JSON body, or None on 404; 503 when the service cannot answer."""
        try:
            response = await self.http.get(path, params=params)
        except httpx.TransportError as exc:
            raise _unavailable(
                f"The assessment service could not be reached ({type(exc).__name__}); nothing "
                "was stored. Retry later."
            ) from exc
        if response.status_code == 404:
            return None
        if response.status_code >= 500:
            raise _unavailable(
                f"The assessment service answered {response.status_code}; nothing was stored."
            )
        if response.status_code != 200:
            raise Problem(
                502,
                f"The assessment service refused the reference check ({response.status_code}).",
                title="Bad Gateway",
            )
        try:
            return response.json()
        except ValueError as exc:
            raise Problem(502, "The assessment service sent no JSON.", title="Bad Gateway") from exc

    async def factory_countries(self, factory_ids: Iterable[str]) -> dict[str, str | None]:
        countries: dict[str, str | None] = {}
        for fid in factory_ids:
            body = await self._get(f"/v1/factories/{fid}")
            if body is not None:
                countries[fid] = body.get("country")
        return countries

    async def assessment(self, assessment_id: str) -> AssessmentRef | None:
        body = await self._get(f"/v1/assessments/{assessment_id}")
        if body is None:
            return None
        findings = await self._findings(assessment_id)
        return AssessmentRef(
            id=str(body.get("id", assessment_id)),
            factory_id=body.get("factory_id"),
            findings=findings,
        )

    async def _findings(self, assessment_id: str) -> list[FindingRef]:
        findings: list[FindingRef] = []
        cursor: str | None = None
        while True:
            params: dict[str, Any] = {"limit": FINDINGS_PAGE_SIZE}
            if cursor:
                params["cursor"] = cursor
            body = await self._get(f"/v1/assessments/{assessment_id}/findings", params)
            if body is None:
                return findings
            rows = body if isinstance(body, list) else body.get("items", [])
            findings.extend(_finding(row) for row in rows)
            cursor = None if isinstance(body, list) else body.get("next_cursor")
            if not cursor:
                return findings


def _finding(row: dict[str, Any]) -> FindingRef:
    return FindingRef(
        question_code=str(row.get("question_code") or row.get("code")),
        compliance_point_code=row.get("compliance_point_code"),
        non_compliant=row.get("non_compliant"),
    )


async def assessment_references(request: Request) -> AsyncIterator[AssessmentClient]:
    """Dependency: a client that forwards the caller's token (so the assessment service applies
    its own rules to the caller), or a short-lived service token when there is none."""
    auth_settings = request.app.state.auth_settings
    token = bearer_token(request) or mint_token(
        auth_settings, role="service", subject="training-service", ttl_seconds=300
    )
    client = AssessmentClient(
        request.app.state.settings.assessment_url,
        token,
        transport=getattr(request.app.state, "assessment_transport", None),
    )
    try:
        yield client
    finally:
        await client.aclose()


class StaticReferences:
    """References known in advance (the demo seed, which has the factories and assessments in
    hand): the same checks as over HTTP, without a running assessment service."""

    def __init__(
        self, factory_countries: Mapping[str, str | None], assessments: Iterable[AssessmentRef] = ()
    ) -> None:
        self.countries = dict(factory_countries)
        self.assessments = {a.id: a for a in assessments}

    async def factory_countries(self, factory_ids: Iterable[str]) -> dict[str, str | None]:
        return {fid: self.countries[fid] for fid in factory_ids if fid in self.countries}

    async def assessment(self, assessment_id: str) -> AssessmentRef | None:
        return self.assessments.get(assessment_id)
