"""Briefings (周报/月报): ``/api/v1/briefings`` and ``pingan briefing`` on the app city.

The PDFs are read back with poppler (``pdftoppm``, ``pdftotext``, ``pdffonts``): pages drawn,
the district's Chinese name and the KPIs in the text, the CJK font embedded. The KPIs are
checked against ``/api/v1/rates`` of the same period and unit, fetched separately. In March
2025 the D1 district (C1 10,000 residents, C2 5,000) has one case (C1's third), February two
(C1's second and C2's second) and March 2024 one (the 2024 record in C1).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from api.cli import main
from tests.api.appcity import incident_rows

_POPPLER = shutil.which("pdftoppm") and shutil.which("pdftotext") and shutil.which("pdffonts")
_CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
# CI (PINGAN_REQUIRE_BROWSER=1) fails rather than skips when a tool is missing
needs_pdf = pytest.mark.skipif(
    not (_POPPLER and _CHROMIUM) and os.environ.get("PINGAN_REQUIRE_BROWSER") != "1",
    reason="needs poppler-utils and chromium (.ci/setup installs them)")


def _get(client, city, role: str, **params):
    return client.get("/api/v1/briefings", params=params, headers=city.headers(role))


def _rates_row(client, city, role: str, compare: str, **place) -> dict:
    level = "district" if "district" in place else "city"
    r = client.get("/api/v1/rates", params={"period": "2025-03", "compare": compare,
                                            "level": level, **place},
                   headers=city.headers(role))
    assert r.status_code == 200, r.text
    return next(i for i in r.json()["items"] if i["code"] == place.get("district", "city"))


def _pdf_text(pdf: bytes, tmp_path: Path) -> tuple[str, str, list[Path]]:
    path = tmp_path / "briefing.pdf"
    path.write_bytes(pdf)
    text = subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True,
                          text=True, check=True).stdout
    fonts = subprocess.run(["pdffonts", str(path)], capture_output=True, text=True,
                           check=True).stdout
    subprocess.run(["pdftoppm", "-r", "30", "-png", str(path), str(tmp_path / "page")],
                   check=True)
    return text, fonts, sorted(tmp_path.glob("page-*.png"))


def _ink(png: Path) -> float:
    """The share of a page's pixels that are not white."""
    from PIL import Image

    with Image.open(png) as im:
        grey = im.convert("L")
        hist = grey.histogram()
    return 1.0 - sum(hist[250:]) / sum(hist)


@pytest.mark.slow
@needs_pdf
def test_a_district_pdf_holds_its_name_its_kpis_and_an_embedded_cjk_font(city, client,
                                                                         tmp_path):
    r = _get(client, city, "admin", district="D1", period="2025-03")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/pdf"
    assert 'filename="briefing-D1-2025-03.pdf"' in r.headers["content-disposition"]
    assert r.content.startswith(b"%PDF-")
    text, fonts, pages = _pdf_text(r.content, tmp_path)
    assert 1 <= len(pages) <= 4
    assert all(_ink(p) > 0.005 for p in pages), [_ink(p) for p in pages]
    assert "东城区 月报 2025-03" in text and "和平社区" in text and "安定社区" in text
    # the KPIs, as /api/v1/rates gives them for the same unit and period
    for compare, label in (("previous", "上期"), ("last-year", "去年同期")):
        row = _rates_row(client, city, "admin", compare, district="D1")
        line = next(ln for ln in text.splitlines() if ln.strip().startswith(label))
        numbers = line.split()
        assert numbers[2] == f"{row['cases']:,}", line
        assert numbers[3] == f"{row['case_rate_per_10k_annual']:,.2f}", line
        assert numbers[4] == f"{row['compare_cases']:,}", line
        assert numbers[5] == f"{row['compare_case_rate_per_10k_annual']:,.2f}", line
    assert row["cases"] == 1 and row["compare_cases"] == 1
    # the hand-computed rate: 1 case in 31 days among 15,000 residents, per 10,000 a year
    assert f"{1 / 15000 * 1e4 * 365 / 31:,.2f}" in text
    cjk = [ln for ln in fonts.splitlines() if "WenQuanYi" in ln]
    assert cjk and all(ln.split()[-5] == "yes" for ln in cjk), fonts  # the emb column
    rows = fonts.splitlines()[2:]
    assert rows and all(" yes " in ln for ln in rows), fonts
    assert "Type 3" not in fonts  # no synthetic bold printed as glyph drawings


@pytest.mark.slow
@needs_pdf
def test_a_planners_pdf_holds_aggregates_only(city, client, tmp_path):
    r = _get(client, city, "planner", period="2025-03")
    assert r.status_code == 200, r.text
    text, _, pages = _pdf_text(r.content, tmp_path)
    assert pages
    for row in incident_rows():
        assert not re.search(rf"\b{re.escape(str(row['id']))}\b", text), row["id"]
        assert str(row["address"]) not in text
    assert "近重复风险区只对管理员和辖区联络员显示" in text
    city_row = _rates_row(client, city, "planner", "previous")
    assert city_row["cases"] in ("<3",) or city_row["cases"] >= 3
    line = next(ln for ln in text.splitlines() if ln.strip().startswith("上期"))
    assert line.split()[2] == (city_row["cases"] if city_row["cases"] == "<3"
                               else f"{city_row['cases']:,}")


def test_the_html_page_is_self_contained_and_in_either_language(city, client):
    zh = _get(client, city, "admin", district="东城区", period="2025-W10", format="html")
    assert zh.status_code == 200, zh.text
    assert zh.headers["content-type"].startswith("text/html")
    page = zh.text
    assert "东城区 周报 2025-W10" in page and "2025-03-03 – 2025-03-09" in page
    assert page.count("<svg") == 2 and "<script" not in page
    assert not re.search(r'(src|href)="(https?:)?//', page)  # nothing from another host
    en = _get(client, city, "admin", district="D1", period="2025-W10", format="html",
              lang="en")
    assert "东城区: weekly briefing, 2025-W10" in en.text and "Cases at a glance" in en.text
    # the whole city for admin, by default
    whole = _get(client, city, "admin", period="2025", format="html")
    assert "全市 年报 2025" in whole.text and "金融街社区" in whole.text


@pytest.mark.parametrize(("role", "place"), [
    ("liaison", {"district": "D2"}), ("liaison", {"district": "西城区"}),
    ("liaison", {"subdistrict": "S21"}), ("liaison_s21", {"district": "D1"}),
])
@pytest.mark.parametrize("fmt", ["html", "pdf"])
def test_a_liaison_gets_no_briefing_of_another_jurisdiction(city, client, role, place, fmt):
    r = _get(client, city, role, period="2025-03", format=fmt, **place)
    assert r.status_code == 403, r.text
    assert r.headers["content-type"].startswith("application/problem+json")


def test_a_liaisons_default_briefing_is_their_world(city, client):
    r = _get(client, city, "liaison_s21", period="2025-03", format="html")
    assert r.status_code == 200, r.text
    assert "金融街街道" in r.text and "月坛社区" in r.text
    assert "和平社区" not in r.text and "东城区" not in r.text
    row = _rates_row(client, city, "liaison_s21", "previous")
    cells = re.findall(r'<td class="num cases">([^<]*)</td>', r.text)
    assert cells[0] == f"{row['cases']:,}" and row["cases"] == 1  # C3's March case only


@pytest.mark.parametrize(("params", "status", "field"), [
    ({"period": "2025-W60"}, 422, "query.period"),
    ({"period": "2025-01-01..2025-01-31"}, 422, "query.period"),
    ({"period": "2031-05"}, 422, "query.period"),
    ({"period": "2025-03", "district": "D9"}, 404, "query.district"),
    ({"period": "2025-03", "format": "docx"}, 422, "query.format"),
])
def test_bad_parameters_are_named(city, client, params, status, field):
    r = _get(client, city, "admin", **params)
    assert r.status_code == status, r.text
    assert field in [e["field"] for e in r.json()["errors"]], r.json()


def test_planner_and_client_keys_get_no_week(city, client):
    for role in ("planner", "client"):
        r = _get(client, city, role, period="2025-W10", format="html")
        assert r.status_code == 422 and "whole months" in r.json()["detail"]


def test_a_raw_readers_briefing_is_audited_and_a_planners_is_not(city, client):
    def briefing_reads() -> list[dict]:
        items = client.get("/api/v1/audit", params={"action": "read_incidents", "limit": 1000},
                           headers=city.headers("admin")).json()["items"]
        return [i for i in items if i["endpoint"] == "GET /api/v1/briefings"]

    before = briefing_reads()
    assert _get(client, city, "liaison", period="2025-02", format="html").status_code == 200
    assert _get(client, city, "planner", period="2025-02", format="html").status_code == 200
    new = briefing_reads()[:len(briefing_reads()) - len(before)]
    assert [(i["role"], i["params"]) for i in new] == [
        ("liaison", {"period": "2025-02", "format": "html"})]


@pytest.mark.slow  # over 2 s on a busy 2-core machine
def test_the_command_line_names_what_is_wrong(city, tmp_path, capsys):
    if city.backend != "spatialite":
        pytest.skip("the command line runs on the SpatiaLite copy")
    db = city.settings.database_url
    out = tmp_path / "b.html"
    assert main(["-d", db, "briefing", "--district", "D1", "--period", "2025-13",
                 "--out", str(out)]) == 1
    assert "error: period" in capsys.readouterr().err
    assert main(["-d", db, "briefing", "--district", "D9", "--period", "2025-03",
                 "--out", str(out)]) == 1
    assert "no district with code or name 'D9'" in capsys.readouterr().err
    assert main(["-d", db, "briefing", "--district", "D1", "--period", "2030-03",
                 "--out", str(out)]) == 1
    assert "2030-03 holds no data" in capsys.readouterr().err
    assert not out.exists()
    assert main(["-d", db, "briefing", "--district", "D1", "--period", "2025-03",
                 "--out", str(out)]) == 0
    assert "已写入" in capsys.readouterr().err
    assert "东城区 月报 2025-03" in out.read_text(encoding="utf-8")


def test_a_missing_browser_is_a_clear_error():
    from api.briefing import RendererMissingError, briefing_pdf

    with pytest.raises(RendererMissingError, match=r"needs headless Chromium.*format=html"):
        briefing_pdf("<html></html>", browser="pingan-no-such-browser")
