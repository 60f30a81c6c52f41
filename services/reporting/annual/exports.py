"""The one way the platform writes spreadsheets (CSV and XLSX): text stays inert text.

Catalogue text (question texts, cluster and compliance-point names, titles) is typed by people
and reaches anonymous downloads, so a cell such as ``=HYPERLINK(...)`` must never become a live
formula in the reader's spreadsheet. Following OWASP's CSV-injection guidance, text that starts
with a formula trigger is prefixed with a single quote; XLSX cells holding text are typed as
strings, so no text is ever stored as a formula. Numbers stay numbers (``-3`` is a number).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Sequence
from typing import Any

# ``=``, ``+``, ``-``, ``@``, tab and carriage return (OWASP), plus the full-width forms some
# spreadsheet applications fold into them.
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r", "\uff1d", "\uff0b", "\uff0d", "\uff20")
_PLAIN_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")
# What XML 1.0 (and so XLSX) cannot hold: C0 controls other than tab, newline, carriage return.
_XML_ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")

Row = Sequence[Any]


def neutralise(value: Any) -> Any:
    """A cell value a spreadsheet reads as data: text starting with a formula trigger gets a
    leading single quote; numbers, plain numeric text, dates and empty cells pass unchanged."""
    if not isinstance(value, str) or not value.startswith(FORMULA_TRIGGERS):
        return value
    if _PLAIN_NUMBER.fullmatch(value):
        return value
    return "'" + value


def write_csv(header: Row, rows: Iterable[Row]) -> str:
    """CSV text with every cell neutralised."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([neutralise(v) for v in header])
    writer.writerows([neutralise(v) for v in row] for row in rows)
    return out.getvalue()


def append_row(sheet: Any, row: Row) -> None:
    """Append to an openpyxl worksheet: text cells neutralised and typed as strings, so
    openpyxl never takes text for a formula."""
    values = [neutralise(v) for v in row]
    sheet.append([_XML_ILLEGAL.sub("\ufffd", v) if isinstance(v, str) else v for v in values])
    for cell in sheet[sheet.max_row]:
        if isinstance(cell.value, str):
            cell.data_type = "s"
