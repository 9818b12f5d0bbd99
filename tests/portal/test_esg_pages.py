"""The ESG report page: any member computes the HKEX KPI table from inputs (or the example), sees the charts and
the table, and downloads CSV, JSON or HTML; inputs that do not hold are refused with a message."""

from __future__ import annotations

import csv
import io
import json
import re
from typing import Any

from tests.portal.conftest import World
from tests.portal.test_green_pages import main, words
from tierflow.portal.routes_esg import example_text

TOTAL = "Total GHG emissions (Scope 1 + Scope 2 location-based)"


def inputs_of(page: str) -> str:
    import html

    found = re.search(r'name="inputs" value="([^"]*)"', page)
    assert found, "no inputs kept for the downloads"
    return html.unescape(found.group(1))


def test_every_member_sees_the_page_and_an_auditor_cannot_compute(world: World, browser: Any) -> None:
    for username in ("supplier1", "core.clerk", "bank.officer", "operator"):
        page = browser(username).get("/portal/esg")
        assert page.status_code == 200, username
        assert 'href="/portal/esg" aria-current="page"' in page.text
        assert 'action="/portal/esg"' in main(page.text)
    auditor = browser("auditor")
    page = auditor.get("/portal/esg")
    assert page.status_code == 200 and 'action="/portal/esg"' not in main(page.text)
    assert auditor.post("/portal/esg", {"example": "1"}).status_code == 403
    assert browser("supplier1").post("/portal/esg", {"example": "1"}, csrf=False).status_code == 403
    r = browser().get("/portal/esg", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/portal/login?next=")


def test_the_example_inputs_give_the_kpi_table_and_charts(world: World, browser: Any) -> None:
    b = browser("bank.officer")
    r = b.post("/portal/esg", {"example": "1"})
    assert r.status_code == 200, words(r.text)[:1000]
    text = words(r.text)
    assert "ESG KPIs 2021" in text and "Computed from the example inputs" in text
    assert f"{TOTAL} 292 tCO2e" in text
    assert "GHG intensity per employee 0.32 tCO2e/employee" in text
    body = main(r.text)
    # The report's charts inline: SVG with a title and a description, and a data table with a caption.
    assert body.count('role="img"') >= 2 and 'aria-labelledby="chart-scopes-t chart-scopes-d"' in body
    assert "<caption>GHG emissions by scope (data)</caption>" in body
    assert "<caption>KPI table 2021" in body
    # The full report in a sandboxed frame.
    assert '<iframe title="ESG report 2021' in r.text and 'sandbox=""' in r.text
    assert json.loads(inputs_of(r.text)) == json.loads(example_text())


def test_uploading_inputs_and_downloading_csv_json_html(world: World, browser: Any) -> None:
    b = browser("supplier1")
    r = b.post("/portal/esg", files={"inputs_file": ("esg.json", example_text().encode(), "application/json")})
    assert r.status_code == 200 and "Computed from the file esg.json" in words(r.text)
    kept = inputs_of(r.text)

    as_csv = b.post("/portal/esg/download", {"inputs": kept, "format": "csv"})
    assert as_csv.status_code == 200 and as_csv.headers["content-type"].startswith("text/csv")
    assert 'filename="esg-kpis-2021.csv"' in as_csv.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(as_csv.text)))
    assert {"item": TOTAL, "value": "292"}.items() <= next(r for r in rows if r["item"] == TOTAL).items()

    as_json = b.post("/portal/esg/download", {"inputs": kept, "format": "json"})
    assert as_json.status_code == 200 and as_json.headers["content-type"].startswith("application/json")
    table = as_json.json()
    assert table["year"] == 2021
    assert any(row["item"] == "GHG intensity per employee" and row["value"] == "0.32" for row in table["rows"])

    as_html = b.post("/portal/esg/download", {"inputs": kept, "format": "html"})
    assert as_html.status_code == 200 and as_html.headers["content-type"].startswith("text/html")
    assert "attachment" in as_html.headers["content-disposition"]
    assert as_html.text.startswith("<!DOCTYPE html>") and "<svg" in as_html.text and "<script" not in as_html.text

    unknown = b.post("/portal/esg/download", {"inputs": kept, "format": "pdf"})
    assert unknown.status_code == 422 and "CSV, JSON or HTML" in words(unknown.text)
    assert b.post("/portal/esg/download", {"inputs": kept, "format": "csv"}, csrf=False).status_code == 403


def test_inputs_that_do_not_hold_are_refused_with_a_message(world: World, browser: Any) -> None:
    b = browser("core.clerk")
    floats = example_text().replace('"revenue_rmb_million": "1198"', '"revenue_rmb_million": 1198.5')
    assert floats != example_text()
    r = b.post("/portal/esg", {"inputs": floats})
    assert r.status_code == 422
    text = words(r.text)
    assert "1198.5" in text and "as a string" in text
    assert 'role="alert"' in r.text and "<caption>KPI table" not in r.text
    assert "1198.5" in main(r.text).split("<textarea", 1)[1].split("</textarea>", 1)[0]  # kept to correct it

    broken = b.post("/portal/esg", {"inputs": "{"})
    assert broken.status_code == 422 and "The inputs are not JSON" in words(broken.text)
    unknown = b.post("/portal/esg", {"inputs": json.dumps({"year": 2021, "employees": 1, "colour": "green"})})
    assert unknown.status_code == 422 and "unknown fields: colour" in words(unknown.text)
    nothing = b.post("/portal/esg", {"inputs": " "})
    assert nothing.status_code == 422 and "use the example inputs" in words(nothing.text)
    no_staff = b.post("/portal/esg", {"inputs": json.dumps({"year": 2021, "employees": 0})})
    assert no_staff.status_code == 422 and "employees" in words(no_staff.text)
