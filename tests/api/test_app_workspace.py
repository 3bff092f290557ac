"""The map workspace page (``/map``): what each role is offered, offline, behind a login.

The page holds its configuration (layers, places, categories, time controls, the outline of
the caller's world) and loads only pingan's own scripts; its layers come from the JSON API in
the browser (``tests/api/test_app_workspace_browser.py``). A liaison's configuration names
only the places of their jurisdiction; a planner is offered no raw layer, no hour filter and
whole months, quarters or years only.
"""

from __future__ import annotations

import json
import re
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.api.appcity import log_in

HTML = {"Accept": "text/html,application/xhtml+xml"}


def _config(text: str) -> dict:
    match = re.search(r'<script[^>]*id="ws-config"[^>]*>(.*?)</script>', text, re.S)
    assert match is not None
    return json.loads(match.group(1))


def _codes(config: dict, key: str) -> list[str]:
    return [p["code"] for p in config[key]]


def test_liaison_config_holds_only_their_jurisdiction(city, client):
    page = client.get("/map", headers=city.headers("liaison"))
    assert page.status_code == 200 and page.headers["cache-control"] == "no-store"
    config = _config(page.text)
    assert config["role"] == "liaison" and config["raw"] is True
    assert config["jurisdiction"] == [{"code": "D1", "level": "district", "name": "东城区"}]
    assert _codes(config, "districts") == ["D1"]
    assert _codes(config, "subdistricts") == ["S11", "S12"]
    assert [d["code"] for d in config["district_outlines"]] == ["D1"]
    # the outline is C1 and C2 dissolved: X0..X0+0.02 by Y0..Y0+0.01
    xs = [p[0] for p in config["outline"]["coordinates"][0]]
    assert (min(xs), max(xs)) == (pytest.approx(116.30), pytest.approx(116.32))
    assert config["layers"][:2] == ["incidents", "rates"] and "zones" in config["layers"]
    assert config["categories"] == {"names": ["fraud", "theft"], "multiple": True}
    # the slider starts at C1's 2024 record, in the liaison's world
    assert config["time"] == {"first": "2024-03-01", "last": "2025-06-01",
                              "steps": ["day", "week", "month"], "default_step": "month",
                              "hours": True}
    for outside in ("西城区", "金融街", "月坛", "C3", "C4", "D2", "S21"):
        assert outside not in page.text
    s21 = _config(client.get("/map", headers=city.headers("liaison_s21")).text)
    assert s21["jurisdiction"][0]["name"] == "金融街街道"
    assert _codes(s21, "districts") == ["D2"] and _codes(s21, "subdistricts") == ["S21"]
    # their slider starts with their own first incident, not C1's of 2024
    assert s21["time"]["first"] == "2025-01-01"


def test_planner_is_offered_aggregates_in_whole_months(city, client):
    page = client.get("/map", params={"lang": "en"}, headers=city.headers("planner"))
    config = _config(page.text)
    assert config["protected"] is True and config["raw"] is False
    assert "incidents" not in config["layers"] and "zones" not in config["layers"]
    assert config["time"]["steps"] == ["month", "quarter", "year"]
    assert config["time"]["hours"] is False and 'name="hours"' not in page.text
    assert config["categories"]["multiple"] is False
    assert _codes(config, "districts") == ["D1", "D2"] and config["jurisdiction"] == []
    assert "Map workspace" in page.text and 'lang="en"' in page.text
    assert "whole months, quarters or years" in page.text


def test_the_page_loads_nothing_from_another_host(city, client):
    page = client.get("/map", headers=city.headers("admin"))
    text = page.text
    assert "http://" not in text and "https://" not in text and "//" not in re.sub(
        r"<script[^>]*>.*?</script>", "", text, flags=re.S).replace("://", "")
    links = re.findall(r'(?:src|href)="([^"]*)"', text)
    assert links and all(u.startswith(("/", "#", "?")) for u in links), links
    for url in (u for u in links if u.startswith(("/static/", "/maps/assets/"))):
        assert client.get(url).status_code == 200, url
    assert {"/static/workspace.js", "/static/workspace-state.js", "/static/workspace-crs.js",
            "/static/workspace-plan.js", "/static/workspace-draw.js",
            "/maps/assets/leaflet/leaflet.js"} <= set(links)
    # every script element carries the response's nonce (the CSP allows no other inline one)
    nonce = re.search(r"'nonce-([^']+)'", page.headers["content-security-policy"]).group(1)
    tags = re.findall(r"<script\b[^>]*>", text)
    assert len(tags) == 8 and all(f'nonce="{nonce}"' in t for t in tags)


def test_without_a_session_the_browser_goes_to_login_and_comes_back(city):
    target = "/map?layers=rates&period=2025-06"
    with city.client() as c:
        r = c.get(target, headers=HTML, follow_redirects=False)
        assert r.status_code == 303
        assert parse_qs(urlsplit(r.headers["location"]).query)["next"] == [target]
        assert c.get("/map", follow_redirects=False).status_code == 401  # an API client
        ok = log_in(c, city.tokens["liaison"], next=target)
        assert ok.headers["location"] == target
        page = c.get(target, headers=HTML)
        assert page.status_code == 200 and 'id="ws-map"' in page.text
        # the session's logout form carries its CSRF token
        assert re.search(r'name="csrf_token" value="[0-9a-f]{64}"', page.text)


@pytest.mark.slow
def test_landing_items_link_to_the_workspace(city):
    with city.client() as c:
        text = c.get("/", headers=city.headers("admin")).text
        # the heavy parts come from their endpoints, as the page's script fetches them
        text += "".join(c.get(f"/api/v1/landing/{part}", headers=city.headers("admin"))
                        .json()["html"] for part in ("coverage", "todo"))
    links = set(re.findall(r'href="(/map\?[^"]*)"', text))
    # the latest whole week (2025-06-01 is a Sunday) and month (May: June has one day)
    assert "/map?layers=rates&amp;period=2025-W22" in links
    assert "/map?layers=rates&amp;period=2025-05" in links
    assert "/map?layers=standard&amp;period=2025" in links
    assert any(u.startswith("/map?layers=coverage,gaps&amp;type=police_office") for u in links)
    assert ">社区警务室</a>" in text  # the facility type by its name, not its code
    assert "/maps/" not in text


def test_the_streets_are_those_of_the_callers_area(city, client):
    def lines(role: str, **params: str) -> list[list[list[float]]]:
        r = client.get("/api/v1/roads", params=params, headers=city.headers(role))
        assert r.status_code == 200
        return [f["geometry"]["coordinates"] for f in r.json()["features"]]

    every = lines("admin")
    # the test city's streets noded at every crossing: 5 x 16 east-west, 17 x 4 north-south
    assert len(every) == 5 * 16 + 17 * 4
    d1 = lines("liaison")
    # D1 is X0..X0+0.02: every street inside it, none starting 50 m east of it
    inside = [ln for ln in every if max(x for x, _ in ln) < 116.32 - 1e-6]
    assert len(inside) > 50
    assert all(ln in d1 for ln in inside)
    assert all(min(x for x, _ in ln) < 116.3205 for ln in d1) and len(d1) < len(every)
    assert lines("planner", district="D2") == lines("liaison_s21")
    r = client.get("/api/v1/roads", params={"district": "D2"}, headers=city.headers("liaison"))
    assert r.status_code == 403 and "district" in r.json()["detail"]
