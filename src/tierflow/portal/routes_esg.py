"""The ESG report page (``/portal/esg``): the HKEX ESG KPI table of a year from an inputs file, for any member.

The inputs (an uploaded JSON file, pasted JSON, or the packaged 2021 example) are parsed exactly as the command
line and ``POST /v1/green/esg`` do: numbers are JSON strings, a JSON number with a fraction is refused. The page
shows the KPI table and the report's charts (inline SVG with a data table each, taken from the self-contained
HTML report, whose text is escaped), and offers the report as CSV, JSON or HTML. Nothing is stored: computing is
a POST that renders the result, and a download is a POST of the same inputs with a ``format``.
"""

from __future__ import annotations

import json
import re
from importlib import resources
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, Response
from markupsafe import Markup

from tierflow.domain.errors import DomainError
from tierflow.green.esg import EsgTable, build_table
from tierflow.green.esg_inputs import EsgInputError, parse_inputs
from tierflow.green.report import render_csv, render_html, render_json
from tierflow.portal.access import AnyActor, SignedIn, Viewer
from tierflow.portal.forms import FormProblem, ShortField
from tierflow.portal.render import page

router = APIRouter(prefix="/portal", tags=["portal"], include_in_schema=False)

MAX_INPUTS = 2 * 1024 * 1024
EXAMPLE = "data/examples/esg-2021.json"
FORMATS = {
    "csv": ("text/csv; charset=utf-8", "csv"),
    "json": ("application/json", "json"),
    "html": ("text/html; charset=utf-8", "html"),
}
FIGURE = re.compile(r'<figure class="chart">.*?</figure>', re.DOTALL)

Upload = Annotated[UploadFile | None, File()]
InputsText = Annotated[str, Form(max_length=MAX_INPUTS)]


def example_text() -> str:
    return resources.files("tierflow.green").joinpath(EXAMPLE).read_text(encoding="utf-8")


def _no_float(raw: str) -> Any:
    raise EsgInputError(
        f"the number {raw} is written as a JSON number: write it as a string, such as \"{raw}\", "
        "since binary floating point would change the figures"
    )


def compute(text: str) -> EsgTable:
    """The KPI table of the inputs ``text``; every refusal a ``FormProblem`` saying what to fix."""
    if not text.strip():
        raise FormProblem("Upload an inputs file, paste the inputs, or use the example inputs.")
    try:
        data = json.loads(text, parse_float=_no_float)
    except json.JSONDecodeError as error:
        raise FormProblem(
            f"The inputs are not JSON: {error.msg} at line {error.lineno}, column {error.colno}."
        ) from None
    except EsgInputError as error:
        raise FormProblem(f"The inputs do not hold: {error}.") from None
    try:
        return build_table(parse_inputs(data))
    except (EsgInputError, DomainError, ValueError, KeyError, TypeError) as error:
        message = error.message if isinstance(error, DomainError) else str(error)
        raise FormProblem(f"The inputs do not hold: {message}.") from None


def read_inputs(upload: UploadFile | None, pasted: str, example: str) -> tuple[str, str]:
    """The inputs text and where it came from: the example, an uploaded file, or pasted text (in that order)."""
    if example:
        return example_text(), "the example inputs (2021)"
    if upload is not None and upload.filename:
        raw = upload.file.read(MAX_INPUTS + 1)
        if len(raw) > MAX_INPUTS:
            raise FormProblem(f"The inputs file is larger than {MAX_INPUTS // (1024 * 1024)} MiB.")
        try:
            return raw.decode("utf-8-sig"), f"the file {upload.filename[:120]}"
        except UnicodeDecodeError:
            raise FormProblem("The file is not UTF-8 text: upload the JSON inputs file.") from None
    return pasted, "the inputs pasted"


def charts_of(report_html: str) -> list[Markup]:
    """The report's charts (``<figure>`` with an SVG and its data table); ``render_html`` escapes all the text
    it puts in them, so they are safe to place in the page."""
    return [Markup(figure) for figure in FIGURE.findall(report_html)]  # escaped by render_html


def _esg_page(
    request: Request,
    viewer: Viewer,
    *,
    table: EsgTable | None = None,
    inputs: str = "",
    source: str = "",
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    report = render_html(table, f"ESG KPIs {table.year}") if table is not None else ""
    return page(
        request,
        "esg.html",
        viewer,
        status_code=status_code,
        nav="esg",
        table=table,
        rows=[{"code": r.code, "kpi": r.kpi_name, "item": r.item, "value": "" if r.value is None else str(r.value),
               "unit": r.unit, "method": r.method} for r in table.rows] if table else [],
        charts=charts_of(report),
        report=report,
        inputs=inputs,
        source=source,
        error=error,
        max_mib=MAX_INPUTS // (1024 * 1024),
    )


@router.get("/esg", response_class=HTMLResponse)
def esg_home(request: Request, viewer: SignedIn) -> Response:
    return _esg_page(request, viewer)


@router.post("/esg", response_class=HTMLResponse)
def esg_compute(
    request: Request,
    viewer: AnyActor,
    inputs_file: Upload = None,
    inputs: InputsText = "",
    example: ShortField = "",
) -> Response:
    try:
        text, source = read_inputs(inputs_file, inputs, example)
        table = compute(text)
    except FormProblem as error:
        pasted = inputs if not example and not (inputs_file and inputs_file.filename) else ""
        return _esg_page(request, viewer, inputs=pasted, error=error.message, status_code=422)
    return _esg_page(request, viewer, table=table, inputs=text, source=source)


@router.post("/esg/download", response_class=Response)
def esg_download(
    request: Request,
    viewer: AnyActor,
    inputs: InputsText = "",
    format: ShortField = "csv",
) -> Response:
    try:
        if format not in FORMATS:
            raise FormProblem("Choose the format of the download: CSV, JSON or HTML.")
        table = compute(inputs)
    except FormProblem as error:
        return _esg_page(request, viewer, inputs=inputs, error=error.message, status_code=422)
    media_type, suffix = FORMATS[format]
    if format == "csv":
        body = render_csv(table)
    elif format == "json":
        body = render_json(table)
    else:
        body = render_html(table, f"ESG KPIs {table.year}")
    return Response(body, media_type=media_type, headers={
        "Content-Disposition": f'attachment; filename="esg-kpis-{table.year}.{suffix}"',
        "Cache-Control": "no-store",
    })
