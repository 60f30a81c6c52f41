"""Checks factory, assessment and finding ids against the assessment service, over HTTP.

The training service stores those ids but does not own them. A factory's check also answers its
country, which factory-owned rows record (the country scope filters on it). The caller's token
is forwarded, so a factory outside the caller's country is unknown, like a missing one. Every
check happens before the write's transaction begins, so an unreachable assessment service (503)
or an unknown id (422) leaves nothing stored. The checks of every request go over one client
per app (:func:`assessment_http`). Tests inject an httpx transport through
``app.state.assessment_transport``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol

import httpx
from fastapi import FastAPI, Request

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
    """The assessment service as one caller sees it: GET /v1/factories/{id}, /v1/assessments/{id}
    and /v1/assessments/{id}/findings, each sent with the caller's token over ``http``, the app's
    one pooled client (:func:`assessment_http`)."""

    def __init__(self, http: httpx.AsyncClient, token: str) -> None:
        self.http = http
        self._headers = {"authorization": f"Bearer {token}"}

    async def _get(self, path: str, params: dict[str, Any] | None = None) -> Any | None:
        """The JSON body, or None on 404; 503 when the service cannot answer."""
        try:
            response = await self.http.get(path, params=params, headers=self._headers)
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


@dataclass
class _SharedClient:
    client: httpx.AsyncClient
    transport: httpx.AsyncBaseTransport | None


def assessment_http(app: FastAPI) -> httpx.AsyncClient:
    """The app's one client of the assessment service: its connections kept alive and its SSL
    context built once, not per request, and the replica that answered last tried first by
    every request (services/common/http_client.py). Made at startup by
    :func:`assessment_http_lifespan`, or on first use by an app run without its lifespan (tests
    drive apps so); made again when ``app.state.assessment_transport`` is replaced (tests),
    the one it replaces closed with it at shutdown. It carries no token: each request sends its
    caller's."""
    state = app.state
    transport: httpx.AsyncBaseTransport | None = getattr(state, "assessment_transport", None)
    shared: _SharedClient | None = getattr(state, "assessment_http", None)
    if shared is None or shared.transport is not transport:
        if shared is not None:
            state.assessment_http_replaced = [
                *getattr(state, "assessment_http_replaced", []),
                shared.client,
            ]
        client = make_client(state.settings.assessment_url, transport=transport)
        shared = state.assessment_http = _SharedClient(client, transport)
    return shared.client


@asynccontextmanager
async def assessment_http_lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Lifespan: the app's client of the assessment service, made at startup, closed (with its
    connections) at shutdown."""
    assessment_http(app)
    try:
        yield
    finally:
        shared: _SharedClient | None = getattr(app.state, "assessment_http", None)
        replaced: list[httpx.AsyncClient] = getattr(app.state, "assessment_http_replaced", [])
        app.state.assessment_http = None
        app.state.assessment_http_replaced = []
        for client in [*replaced, *([shared.client] if shared else [])]:
            await client.aclose()


def service_token(app: FastAPI) -> str:
    """A short-lived token of the training service itself, for calls no caller makes."""
    return mint_token(
        app.state.auth_settings, role="service", subject="training-service", ttl_seconds=300
    )


async def assessment_references(request: Request) -> AssessmentClient:
    """Dependency: the assessment service as the caller sees it: its token is forwarded (so the
    assessment service applies its own rules to the caller), or a short-lived service token
    when there is none."""
    token = bearer_token(request) or service_token(request.app)
    return AssessmentClient(assessment_http(request.app), token)


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
