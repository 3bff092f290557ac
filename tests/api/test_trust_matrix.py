"""The adversarial trust matrix in CI: a pairwise subset of routes × variants, every credential.

See :mod:`tests.api.trust_matrix` for what is generated and checked; ``bench/trust_matrix.py``
runs the full product.
"""

from __future__ import annotations

import collections

import pytest

from tests.api.trust_matrix import (
    CREDENTIALS,
    all_maps,
    cases,
    check,
    follow_describedby,
    routes,
    send,
)

pytestmark = pytest.mark.slow  # over 2 s: outside the fast subset (-m "not slow")


@pytest.fixture(scope="module")
def openapi(client):
    return client.app.openapi()


def test_the_matrix_covers_every_route_and_map_kind(client):
    spec = client.app.openapi()
    documented = {(m, r) for m, r, _, _ in routes(spec)}
    covered = {(c.method, c.route) for c in cases(spec)}
    assert documented <= covered
    assert all_maps(spec)
    assert len(cases(spec)) < len(cases(spec, full=True))


def test_every_answer_releases_only_what_the_caller_may_see(city, client, openapi):
    headers = {c: (city.headers(c) if c in city.tokens else {}) for c in CREDENTIALS}
    problems = []
    answered = collections.Counter()
    for case in cases(openapi):
        for credential in CREDENTIALS:
            response = send(client, case, headers[credential])
            answered[response.status_code // 100] += 1
            described = follow_describedby(client, response, headers[credential])
            problems += [f"{credential} {case.id}: {p}"
                         for p in check(case, credential, response, described)]
    assert problems == [], "\n".join(problems[:40])
    # The matrix reached real answers, not only refusals.
    assert answered[2] > 300 and answered[4] > 100


def test_the_checks_catch_a_leak(city, client):
    """The checks are not vacuous: an admin's export, checked as a planner's, fails them."""
    from tests.api.trust_matrix import Case

    case = Case("GET", "/api/v1/incidents", "/api/v1/incidents", (("format", "geojson"),))
    response = send(client, case, city.headers("admin"))
    problems = check(case, "planner", response)
    assert any("incident ids leaked" in p for p in problems)
    assert any("positions leaked" in p for p in problems)
    assert any("addresses leaked" in p for p in problems)
    rates = Case("GET", "/api/v1/hotspots", "/api/v1/hotspots", (("period", "2025"),))
    assert any("statistic" in p for p in check(rates, "client", send(
        client, rates, city.headers("admin"))))


def test_the_checks_catch_a_leak_of_a_drawn_area(city, client):
    """An admin's area over the city, checked as a liaison's or a planner's, fails the checks."""
    from tests.api.trust_matrix import AREA_BODIES, AREA_QUERY, Case

    case = Case("POST", AREA_QUERY, AREA_QUERY, (("body", 0),), body=AREA_BODIES[0])
    admin = send(client, case, city.headers("admin"))
    assert admin.status_code == 200 and check(case, "admin", admin) == []
    liaison = check(case, "liaison", admin)
    assert any("area counts 13; the caller's own incidents inside it are 7" in p
               for p in liaison), liaison
    assert any("incident ids leaked" in p for p in liaison)
    planner = check(case, "planner", admin)
    assert any("an incident list answered to a protected caller" in p for p in planner)
    assert any("area count 2 released" in p or "area count 1 released" in p
               for p in planner), planner
    assert check(case, "liaison", send(client, case, city.headers("liaison"))) == []


def test_the_checks_catch_a_leak_of_a_landing_part(city, client):
    """An admin's landing parts, checked as a liaison's or a planner's, fail the checks."""
    from tests.api.trust_matrix import Case

    todo = Case("GET", "/api/v1/landing/{part}", "/api/v1/landing/todo")
    admin = send(client, todo, city.headers("admin"))
    assert admin.status_code == 200 and check(todo, "admin", admin) == []
    assert any("outside the jurisdiction" in p for p in check(todo, "liaison", admin))
    zones = Case("GET", "/api/v1/landing/{part}", "/api/v1/landing/zones")
    answer = send(client, zones, city.headers("admin"))
    assert any("risk zones answered to a protected caller" in p
               for p in check(zones, "planner", answer))


def test_the_checks_catch_a_leak_of_a_space_time_surface(city, client):
    """An admin's emerging hot spots and density surfaces, checked as others', fail them."""
    from tests.api.trust_matrix import Case

    emerging = Case("GET", "/api/v1/emerging", "/api/v1/emerging", (("period", "2025"),))
    problems = check(emerging, "planner", send(client, emerging, city.headers("admin")))
    assert any("counts per step released" in p for p in problems)
    assert any("statistic trend_tau" in p for p in problems), problems
    # the D1 liaison's answer, with C3's incidents counted into a cell they share
    liaison = Case("GET", "/api/v1/emerging", "/api/v1/emerging",
                   (("period", "2025"), ("district", "D1")))
    assert check(liaison, "liaison", send(client, liaison, city.headers("liaison"))) == []
    fine = Case("GET", "/api/v1/kde", "/api/v1/kde",
                (("period", "2025"), ("bandwidth_m", 100), ("cell_m", 100)))
    for fmt in ("json", "tif"):
        case = Case("GET", "/api/v1/kde", "/api/v1/kde", (*fine.params, ("format", fmt)))
        problems = check(case, "client", send(client, case, city.headers("admin")))
        assert any("bandwidth 100 m under 500 m" in p for p in problems), problems
        assert any("100 m cells" in p for p in problems), problems
    # an admin's surface of D1 is masked to D1 but made of every incident: C3's cluster
    # reaches into C2 at 1,000 m, so as the D1 liaison's surface it is caught
    wide = Case("GET", "/api/v1/kde", "/api/v1/kde",
                (("period", "2025"), ("district", "D1"), ("bandwidth_m", 1000)))
    assert any("differs from the surface of the caller's own incidents" in p for p in check(
        wide, "liaison", send(client, wide, city.headers("admin"))))
    assert check(wide, "liaison", send(client, wide, city.headers("liaison"))) == []


def test_the_checks_catch_a_leak_of_near_repeats_and_alerts(city, client):
    """An admin's Knox table, risk zones and alerts, checked as others', fail the checks."""
    from tests.api.trust_matrix import Case

    table = Case("GET", "/api/v1/near-repeat", "/api/v1/near-repeat", (("period", "2025"),))
    admin = send(client, table, city.headers("admin"))
    assert any("Knox figure 'observed' released" in p for p in check(table, "planner", admin))
    # the admin's pairs include C3's and C4's: not those of the D1 liaison's world
    assert any("not those of the caller's own" in p for p in check(table, "liaison", admin))
    assert check(table, "liaison", send(client, table, city.headers("liaison"))) == []
    zones = Case("GET", "/api/v1/near-repeat/zones", "/api/v1/near-repeat/zones",
                 (("period", "2025"),))
    assert any("risk zones released" in p for p in check(
        zones, "client", send(client, zones, city.headers("admin"))))
    alerts = Case("GET", "/api/v1/alerts", "/api/v1/alerts", (("as_of", "2025-03-16"),))
    problems = check(alerts, "client", send(client, alerts, city.headers("admin")))
    assert any("alert figure 'observed' released" in p for p in problems), problems
    assert any("without an alert" in p for p in problems)
    # the week of 10-16 March holds C1's and C3's March incidents: the admin's C1 row, as
    # the S21 liaison's, counts an incident outside their world
    liaison = check(alerts, "liaison_s21", send(client, alerts, city.headers("admin")))
    assert liaison == ["alert of C1 observes 1.0; the caller's world has 0 in "
                       "2025-03-10..2025-03-16"], liaison
    assert check(alerts, "liaison_s21", send(client, alerts, city.headers("liaison_s21"))) == []


def test_the_checks_catch_a_csv_without_its_own_provenance(city, client):
    """A CSV's describedby link must be this request's provenance, answered alike."""
    from tests.api.trust_matrix import Case

    h = city.headers("planner")
    case = Case("GET", "/api/v1/rates", "/api/v1/rates", (("period", "2025"), ("format", "csv")))
    response = send(client, case, h)
    described = follow_describedby(client, response, h)
    assert described is not None and described.status_code == 200
    assert check(case, "planner", response, described) == []
    other = Case("GET", "/api/v1/rates", "/api/v1/rates", (("period", "2024"), ("format", "csv")))
    assert any("is not this request's provenance" in p
               for p in check(other, "planner", response, described))
    assert any("without Link" in p for p in check(case, "planner", _without_link(response)))
    # an admin's incident list in provenance form, checked as the planner's, fails
    raw = Case("GET", "/api/v1/incidents", "/api/v1/incidents", (("format", "csv"),))
    admin = city.headers("admin")
    answer = send(client, raw, admin)
    problems = check(raw, "planner", answer, follow_describedby(client, answer, admin))
    assert any("incident ids leaked" in p for p in problems)


def test_the_checks_catch_a_leak_in_a_briefing(city, client):
    """An admin's briefing of the whole city, as HTML or PDF, fails the checks of others."""
    from tests.api.trust_matrix import Case

    for fmt in ("html", "pdf"):
        case = Case("GET", "/api/v1/briefings", "/api/v1/briefings",
                    (("period", "2025-03"), ("format", fmt)))
        admin = send(client, case, city.headers("admin"))
        assert admin.status_code == 200, admin.text
        assert check(case, "admin", admin) == []
        liaison = check(case, "liaison", admin)
        assert "name 金融街社区 outside the jurisdiction" in liaison, liaison
        assert "name 月坛社区 outside the jurisdiction" in liaison, liaison
        # March: C1 and C3 one case each, so the city's KPIs count 2 (and 1 in March 2024)
        planner = check(case, "planner", admin)
        assert any("count 2 in a protected caller's briefing" in p for p in planner), planner
        assert check(case, "planner", send(client, case, city.headers("planner"))) == []


def _without_link(response):
    import httpx

    headers = [(k, v) for k, v in response.headers.items() if k.lower() != "link"]
    return httpx.Response(response.status_code, headers=headers, content=response.content)


@pytest.mark.parametrize("credential", ["admin", "liaison", "planner", "client"])
def test_the_provenance_document_is_the_provenance_the_json_carries(city, client, openapi,
                                                                      credential):
    """format=provenance tells a caller what the JSON (and the old CSV lines) told them, and
    nothing more: the same trust layer answers both."""
    h = city.headers(credential)
    described = {route for route, ops in openapi["paths"].items()
                 for p in ops.get("get", {}).get("parameters", [])
                 if p["name"] == "format" and "provenance" in p["schema"].get("enum", [])}
    seen = set()
    for case in cases(openapi):
        query = case.query()
        if (case.method != "GET" or query.get("format") != "json" or case.route in seen
                or case.route not in described):
            continue
        seen.add(case.route)
        params = {k: list(v) if isinstance(v, tuple) else v for k, v in query.items()}
        as_json = client.get(case.path, params=params, headers=h)
        as_prov = client.get(case.path, params={**params, "format": "provenance"}, headers=h)
        assert as_prov.status_code == as_json.status_code, case.id
        if as_json.status_code != 200:
            continue
        body, doc = as_json.json(), as_prov.json()
        want = {k: v for k, v in body["provenance"].items() if k != "generated_at"}
        got = {k: v for k, v in doc["provenance"].items() if k not in ("generated_at", "page")}
        assert got == want, case.id
        assert doc["describes"]["rows"] == body["count"], case.id
    assert len(seen) > 15
