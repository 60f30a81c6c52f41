"""The annual report in each format; every format is rendered from the same JSON model, so a
published (frozen) report renders the same figures in all of them."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import io
import re
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape

from services.common.problems import Problem
from services.reporting.annual import charts, exports
from services.reporting.annual.schemas import AnnualReport
from services.reporting.compliance.schemas import Rate, TrendPoint

FORMATS = {
    "json": "application/json",
    "html": "text/html",
    "pdf": "application/pdf",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "csv": "text/csv",
}
EXTENSIONS = {media: ext for ext, media in FORMATS.items()}

_templates = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=select_autoescape(["html", "j2"]),
)


def negotiate(accept: str | None, explicit: str | None) -> str:
    """``?format=`` wins; else the best of Accept (q-values honoured); JSON by default."""
    if explicit:
        if explicit not in FORMATS:
            raise Problem(
                400,
                f"format must be one of {', '.join(FORMATS)}.",
                title="Unknown format",
            )
        return explicit
    if not accept:
        return "json"
    offers: list[tuple[float, int, str]] = []
    for position, part in enumerate(accept.split(",")):
        media, *params = (p.strip() for p in part.split(";"))
        quality = 1.0
        for param in params:
            if param.startswith("q="):
                try:
                    quality = float(param[2:])
                except ValueError:
                    quality = 0.0
        offers.append((quality, -position, media.lower()))
    for quality, _position, media in sorted(offers, reverse=True):
        if quality <= 0:
            continue
        if media in EXTENSIONS:
            return EXTENSIONS[media]
        if media in ("*/*", "application/*"):
            return "json"
        if media == "text/*":
            return "html"
    raise Problem(
        406,
        f"The report is available as {', '.join(FORMATS.values())}.",
        title="Not Acceptable",
    )


LABELS = {
    "osh": "Occupational safety and health",
    "hr_management": "HR management",
    "pac_meeting": "PAC meeting",
}


def label(code: str) -> str:
    """A readable label for a vocabulary code (topics, seminar kinds)."""
    return LABELS.get(code, code.replace("_", " ").capitalize())


def pct(value: float | None) -> str:
    return "\u2013" if value is None else f"{value * 100:.0f}%"


def rate_text(rate: Rate) -> str:
    if rate.withheld is not None:
        return f"withheld (n<{rate.withheld.minimum_factories})"
    return pct(rate.non_compliance_rate)


def _trend_chart(title: str, points: list[TrendPoint], prefix: str) -> str | None:
    periods = sorted({p.period for p in points})
    if len(periods) < 2:
        return None
    rows: dict[str, dict[int, float | None]] = {}
    for point in points:
        if point.code != "ALL":
            rows.setdefault(point.name, {})[point.period] = point.non_compliance_rate
    return charts.period_chart(
        title,
        [f"{prefix}{p}" for p in periods],
        [(name, [values.get(p) for p in periods]) for name, values in rows.items()],
    )


def report_charts(report: AnnualReport) -> dict[str, Any]:
    withheld = f"withheld (n<{report.methodology.minimum_factories})"

    def bar(label: str, rate: Rate) -> charts.Bar:
        return charts.Bar(label, rate.non_compliance_rate, withheld if rate.withheld else "")

    return {
        "clusters": charts.bar_chart(
            "Non-compliance rate by cluster",
            [bar(b.cluster.cluster_name, b.cluster) for b in report.non_compliance],
        ),
        # One chart per category (core labour standards, working conditions), so each fits a page.
        "points": [
            charts.grouped_bar_chart(
                f"Non-compliance rate by compliance point: {category.replace('_', ' ')}",
                [
                    (
                        f"{b.cluster.cluster_name} ({rate_text(b.cluster)})",
                        [bar(p.compliance_point_name, p) for p in b.compliance_points],
                    )
                    for b in report.non_compliance
                    if (b.cluster.category or "") == category
                ],
            )
            for category in dict.fromkeys(b.cluster.category or "" for b in report.non_compliance)
        ],
        "highest": charts.bar_chart(
            "Questions with the highest non-compliance",
            [bar(q.question_text or q.question_code, q) for q in report.highest_non_compliance],
        ),
        "by_cycle": _trend_chart(
            "Cluster non-compliance by assessment cycle", report.trends.by_cycle, "Cycle "
        ),
        "by_year": _trend_chart("Cluster non-compliance by year", report.trends.by_year, ""),
    }


def render_html(report: AnnualReport) -> str:
    template = _templates.get_template("annual.html.j2")
    return template.render(
        r=report, charts=report_charts(report), pct=pct, rate=rate_text, label=label
    )


_STYLE_ELEMENT = re.compile(r"<style>(.*?)</style>", re.DOTALL)


def content_security_policy(html: str) -> str:
    """The strictest policy the report still renders under: no script, no fetch of anything,
    only its own inline stylesheet (allowed by hash) and the inline SVG charts (part of the
    document, so they need no source)."""
    styles = (
        " ".join(
            "'sha256-" + base64.b64encode(hashlib.sha256(css.encode()).digest()).decode() + "'"
            for css in _STYLE_ELEMENT.findall(html)
        )
        or "'none'"
    )
    return (
        f"default-src 'none'; style-src {styles}; img-src data:; "
        "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    )


def render_pdf(report: AnnualReport) -> bytes:
    from weasyprint import HTML  # imported late: it loads pango/cairo

    pdf: bytes = HTML(string=render_html(report)).write_pdf()
    return pdf


def _rate_row(section: str, code: str, name: str, group: str, rate: Rate) -> list[Any]:
    return [
        section,
        code,
        name,
        group,
        rate.factories_assessed,
        rate.factories_non_compliant,
        rate.non_compliance_rate,
        rate.withheld.reason if rate.withheld else "",
    ]


RATE_COLUMNS = [
    "section",
    "code",
    "name",
    "group",
    "factories_assessed",
    "factories_non_compliant",
    "non_compliance_rate",
    "note",
]


def table_rows(report: AnnualReport) -> dict[str, list[list[Any]]]:
    """The report as flat tables (one per sheet; CSV concatenates them)."""
    overview = [
        ["overview", key, key.replace("_", " "), "", None, None, None, value]
        for key, value in report.overview.model_dump().items()
    ]
    profile = report.factory_profile
    overview += [
        [
            "factory_profile",
            "factories_assessed",
            "factories assessed",
            "",
            None,
            None,
            None,
            profile.factories_assessed,
        ],
        ["factory_profile", "workers", "workers", "", None, None, None, profile.workers],
        [
            "factory_profile",
            "share_women",
            "share of women",
            "",
            None,
            None,
            None,
            "" if profile.share_women is None else round(profile.share_women, 4),
        ],
    ]
    clusters = [
        _rate_row("cluster", b.cluster.cluster_code, b.cluster.cluster_name, "", b.cluster)
        for b in report.non_compliance
    ]
    points = [
        _rate_row(
            "compliance_point", p.compliance_point_code, p.compliance_point_name, p.cluster_code, p
        )
        for b in report.non_compliance
        for p in b.compliance_points
    ]
    highest = [
        _rate_row(
            "highest_non_compliance",
            q.question_code,
            q.question_text or "",
            q.compliance_point_code,
            q,
        )
        for q in report.highest_non_compliance
    ]
    trends = [
        _rate_row(f"trend_{kind}", p.code, p.name, str(p.period), p)
        for kind, points_ in (("cycle", report.trends.by_cycle), ("year", report.trends.by_year))
        for p in points_
    ]
    return {
        "Overview": overview,
        "Clusters": clusters,
        "Compliance points": points,
        "Highest non-compliance": highest,
        "Trends": trends,
    }


def render_csv(report: AnnualReport) -> str:
    return exports.write_csv(
        RATE_COLUMNS, [row for rows in table_rows(report).values() for row in rows]
    )


def render_xlsx(report: AnnualReport) -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Font

    workbook = Workbook()
    workbook.remove(workbook.active)
    for title, rows in table_rows(report).items():
        sheet = workbook.create_sheet(title)
        exports.append_row(sheet, RATE_COLUMNS)
        for cell in sheet[1]:
            cell.font = Font(bold=True)
        for row in rows:
            exports.append_row(sheet, row)
        for cell in sheet["G"][1:]:
            cell.number_format = "0.0%"
        sheet.column_dimensions["C"].width = 60
        sheet.freeze_panes = "A2"
    info = workbook.create_sheet("About", 0)
    exports.append_row(info, [report.title])
    info["A1"].font = Font(bold=True, size=14)
    exports.append_row(info, ["Generated", report.generated_at.isoformat()])
    exports.append_row(
        info, ["Data as of", report.data_as_of.isoformat() if report.data_as_of else ""]
    )
    exports.append_row(info, ["Edition", report.audience])
    for catalog in report.methodology.catalog_versions:
        exports.append_row(info, ["Catalogue", catalog])
    if report.methodology.participating_factories:
        exports.append_row(
            info, ["Participating factories", report.methodology.participating_factories]
        )
    for step in report.methodology.steps:
        exports.append_row(info, ["Methodology", step])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


# Documents are laid out on one thread of their own, one at a time (WeasyPrint makes no promise
# about threads): a PDF takes about a second of CPU, and on the event loop it held every other
# request of the process (rates, freshness, the sync and the webhooks) for that long.
_RENDERER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="report-render")
_ON_THE_LOOP = frozenset({"json", "csv"})  # fast: cheaper than the trip to the thread


async def render_off_loop(report: AnnualReport, fmt: str) -> bytes | str:
    """``render``, with the documents (HTML, PDF, XLSX) made on the render thread."""
    if fmt in _ON_THE_LOOP:
        return render(report, fmt)
    return await asyncio.get_running_loop().run_in_executor(_RENDERER, render, report, fmt)


def render(report: AnnualReport, fmt: str) -> bytes | str:
    if fmt == "json":
        return report.model_dump_json()
    renderers: dict[str, Callable[[AnnualReport], bytes | str]] = {
        "html": render_html,
        "pdf": render_pdf,
        "xlsx": render_xlsx,
        "csv": render_csv,
    }
    return renderers[fmt](report)
