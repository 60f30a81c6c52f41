"""The annual report: formats by negotiation, figures consistent across formats, no factory
named, and publications that never change afterwards."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
from collections.abc import AsyncIterator
from datetime import date
from xml.etree import ElementTree

import httpx
import pytest
from fastapi import FastAPI
from openpyxl import load_workbook

from tests.reporting.builders import ProgrammeBuilder, at
from tests.reporting.conftest import sync_sources
from tests.reporting.feedgen import (
    FakeSource,
    Programme,
    assessment_payload,
    catalog_payload,
    factory_payload,
)
from tests.reporting.reference import counts, reference
from tests.support import auth_header

STAFF = auth_header("staff")
URL = "/v1/reports/annual/2023"


@pytest.fixture
async def sources(reporting_app: FastAPI, programme: Programme) -> dict[str, FakeSource]:
    feeds = {
        "assessment": FakeSource(programme.assessment),
        "training": FakeSource(programme.training),
    }
    await sync_sources(reporting_app, feeds)
    return feeds


@pytest.fixture
async def client(
    reporting_app: FastAPI, sources: dict[str, FakeSource]
) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=reporting_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://reporting") as c:
        yield c


def json_cp_counts(report: dict) -> dict[str, tuple[int, int]]:
    return {
        cp["compliance_point_code"]: (cp["factories_assessed"], cp["factories_non_compliant"])
        for block in report["non_compliance"]
        for cp in block["compliance_points"]
    }


async def test_json_report_has_every_section_and_the_reference_figures(
    client: httpx.AsyncClient, programme: Programme
) -> None:
    response = await client.get(URL, params={"country": "UZ"}, headers=STAFF)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/json")
    report = response.json()
    for section in (
        "overview",
        "factory_profile",
        "methodology",
        "non_compliance",
        "highest_non_compliance",
        "trends",
        "activity",
    ):
        assert report[section], section
    expected = reference(
        programme, country="UZ", date_from=date(2023, 1, 1), date_to=date(2023, 12, 31)
    )[0]
    assert json_cp_counts(report) == counts(expected, "points")
    assert report["factory_profile"]["factories_assessed"] == expected["factories"]
    rates = [q["non_compliance_rate"] for q in report["highest_non_compliance"]]
    assert rates == sorted(rates, reverse=True) and len(rates) == 10
    assert {p["period"] for p in report["trends"]["by_cycle"]} == {1, 2}
    assert report["activity"]["training"]["sessions"] == 6


@pytest.mark.parametrize(
    ("accept", "fmt", "content_type", "magic"),
    [
        ("text/html", None, "text/html", b"<!DOCTYPE html>"),
        ("application/pdf", None, "application/pdf", b"%PDF-"),
        (
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            None,
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            b"PK",
        ),
        ("text/csv", None, "text/csv", b"section,code,name"),
        ("text/csv;q=0.5, application/pdf", None, "application/pdf", b"%PDF-"),
        ("application/pdf", "csv", "text/csv", b"section,code,name"),
        (None, None, "application/json", b"{"),
    ],
)
async def test_formats_by_accept_or_query(
    client: httpx.AsyncClient,
    accept: str | None,
    fmt: str | None,
    content_type: str,
    magic: bytes,
) -> None:
    headers = {**STAFF, **({"accept": accept} if accept else {})}
    params = {"country": "UZ", **({"format": fmt} if fmt else {})}
    response = await client.get(URL, params=params, headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith(content_type)
    assert response.content.startswith(magic)


async def test_unavailable_formats_are_refused(client: httpx.AsyncClient) -> None:
    refused = await client.get(URL, params={"country": "UZ"}, headers={"accept": "image/png"})
    unknown = await client.get(URL, params={"country": "UZ", "format": "docx"})
    assert refused.status_code == 406
    assert unknown.status_code == 400
    assert refused.headers["content-type"].startswith("application/problem+json")


async def test_html_has_labelled_svg_charts_and_names_no_factory(
    client: httpx.AsyncClient, programme: Programme
) -> None:
    response = await client.get(URL, params={"country": "UZ", "format": "html"}, headers=STAFF)
    html = response.text
    assert html.count("<svg") >= 4
    assert "Non-compliance rate by compliance point" in html
    for heading in (
        "Programme overview",
        "Factory profile",
        "Methodology",
        "Trends",
        "Advisory and training",
        "Stakeholder engagement",
    ):
        assert heading in html
    assert "Охрана труда" in html, "Cyrillic text did not round-trip"
    names = [
        e["payload"]["name"]
        for e in programme.assessment.events
        if e["aggregate_type"] == "factory"
    ]
    ids = [
        e["payload"]["id"] for e in programme.assessment.events if e["aggregate_type"] == "factory"
    ]
    for text in (html, (await client.get(URL, params={"country": "UZ"}, headers=STAFF)).text):
        assert not any(name in text for name in names)
        assert not any(ident in text for ident in ids)


async def test_xlsx_and_csv_carry_the_same_figures_as_json(client: httpx.AsyncClient) -> None:
    params = {"country": "UZ"}
    report = (await client.get(URL, params=params, headers=STAFF)).json()
    expected = json_cp_counts(report)
    csv_text = (await client.get(URL, params={**params, "format": "csv"}, headers=STAFF)).text
    rows = [r for r in csv.DictReader(io.StringIO(csv_text)) if r["section"] == "compliance_point"]
    assert {
        r["code"]: (int(r["factories_assessed"]), int(r["factories_non_compliant"])) for r in rows
    } == expected
    xlsx = (await client.get(URL, params={**params, "format": "xlsx"}, headers=STAFF)).content
    sheet = load_workbook(io.BytesIO(xlsx))["Compliance points"]
    header = [c.value for c in sheet[1]]
    got = {
        row[header.index("code")]: (
            row[header.index("factories_assessed")],
            row[header.index("factories_non_compliant")],
        )
        for row in sheet.iter_rows(min_row=2, values_only=True)
    }
    assert got == expected


async def test_a_publication_is_frozen_while_the_live_report_moves_on(
    reporting_app: FastAPI,
    client: httpx.AsyncClient,
    sources: dict[str, FakeSource],
    programme: Programme,
) -> None:
    published = await client.post(URL + "/publications", params={"country": "UZ"}, headers=STAFF)
    assert published.status_code == 201, published.text
    publication = published.json()
    location = published.headers["location"]
    frozen = await client.get(location)
    assert frozen.status_code == 200
    canonical = json.dumps(frozen.json(), sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    assert publication["content_hash"] == "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()
    assert frozen.json()["audience"] == "public"

    # New data arrives: a 2023 assessment of a new factory, non-compliant everywhere.
    feed = sources["assessment"].log
    feed.add("factory.created", factory_payload("fac_late"))
    questions = [
        q["code"]
        for c in programme.catalog["clusters"]
        for p in c["compliance_points"]
        for q in p["questions"]
    ]
    feed.add(
        "assessment.published",
        assessment_payload(
            "asm_late",
            "fac_late",
            programme.catalog,
            visit_end=date(2023, 11, 30),
            non_compliant=set(questions),
        ),
    )
    await sync_sources(reporting_app, sources)
    live = (await client.get(URL, params={"country": "UZ"}, headers=STAFF)).json()
    again = await client.get(location)
    assert again.content == frozen.content
    assert again.headers["etag"] == f'"{publication["content_hash"]}"'
    assert json_cp_counts(live) != json_cp_counts(again.json())
    pdf = await client.get(location, params={"format": "pdf"})
    assert pdf.content.startswith(b"%PDF-")

    listed = (await client.get(URL + "/publications")).json()
    assert [p["id"] for p in listed["items"]] == [publication["id"]]


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({}, 401),
        (auth_header("factory", factory_id="fac_00001"), 403),
        (auth_header("constituent"), 403),
    ],
)
async def test_only_programme_staff_publish(
    client: httpx.AsyncClient, headers: dict[str, str], status: int
) -> None:
    response = await client.post(URL + "/publications", params={"country": "UZ"}, headers=headers)
    assert response.status_code == status


# --- figures a reader checks -----------------------------------------------------------------

LONG_QUESTION = (
    "Does the employer ensure that every worker, including those on fixed-term and seasonal "
    "contracts, receives a written pay slip that shows each deduction and the hours worked?"
)


async def _report_2024(app: FastAPI, built: ProgrammeBuilder, fmt: str = "json") -> httpx.Response:
    await sync_sources(app, built.sources())
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://reporting") as client:
        response = await client.get(
            "/v1/reports/annual/2024", params={"country": "UZ", "format": fmt}, headers=STAFF
        )
    assert response.status_code == 200, response.text
    return response


async def test_participating_factories_are_those_in_the_programme_during_the_year(
    reporting_app: FastAPI,
) -> None:
    built = ProgrammeBuilder()
    catalog = built.catalog()
    counted = {
        "fac_assessed": {"participation_start": "2022-05-01"},
        "fac_quiet": {"participation_start": "2023-01-01"},
        "fac_left_but_advised": {
            "participation_start": "2022-01-01",
            "participation_status": "withdrawn",
        },
    }
    not_counted = {
        "fac_joins_2025": {"participation_start": "2025-02-01"},
        "fac_left": {"participation_start": "2022-01-01", "participation_status": "withdrawn"},
        "fac_elsewhere": {"participation_start": "2022-01-01", "country": "KH"},
    }
    for ident, fields in (counted | not_counted).items():
        built.factory(ident, **fields)
    built.factory("fac_registered_2023", registered=at(2023), participation_start=None)
    built.assessed("fac_assessed", catalog, date(2024, 4, 2))
    built.advisory_visit("fac_left_but_advised", date(2024, 9, 3))
    built.advisory_visit("fac_left", date(2023, 9, 3))
    # Registered long after the report's year, with no participation start.
    built.factory("fac_registered_2026", registered=at(2026), participation_start=None)

    report = (await _report_2024(reporting_app, built)).json()

    assert report["overview"]["factories_participating"] == len(counted) + 1
    rule = report["methodology"]["participating_factories"]
    assert "during 2024" in rule and "registration" in rule
    html = (await _report_2024(reporting_app, built, "html")).text
    assert rule.replace("'", "&#39;") in html


@pytest.mark.parametrize(
    ("status", "note"),
    [
        ("draft", None),
        # Published on the platform so that assessments can use it, a draft in its author's words.
        ("published", "DRAFT - not the official CAT; national wording was not available"),
    ],
)
async def test_methodology_names_the_cat_by_title_and_version_and_says_it_is_a_draft(
    reporting_app: FastAPI, status: str, note: str | None
) -> None:
    built = ProgrammeBuilder()
    title = "Compliance Assessment Tool for Uzbekistan (labour code 2023)"
    catalog = built.catalog(
        "cat_01JDRAFT", title=title, version="3", status=status, status_note=note
    )
    built.factory("fac_1", participation_start="2023-01-01")
    built.assessed("fac_1", catalog, date(2024, 5, 6))

    methodology = (await _report_2024(reporting_app, built)).json()["methodology"]
    html = (await _report_2024(reporting_app, built, "html")).text

    assert methodology["catalogs"] == [
        {
            "id": "cat_01JDRAFT",
            "title": title,
            "version": "3",
            "status": status,
            "status_note": note,
            "draft": True,
            "label": f"{title}, version 3 (draft)",
        }
    ]
    section = html[html.index("3. Methodology") : html.index("4. Non-compliance")]
    assert f"<em>{title}</em>, version 3, a draft" in section
    assert "cat_01JDRAFT" not in section


async def test_a_published_cat_is_not_called_a_draft(reporting_app: FastAPI) -> None:
    built = ProgrammeBuilder()
    catalog = built.catalog(title="Better Work CAT", version="2", status="published")
    built.factory("fac_1", participation_start="2023-01-01")
    built.assessed("fac_1", catalog, date(2024, 5, 6))

    methodology = (await _report_2024(reporting_app, built)).json()["methodology"]

    assert methodology["catalog_versions"] == ["Better Work CAT, version 2"]
    assert methodology["catalogs"][0]["draft"] is False


async def test_a_long_question_label_is_wrapped_whole_into_the_chart(
    reporting_app: FastAPI,
) -> None:
    built = ProgrammeBuilder()
    catalog = catalog_payload("cat_1", points_per_cluster=1, questions_per_point=2)
    catalog["clusters"][0]["compliance_points"][0]["questions"][0]["text"] = LONG_QUESTION
    built.catalog(**catalog)
    built.factory("fac_1", participation_start="2023-01-01")
    built.assessed("fac_1", catalog, date(2024, 5, 6))

    html = (await _report_2024(reporting_app, built, "html")).text

    charts = [ElementTree.fromstring(svg) for svg in re.findall(r"<svg.*?</svg>", html, re.S)]
    highest = next(c for c in charts if "highest" in (c.get("aria-label") or ""))
    svg = "{http://www.w3.org/2000/svg}"
    labels = [
        " ".join(span.text or "" for span in text.iter(svg + "tspan"))
        for text in highest.iter(svg + "text")
    ]
    assert LONG_QUESTION in labels
    assert not any("…" in label for label in labels)
