"""The web workspace's pages: the login page at ``/``, login redirects, the landing dashboard.

The landing's figures are those of the JSON API for the same key (the page only renders the
services' reports), its jurisdiction is named, a liaison's page names nothing outside it, a
planner's holds no week, no near-repeat zone and the suppressed counts as ``<3``. Browser
navigations without a valid session go to ``/login?next=…`` (a local path only); API clients
keep their JSON 401. The page draws its shell and KPIs at once and fetches every heavy part
from ``/api/v1/landing/{part}`` (the values asserted here are those of the parts' fragments).

One app (and so one result cache) serves the module: the landing is computed once per role.
"""

from __future__ import annotations

import html
import re
from urllib.parse import parse_qs, urlsplit

import geopandas as gpd
import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.loading import load_file
from api.services.landing import PARTS
from api.web import safe_next
from tests.api.appcity import COMMUNITIES, City, log_in, write_city

HTML = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}
SAME_SITE = {"Origin": "http://testserver"}


@pytest.fixture(scope="module")
def app(city: City):
    """One app of the city for the module: its cache keeps every role's landing."""
    return create_app(city.settings, engine=city.engine)


def _part(c: TestClient, part: str, **params: str) -> dict:
    r = c.get(f"/api/v1/landing/{part}", params=params)
    assert r.status_code == 200, (part, r.text)
    assert r.headers["cache-control"] == "no-store"
    return r.json()


def _cells(page: str, kind: str, compare: str) -> list[str]:
    row = re.search(rf'<tr class="kpi" data-kind="{kind}" data-compare="{compare}">(.*?)</tr>',
                    page, re.S)
    assert row is not None, (kind, compare)
    return [html.unescape(c.strip())
            for c in re.findall(r"<td[^>]*>(.*?)</td>", row.group(1), re.S)]


def test_root_without_a_session_is_the_login_form_served_offline(client):
    page = client.get("/")
    assert page.status_code == 200
    assert '<form method="post" action="/login" class="login-box">' in page.text
    assert 'name="next" value="/"' in page.text and 'name="login_token"' in page.text
    assert 'lang="zh-CN"' in page.text and "登录" in page.text
    assert "<script" not in page.text  # the login page needs none
    assert "http://" not in page.text and "https://" not in page.text  # no outside asset
    assert page.headers["cache-control"] == "no-store"
    icon = client.get("/favicon.ico")
    assert icon.status_code == 200 and icon.content[:4] == b"\x00\x00\x01\x00"
    assert client.get("/static/app.css").headers["content-type"].startswith("text/css")
    assert client.get("/static/../web.py").status_code == 404


def test_browser_navigation_without_a_session_goes_to_login_and_back(city, app):
    with TestClient(app) as c:
        r = c.get("/maps/rates", params={"period": "2025"}, headers=HTML,
                  follow_redirects=False)
        assert r.status_code == 303
        target = r.headers["location"]
        assert urlsplit(target).path == "/login"
        assert parse_qs(urlsplit(target).query)["next"] == ["/maps/rates?period=2025"]
        form = c.get(target)
        assert 'name="next" value="/maps/rates?period=2025"' in form.text
        ok = log_in(c, city.tokens["liaison"], next="/maps/rates?period=2025")
        assert ok.status_code == 303 and ok.headers["location"] == "/maps/rates?period=2025"
        assert c.get("/maps/rates", params={"period": "2025"}, headers=HTML).status_code == 200


def test_api_clients_keep_the_json_401(client):
    for path, headers in (("/maps/rates", {}), ("/api/v1/me", HTML), ("/api/v1/rates", {})):
        r = client.get(path, headers=headers, follow_redirects=False)
        assert r.status_code == 401, path
        assert r.headers["content-type"].startswith("application/problem+json")


def test_an_ended_session_redirects_a_page_to_login(city, app):
    with TestClient(app) as c:
        log_in(c, city.tokens["planner"])
        session = c.cookies.get("pingan_session")
        assert c.get("/maps/rates", headers=HTML).status_code == 200
        assert c.post("/logout", headers=SAME_SITE, follow_redirects=False).status_code == 303
        c.cookies.set("pingan_session", session)  # a stale cookie the browser kept
        r = c.get("/maps/rates", headers=HTML, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"] == "/login?next=%2Fmaps%2Frates"
        assert c.get("/maps/rates", follow_redirects=False).status_code == 401
        # the root shows the login form rather than failing
        assert 'action="/login"' in c.get("/").text


@pytest.mark.parametrize(("target", "expected"), [
    ("/maps/rates?period=2025", "/maps/rates?period=2025"),
    ("/", "/"),
    ("//evil.example/x", "/"),
    ("/\\evil.example", "/"),
    ("/\t/evil.example", "/"),
    ("/\n/evil.example", "/"),
    ("https://evil.example/", "/"),
    ("javascript:alert(1)", "/"),
    ("maps/rates", "/"),
    ("", "/"),
    (None, "/"),
])
def test_next_is_a_local_path_only(target, expected):
    assert safe_next(target) == expected


@pytest.mark.parametrize("target", ["/\t/evil.example", "//evil.example", "https://evil.example"])
def test_login_never_sends_the_browser_off_site(city, app, target):
    with TestClient(app) as c:
        ok = log_in(c, city.tokens["client"], next=target)
    assert ok.status_code == 303 and ok.headers["location"] == "/"


@pytest.mark.slow
def test_liaison_landing_names_their_district_and_renders_the_services_figures(city, app):
    with TestClient(app) as c:
        log_in(c, city.tokens["liaison"])
        page = c.get("/")
        assert page.status_code == 200 and 'id="kpis"' in page.text
        text = page.text
        assert re.search(r'<span class="place" data-code="D1">东城区</span>', text)
        # the heavy parts are placeholders, each fetched by the script
        for part in PARTS:
            assert f'data-part="{part}"' in text and "计算中…" in text
        parts = {part: _part(c, part) for part in PARTS}
        everything = text + "".join(p["html"] for p in parts.values())
        for outside in ("西城区", "金融街社区", "月坛社区", "金融街街道"):
            assert outside not in everything
        # D1's data reach C1's 2025-05-15; the city's reach 2025-06-01 (C3, in D2): the
        # liaison's "data up to", week and month are D1's, never the later day elsewhere; the
        # week and month are the latest whole ones (a Thursday: the week before; April)
        assert "数据截至 2025-05-15" in text and "2025-06-01" not in everything
        assert {p["as_of"] for p in parts.values()} == {"2025-05-15"}
        assert {p["month"] for p in parts.values()} == {"2025-04"}
        # each figure is the JSON API's for the same key
        for kind, period in (("week", "2025-W19"), ("month", "2025-04")):
            for compare in ("previous", "last-year"):
                api = c.get("/api/v1/rates", params={"period": period, "compare": compare,
                                                     "level": "city"}).json()["items"][0]
                cells = _cells(text, kind, compare)
                assert cells[1] == str(api["cases"]) and cells[3] == str(api["compare_cases"])
                assert cells[2] == f"{api['case_rate_per_10k_annual']:,.2f}"
        # April had C1's fourth incident, March its third: the month against the previous one
        # is 1 against 1
        assert _cells(text, "month", "previous")[1:4:2] == ["1", "1"]
        assert 'id="todo"' in text
        todo = parts["todo"]
        # each item links to the map workspace showing it
        assert "/map?layers=standard&amp;period=2025&amp;community=C1" in todo["html"]
        assert "/maps/" not in todo["html"] and "/maps/" not in text
        assert {r["code"] for r in todo["items"]} <= {"C1", "C2"} and todo["year"] == "2025"
        creation = c.get("/api/v1/standard", params={"period": "2025", "level": "city"}
                         ).json()["items"][0]
        assert parts["creation"]["items"][0]["creation_rate"] == creation["creation_rate"]
        assert parts["creation"]["items"][0]["meets"] == creation["meets"]
        assert "/map?layers=rates&amp;period=2025-04" in text
        # the zones answer is a raw read, audited like /api/v1/near-repeat/zones
        zones = parts["zones"]
        log = c.get("/api/v1/audit", headers=city.headers("admin"),
                    params={"action": "read_incidents", "limit": 50}).json()["items"]
        mine = [e for e in log if e.get("endpoint", "").endswith("/api/v1/landing/zones")]
        assert mine and mine[0]["rows"] == zones["zone_incidents"]
        # the logout form carries the session's CSRF token
        token = re.search(r'name="csrf_token" value="([0-9a-f]{64})"', text)
        assert token is not None
        # the one script is the page's module, carrying the response's nonce
        nonce = re.search(r"'nonce-([^']+)'", page.headers["content-security-policy"]).group(1)
        assert re.findall(r"<script\b[^>]*>", text) == [
            f'<script nonce="{nonce}" src="/static/landing.js" defer>']
        js = c.get("/static/landing.js")
        assert js.status_code == 200 and "javascript" in js.headers["content-type"]
        assert "performance.mark(\"landing-ready\")" in js.text and "http" not in js.text
        bad = c.post("/logout", data={"csrf_token": "0" * 64}, headers=SAME_SITE,
                     follow_redirects=False)
        assert bad.status_code == 403 and c.get("/api/v1/me").status_code == 200
        out = c.post("/logout", data={"csrf_token": token.group(1)}, headers=SAME_SITE,
                     follow_redirects=False)
        assert out.status_code == 303
        assert c.get("/api/v1/landing/todo").status_code == 401


def test_planner_landing_is_aggregates_only(city, app):
    with TestClient(app, headers=city.headers("planner")) as c:
        page = c.get("/")
        text = page.text
        assert page.status_code == 200 and 'data-code="city">全市</span>' in text
        assert 'data-kind="week"' not in text and 'data-part="zones"' not in text
        assert "近重复风险区只对管理员和辖区联络员显示" in text
        # the city's data reach 2025-06-01: a planner is told the month, never the day
        assert "数据截至 2025-06 ·" in text and "2025-06-01" not in text
        zones = c.get("/api/v1/landing/zones")
        assert zones.status_code == 403 and "near-repeat risk zones" in zones.json()["detail"]
        parts = {part: _part(c, part) for part in PARTS if part != "zones"}
        assert all('class="zone"' not in p["html"] for p in parts.values())
        assert {p["as_of"] for p in parts.values()} == {"2025-06"}
        assert all("2025-06-01" not in p["html"] for p in parts.values())
        # 2025-06-01 is not the end of June: the latest whole month is May
        api = c.get("/api/v1/rates", params={"period": "2025-05", "compare": "previous",
                                             "level": "city"}).json()["items"][0]
        community = c.get("/api/v1/rates", params={"period": "2025-05", "compare": "previous",
                                                   "level": "community"}).json()["items"]
    assert _cells(text, "month", "previous")[1] == api["cases"] == "<3"
    assert "小数值按发布规则隐藏" in text
    # a rising community's counts are released as the rates API releases them
    released = {r["code"]: r["cases"] for r in community}
    for row in parts["rising"]["items"]:
        assert row["cases"] == released[row["code"]]
        assert row["cases"] == "<3" or row["cases"] == 0 or row["cases"] >= 3


def test_a_jurisdiction_no_community_carries_is_named_not_the_whole_city(fresh, tmp_path):
    # a boundary load moves C3 and C4 to a new subdistrict S29 of a new district D9: the
    # S21 liaison's key now matches no community
    renamed = [(c[0], c[1], "S29", c[3], "D9", c[5], *c[6:]) if c[4] == "D2" else c
               for c in COMMUNITIES]
    path, _ = write_city(tmp_path)
    gdf = gpd.read_file(path)
    gdf["subdistrict_code"] = [c[2] for c in renamed]
    gdf["district_code"] = [c[4] for c in renamed]
    gdf.to_file(path, driver="GeoJSON")
    load_file(fresh.engine, path, "communities")
    with fresh.client() as c:
        text = c.get("/", headers=fresh.headers("liaison_s21")).text
        english = c.get("/", params={"lang": "en"}, headers=fresh.headers("liaison_s21")).text
        admin = c.get("/", params={"lang": "zh"}, headers=fresh.headers("admin")).text
    heading = re.search(r'<h1 class="jurisdiction".*?</h1>', text, re.S).group(0)
    assert '<span class="place unmatched" data-code="S21">S21（无对应社区）</span>' in heading
    assert "全市" not in heading
    assert "S21（no communities match）" in english and "The whole city" not in english
    assert 'data-code="city">全市</span>' in admin  # an admin's world is still the city


def test_english_switch_is_remembered(city, app):
    with TestClient(app, headers=city.headers("admin")) as c:
        first = c.get("/", params={"lang": "en"})
        assert 'lang="en"' in first.text and "The whole city" in first.text
        assert "Computing…" in first.text
        assert "pingan_lang=en" in first.headers["set-cookie"]
        again = c.get("/")
        assert "Cases at a glance" in again.text
        assert 'href="/?lang=zh"' in again.text
        # the parts follow the language cookie, or the script's ?lang=
        assert "<th>Community</th><th>Status</th>" in _part(c, "todo")["html"]
        assert "<th>社区</th><th>状态</th>" in _part(c, "todo", lang="zh")["html"]


def test_a_landing_part_is_checked_and_needs_a_key(city, app):
    with TestClient(app) as c:
        assert c.get("/api/v1/landing/todo").status_code == 401
        r = c.get("/api/v1/landing/everything", headers=city.headers("admin"))
        assert r.status_code == 422 and "part" in r.text


def test_a_page_needing_another_role_sends_the_browser_to_login(city):
    from fastapi import Depends
    from fastapi.responses import HTMLResponse
    from fastapi.testclient import TestClient

    from api.app import create_app
    from api.deps import require_role

    app = create_app(city.settings, engine=city.engine)

    @app.get("/admin-page", include_in_schema=False)
    def admin_page(key=Depends(require_role("admin"))) -> HTMLResponse:  # noqa: B008
        return HTMLResponse(f"<p>{key.name}</p>")

    with TestClient(app) as c:
        planner = city.headers("planner")
        r = c.get("/admin-page", headers={**HTML, **planner}, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"] == "/login?next=%2Fadmin-page"
        r = c.get("/admin-page", headers=planner, follow_redirects=False)
        assert r.status_code == 403 and r.json()["type"].endswith("/forbidden")
        assert c.get("/admin-page", headers={**HTML, **city.headers("admin")}).status_code == 200
        # an API route keeps its 403 for a browser too
        r = c.get("/api/v1/audit", headers={**HTML, **planner}, follow_redirects=False)
        assert r.status_code == 403
