"""Files handed to the browser to save: a person's data as JSON, a list as streamed CSV.

Any app's views or admin may use these; the module imports nothing from the apps.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable

from django.http import HttpResponse, StreamingHttpResponse


def _attachment(response: HttpResponse | StreamingHttpResponse, filename: str) -> None:
    response["Content-Disposition"] = f'attachment; filename="{filename}"'


def json_download(data: dict, filename: str) -> HttpResponse:
    """A copy of someone's data as a JSON file to save; never cached along the way."""
    response = HttpResponse(
        json.dumps(data, indent=2, ensure_ascii=False),
        content_type="application/json; charset=utf-8",
    )
    _attachment(response, filename)
    response["Cache-Control"] = "no-store"
    return response


class _Echo:
    """A file-like object whose write() hands the line back, so csv.writer can stream."""

    def write(self, value: str) -> str:
        return value


def csv_download(rows: Iterable[Iterable[object]], filename: str) -> StreamingHttpResponse:
    """``rows`` (the header first) as a CSV file to save, written row by row as the response
    streams, so a long list is never held in memory. Every text cell a spreadsheet would run
    as a formula is defused here (``spreadsheet_row``), whatever the caller did: a column
    added later can't forget it."""
    writer = csv.writer(_Echo())
    response = StreamingHttpResponse(
        (writer.writerow(spreadsheet_row(row)) for row in rows),
        content_type="text/csv; charset=utf-8",
    )
    _attachment(response, filename)
    response["X-Content-Type-Options"] = "nosniff"
    return response


# A spreadsheet runs a cell starting with one of these as a formula.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(text: str) -> str:
    """``text`` as a CSV cell a spreadsheet shows rather than runs: one that would start a
    formula gets an apostrophe in front."""
    return "'" + text if text.startswith(FORMULA_PREFIXES) else text


def spreadsheet_row(row: Iterable[object]) -> list[object]:
    """A CSV row with each text cell made ``spreadsheet_safe``; numbers, dates and empty
    cells as they are. Defusing twice changes nothing (a defused cell starts with ``'``)."""
    return [spreadsheet_safe(cell) if isinstance(cell, str) else cell for cell in row]


def stored_csv_download(text: str, filename: str) -> HttpResponse:
    """A CSV file kept as it was first made (a report, as given), served byte for byte."""
    response = HttpResponse(text.encode("utf-8"), content_type="text/csv; charset=utf-8")
    _attachment(response, filename)
    response["Cache-Control"] = "no-store"
    response["X-Content-Type-Options"] = "nosniff"
    return response
