"""The web workspace's pages: the login page at ``/``, login redirects, the landing dashboard.

The landing's figures are those of the JSON API for the same key (the page only renders the
services' reports), its jurisdiction is named, a liaison's page names nothing outside it, a
planner's holds no week, no near-repeat zone and the suppressed counts as ``<3``. Browser
navigations without a valid session go to ``/login?next=…`` (a local path only); API clients
keep their JSON 401.
"""

from __future__ import annotations

import html
import re
from urllib.parse import parse_qs, urlsplit

import pytest

from api.web import safe_next
from tests.api.appcity import log_in

HTML = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}
SAME_SITE = {"Origin": "http://testserver"}


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


def test_browser_navigation_without_a_session_goes_to_login_and_back(city):
    with city.client() as c:
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


@pytest.mark.slow
def test_an_ended_session_redirects_a_page_to_login(city):
    with city.client() as c:
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
def test_login_never_sends_the_browser_off_site(city, target):
    with city.client() as c:
        ok = log_in(c, city.tokens["client"], next=target)
    assert ok.status_code == 303 and ok.headers["location"] == "/"


@pytest.mark.slow
def test_liaison_landing_names_their_district_and_renders_the_services_figures(city):
    with city.client() as c:
        log_in(c, city.tokens["liaison"])
        page = c.get("/")
        assert page.status_code == 200 and 'id="kpis"' in page.text
        text = page.text
        assert re.search(r'<span class="place" data-code="D1">东城区</span>', text)
        for outside in ("西城区", "金融街社区", "月坛社区", "金融街街道"):
            assert outside not in text
        # each figure is the JSON API's for the same key
        for kind, period in (("week", "2025-W22"), ("month", "2025-06")):
            for compare in ("previous", "last-year"):
                api = c.get("/api/v1/rates", params={"period": period, "compare": compare,
                                                     "level": "city"}).json()["items"][0]
                cells = _cells(text, kind, compare)
                assert cells[1] == str(api["cases"]) and cells[3] == str(api["compare_cases"])
                assert cells[2] == f"{api['case_rate_per_10k_annual']:,.2f}"
        # May had C1's fifth incident: the month against the previous one is 0 against 1
        assert _cells(text, "month", "previous")[1:4:2] == ["0", "1"]
        # each item links to the map workspace showing it
        assert 'id="todo"' in text
        assert "/map?layers=standard&amp;period=2025&amp;community=C1" in text
        assert "/map?layers=rates&amp;period=2025-06" in text
        assert "/maps/" not in text
        # the logout form carries the session's CSRF token
        token = re.search(r'name="csrf_token" value="([0-9a-f]{64})"', text)
        assert token is not None
        # the one inline script carries the response's nonce
        nonce = re.search(r"'nonce-([^']+)'", page.headers["content-security-policy"]).group(1)
        assert re.findall(r"<script\b[^>]*>", text) == [f'<script nonce="{nonce}">']
        bad = c.post("/logout", data={"csrf_token": "0" * 64}, headers=SAME_SITE,
                     follow_redirects=False)
        assert bad.status_code == 403 and c.get("/api/v1/me").status_code == 200
        out = c.post("/logout", data={"csrf_token": token.group(1)}, headers=SAME_SITE,
                     follow_redirects=False)
        assert out.status_code == 303


@pytest.mark.slow
def test_planner_landing_is_aggregates_only(city):
    with city.client() as c:
        page = c.get("/", headers=city.headers("planner"))
    text = page.text
    assert page.status_code == 200 and 'data-code="city">全市</span>' in text
    assert 'data-kind="week"' not in text and 'class="zone"' not in text
    assert "近重复风险区只对管理员和辖区联络员显示" in text
    with city.client() as c:
        api = c.get("/api/v1/rates", params={"period": "2025-06", "compare": "previous",
                                             "level": "city"},
                    headers=city.headers("planner")).json()["items"][0]
    assert _cells(text, "month", "previous")[1] == api["cases"] == "<3"
    assert "小数值按发布规则隐藏" in text


@pytest.mark.slow
def test_english_switch_is_remembered(city):
    with city.client() as c:
        first = c.get("/", params={"lang": "en"}, headers=city.headers("admin"))
        assert 'lang="en"' in first.text and "The whole city" in first.text
        assert "pingan_lang=en" in first.headers["set-cookie"]
        again = c.get("/", headers=city.headers("admin"))
        assert "Cases at a glance" in again.text
        assert 'href="/?lang=zh"' in again.text


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
