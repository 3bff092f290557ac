"""The page policy, credentials in URLs, failed-authentication limits and the audit log."""

from __future__ import annotations

import hmac
import json
import logging
import re

import pytest
import sqlalchemy as sa
from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.testclient import TestClient

from api import audit
from api.app import create_app
from api.auth import verify_token
from api.errors import RateLimitedError
from api.models import audit_log
from api.ratelimit import RateLimiter
from api.security import (
    AccessLogRedactor,
    add_script_nonces,
    content_security_policy,
    credential_parameters,
    redact_target,
    tile_source,
)
from api.settings import Settings

POLICY_HEADERS = ("content-security-policy", "x-content-type-options", "x-frame-options",
                  "referrer-policy")
TOKEN = "pa_0123abcd_" + "s" * 43


def nonce_of(response) -> str:
    m = re.search(r"script-src 'self' 'nonce-([A-Za-z0-9_\-]+)'",
                  response.headers["content-security-policy"])
    assert m is not None, response.headers["content-security-policy"]
    return m.group(1)


def assert_policy(response) -> None:
    h = response.headers
    csp = h["content-security-policy"]
    assert csp.startswith("default-src 'self'; script-src 'self' 'nonce-")
    for part in ("style-src 'self' 'unsafe-inline'", "img-src 'self' data: blob:",
                 "object-src 'none'", "base-uri 'none'", "form-action 'self'",
                 "frame-ancestors 'none'"):
        assert part in csp, part
    assert "http" not in csp  # no other host
    assert h["x-content-type-options"] == "nosniff" and h["x-frame-options"] == "DENY"
    assert h["referrer-policy"] == "same-origin"


# --- headers and nonces ------------------------------------------------------------------------


def test_every_response_carries_the_policy_and_pages_their_nonces(city):
    app = create_app(city.settings, engine=city.engine)

    @app.get("/boom", include_in_schema=False)
    def boom() -> None:
        raise RuntimeError("a bug")

    page = "<!doctype html><title>t</title><script>var x = 1;</script>"

    @app.api_route("/page", methods=["GET", "HEAD"], include_in_schema=False)
    def html_page() -> HTMLResponse:
        return HTMLResponse(page)

    h = city.headers("admin")
    with TestClient(app, raise_server_exceptions=False) as c:
        responses = {
            "health": c.get("/health"), "login": c.get("/login"), "docs": c.get("/docs"),
            "openapi": c.get("/openapi.json"), "asset": c.get("/maps/assets/leaflet/leaflet.js"),
            "401": c.get("/api/v1/communities"), "404": c.get("/nowhere"),
            "json": c.get("/api/v1/communities", headers=h),
            "csv": c.get("/api/v1/communities?format=csv", headers=h),
            "map": c.get("/maps/rates?period=2025", headers=h),
            "500": c.get("/boom"),
            "page": c.get("/page"), "head": c.head("/page"),
        }
    assert {k: r.status_code for k, r in responses.items()} == {
        "health": 200, "login": 200, "docs": 200, "openapi": 200, "asset": 200, "401": 401,
        "404": 404, "json": 200, "csv": 200, "map": 200, "500": 500, "page": 200,
        "head": 200}
    nonces = set()
    for name, r in responses.items():
        assert_policy(r)
        nonces.add(nonce_of(r))
        if r.headers["content-type"].startswith("text/html") and name != "head":
            tags = re.findall(r"<script\b[^>]*>", r.text)
            assert all(f'nonce="{nonce_of(r)}"' in t for t in tags), (name, tags)
            assert int(r.headers["content-length"]) == len(r.content)
    assert len(nonces) == len(responses)  # a fresh nonce per response
    assert re.findall(r"<script\b", responses["map"].text)  # the map has scripts, all nonced
    assert "<script" not in responses["login"].text  # the login page needs none
    # HEAD: no body to rewrite, and the length of the page as the handler made it
    assert responses["head"].content == b""
    assert responses["head"].headers["content-length"] == str(len(page.encode()))
    assert responses["page"].text == page.replace(
        "<script>", f'<script nonce="{nonce_of(responses["page"])}">')


def test_operator_tiles_are_the_one_other_image_source(city):
    settings = Settings(**{**city.settings.model_dump(), "maps": {
        "tile_url": "https://{s}.tiles.example.cn/{z}/{x}/{y}.png"}})
    with TestClient(create_app(settings, engine=city.engine)) as c:
        csp = c.get("/health").headers["content-security-policy"]
    assert "img-src 'self' data: blob: https://*.tiles.example.cn;" in csp


@pytest.mark.parametrize(("url", "source"), [
    (None, None),
    ("/tiles/{z}/{x}/{y}.png", None),
    ("https://tiles.example.cn/{z}/{x}/{y}.png", "https://tiles.example.cn"),
    ("http://{s}.tile.example/{z}/{x}/{y}.png", "http://*.tile.example"),
    ("https://t{s}.example/{z}/{x}/{y}.png", "https:"),
    ("http://10.1.2.3:8080/wmts/{z}/{x}/{y}", "http://10.1.2.3:8080"),
])
def test_tile_source(url, source):
    assert tile_source(url) == source


def test_add_script_nonces_marks_script_elements_only():
    page = ('<!doctype html><html><head><title>a <script> in a title</title>'
            '<script src="/a.js"></script><SCRIPT type="text/javascript" nonce="old">x()</SCRIPT>'
            '<!-- <script>commented()</script> -->'
            '<style>p::after { content: "<script>" }</style></head>'
            '<body data-x="a>b"><div title=\'<script>\'>t</div>'
            '<script>var d = {"name": "<\\/script><script>alert(1)<\\/script>",'
            ' "s": "<script>"};</script>'
            '<textarea><script>typed()</script></textarea></body></html>')
    out = add_script_nonces(page, "N1")
    assert re.findall(r"<script\b[^>]*>", out, re.IGNORECASE) == [
        "<script>",  # text inside the title
        '<script nonce="N1" src="/a.js">',
        '<SCRIPT nonce="N1" type="text/javascript">',  # the old nonce replaced
        "<script>",  # commented out
        "<script>",  # text inside a style sheet
        "<script>",  # an attribute value
        '<script nonce="N1">',
        "<script>", "<script>",  # text inside a script (JSON strings)
        "<script>",  # text inside a textarea
    ]
    assert out.count('nonce="N1"') == 3 and 'nonce="old"' not in out
    assert '"s": "<script>"' in out and "<textarea><script>typed()" in out
    assert "<!-- <script>commented()</script> -->" in out
    assert "<title>a <script> in a title</title>" in out


def test_content_security_policy_text():
    assert content_security_policy("abc", img_sources=["https://t.example"]) == (
        "default-src 'self'; script-src 'self' 'nonce-abc'; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data: blob: https://t.example; font-src 'self' data:; "
        "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")


# --- credentials in URLs -----------------------------------------------------------------------


@pytest.mark.parametrize("query", [f"api_key={TOKEN}", f"key={TOKEN}", f"token={TOKEN}",
                                   f"access_token={TOKEN}", "API_KEY=x", f"period=2025&q={TOKEN}",
                                   f"period=2025&apikey={TOKEN}"])
def test_a_credential_in_the_query_is_refused(client, city, query):
    r = client.get(f"/api/v1/communities?{query}", headers=city.headers("admin"))
    assert r.status_code == 400
    body = r.json()
    assert body["type"] == "https://pingan.dev/problems/credential-in-url"
    assert r.headers["content-type"] == "application/problem+json"
    assert "Authorization: Bearer" in body["detail"] and TOKEN not in r.text
    assert_policy(r)
    with city.engine.connect() as conn:
        stored = conn.execute(sa.select(audit_log.c.params, audit_log.c.endpoint)).all()
    assert TOKEN not in str(stored)


def test_credential_parameters_and_redaction():
    assert credential_parameters(f"period=2025&Key=1&x={TOKEN}&token=") == ["Key", "x", "token"]
    assert credential_parameters("period=2025&key_id=3&monkey=1") == []
    assert redact_target(f"/maps/rates?period=2025&api_key={TOKEN}&access%5Ftoken=abc") == (
        "/maps/rates?period=2025&api_key=[redacted]&access%5Ftoken=[redacted]")
    assert redact_target(f"/x/{TOKEN}?a=1") == "/x/[redacted]?a=1"
    assert redact_target("/api/v1/rates?period=2025") == "/api/v1/rates?period=2025"


def test_access_log_filter_redacts_uvicorns_request_line():
    record = logging.LogRecord("uvicorn.access", logging.INFO, __file__, 1,
                               '%s - "%s %s HTTP/%s" %d',
                               ("1.2.3.4:5", "GET", f"/api/v1/me?api_key={TOKEN}", "1.1", 400),
                               None)
    assert AccessLogRedactor().filter(record) is True
    line = record.getMessage()
    assert TOKEN not in line and "api_key=[redacted]" in line


def test_the_app_filters_uvicorns_access_log(city):
    logger = logging.getLogger("uvicorn.access")
    for f in [f for f in logger.filters if isinstance(f, AccessLogRedactor)]:
        logger.removeFilter(f)
    create_app(city.settings, engine=city.engine)
    create_app(city.settings, engine=city.engine)
    assert sum(isinstance(f, AccessLogRedactor) for f in logger.filters) == 1


# --- failed authentications --------------------------------------------------------------------


def rows(engine, action: str) -> list:
    with engine.connect() as conn:
        return conn.execute(sa.select(audit_log).where(audit_log.c.action == action)
                            .order_by(audit_log.c.id)).all()


def limited_client(city, *, address: str, per_minute: int = 3, failures: int = 3) -> TestClient:
    api = {**city.settings.api.model_dump(), "rate_limit_per_minute": per_minute,
           "auth_failures_per_minute": failures}
    settings = Settings(**{**city.settings.model_dump(), "api": api})
    return TestClient(create_app(settings, engine=city.engine), client=(address, 5000))


def test_failures_are_limited_per_address_before_the_next_guess(city):
    bad = {"Authorization": "Bearer pa_00000000_" + "x" * 43}
    with limited_client(city, address="10.0.0.1", per_minute=100) as c:
        statuses = [c.get("/api/v1/me", headers=bad).status_code for _ in range(4)]
        # the address is out of attempts: even the right key is not looked at now
        right = c.get("/api/v1/me", headers=city.headers("planner"))
        missing = c.get("/api/v1/me")
        login = c.get("/login")
    assert statuses == [401, 401, 401, 429] and right.status_code == 429
    assert missing.status_code == 429 and login.status_code == 200
    assert int(right.headers["retry-after"]) >= 1
    # another address is not affected
    with limited_client(city, address="10.0.0.2", per_minute=100) as c:
        assert c.get("/api/v1/me", headers=city.headers("planner")).status_code == 200


def test_failures_are_limited_per_key_prefix_across_addresses(city):
    prefix = city.tokens["client"].split("_")[1]
    wrong = {"Authorization": f"Bearer pa_{prefix}_" + "w" * 43}
    api = {**city.settings.api.model_dump(), "auth_failures_per_minute": 3}
    app = create_app(Settings(**{**city.settings.model_dump(), "api": api}), engine=city.engine)
    statuses = []
    for i in range(5):
        with TestClient(app, client=(f"10.1.0.{i}", 5000)) as c:
            statuses.append(c.get("/api/v1/me", headers=wrong).status_code)
    assert statuses == [401, 401, 401, 429, 429]
    # the key's owner is not locked out by someone guessing at its public prefix
    with TestClient(app, client=("10.1.0.9", 5000)) as c:
        assert c.get("/api/v1/me", headers=city.headers("client")).status_code == 200


def test_unknown_and_known_prefixes_do_the_same_work(engine, monkeypatch):
    from api.auth import AuthError, create_key

    token = create_key(engine, name="k", role="client").token
    calls: list[tuple[int, int]] = []
    original = hmac.compare_digest

    def counting(a, b):
        calls.append((len(a), len(b)))
        return original(a, b)

    monkeypatch.setattr("api.auth.hmac.compare_digest", counting)
    prefix = token.split("_")[1]
    unknown = "pa_ffffffff_" + token.split("_", 2)[2]
    for attempt in (unknown, f"pa_{prefix}_" + "x" * 43):
        with pytest.raises(AuthError, match="not valid") as info:
            verify_token(engine, attempt)
        assert info.value.reason == "unknown"
    assert verify_token(engine, token).prefix == prefix
    assert calls == [(64, 64)] * 3  # one constant-time comparison of two SHA-256s each time


# --- the audit log -----------------------------------------------------------------------------


def test_rate_limited_requests_are_one_row_per_window_with_a_count(city):
    before = len(rows(city.engine, "rate_limited"))
    with limited_client(city, address="10.2.0.1", per_minute=2, failures=2) as c:
        ok = [c.get("/api/v1/me", headers=city.headers("planner")).status_code
              for _ in range(40)]
        bad = [c.get("/api/v1/me", headers={"Authorization": "Bearer nonsense"}).status_code
               for _ in range(30)]
    assert ok == [200, 200] + [429] * 38 and bad == [401, 401] + [429] * 28
    new = rows(city.engine, "rate_limited")[before:]
    by_identity = {json.loads(r.params)["identity"]: r for r in new}
    assert set(by_identity) == {next(f"key:{r.key_id}" for r in new if r.key_id),
                                "ip:10.2.0.1"}
    key_row = next(r for r in new if r.key_id)
    assert key_row._mapping["count"] == 38 and key_row.role == "planner" and key_row.status == 429
    assert key_row.endpoint == "GET /api/v1/me"
    ip_row = by_identity["ip:10.2.0.1"]
    assert ip_row._mapping["count"] == 28 and ip_row.client == "10.2.0.1"
    assert json.loads(ip_row.params)["reason"] == "failures"  # refused before the check


def test_repeated_events_open_a_row_per_window_and_flush_counts():
    import tempfile

    from api.db import create_db_engine, migrate

    engine = create_db_engine(f"sqlite:///{tempfile.mkdtemp()}/a.db")
    migrate(engine)
    now = [0.0]
    repeats = audit.RepeatedEvents(window_s=60, flush_s=1, clock=lambda: now[0])

    def counts():
        return [(json.loads(r.params)["identity"], r._mapping["count"])
                for r in rows(engine, "rate_limited")]

    for t in (0.0, 0.2, 0.4):
        now[0] = t
        repeats.record(engine, "ip:a", endpoint="GET /x")
    assert counts() == [("ip:a", 1)]  # the last two wait in memory
    now[0] = 1.5
    repeats.record(engine, "ip:a")
    assert counts() == [("ip:a", 4)]  # flushed after a second
    now[0] = 1.6
    repeats.record(engine, "ip:b")
    now[0] = 61.0
    repeats.record(engine, "ip:a")  # a new window: a new row
    assert counts() == [("ip:a", 4), ("ip:b", 1), ("ip:a", 1)]
    repeats.record(engine, "ip:a")
    repeats.flush(engine)
    assert counts() == [("ip:a", 4), ("ip:b", 1), ("ip:a", 2)]
    with pytest.raises(ValueError, match="window_s must be > 0"):
        audit.RepeatedEvents(window_s=0)
    engine.dispose()


def test_stored_parameters_are_redacted_and_capped():
    params = {"period": "2025", "api_key": "abc", "password": "p", "secret_key": "s",
              "session": "x", "Authorization": "Bearer y", "key": "k", "key_id": 7,
              "prefix": "0123abcd", "q": f"look {TOKEN}", "long": "长" * 1000,
              "list": list(range(50)), "nested": {"token": "t", "deep": {"a": {"b": 1}}}}
    params.update({f"p{i:03d}": i for i in range(100)})
    out = audit.redact_params(params)
    assert len(out) == audit.MAX_PARAMS + 1 and out["_dropped"] == len(params) - audit.MAX_PARAMS
    for name in ("api_key", "password", "secret_key", "session", "Authorization", "key"):
        assert out[name] == "[redacted]", name
    assert out["key_id"] == 7 and out["prefix"] == "0123abcd" and out["period"] == "2025"
    assert out["q"] == "look [redacted]"
    assert len(out["long"]) == audit.MAX_PARAM_CHARS and out["long"].endswith("…")
    assert out["list"][:20] == list(range(20)) and out["list"][20] == "… 30 more"
    assert out["nested"]["token"] == "[redacted]"
    assert out["nested"]["deep"] == {"a": '{"b": 1}'}
    assert TOKEN not in json.dumps(out)


def test_record_request_stores_redacted_query_and_released_rows(city):
    app = create_app(city.settings, engine=city.engine)
    seen = {}

    @app.get("/probe", include_in_schema=False)
    def probe(request: Request) -> dict:
        seen["id"] = audit.record_request(city.engine, request, "read_incidents", rows=12)
        return {}

    with TestClient(app, client=("10.3.0.1", 1)) as c:
        assert c.get("/probe?period=2025&category=a&category=b&db_password=x").status_code == 200
    with city.engine.connect() as conn:
        row = conn.execute(sa.select(audit_log).where(audit_log.c.id == seen["id"])).one()
    assert row.rows == 12 and row.endpoint == "GET /probe" and row.client == "10.3.0.1"
    assert json.loads(row.params) == {"period": "2025", "category": ["a", "b"],
                                      "db_password": "[redacted]"}


def test_rate_limiter_peeks_without_taking():
    now = [0.0]
    limiter = RateLimiter(2, clock=lambda: now[0])
    limiter.ensure_available("ip:a")
    limiter.ensure_available("ip:a")
    limiter.check("ip:a")
    limiter.check("ip:a")
    with pytest.raises(RateLimitedError, match="retry in 30 s"):
        limiter.ensure_available("ip:a")
    now[0] = 30.0
    limiter.ensure_available("ip:a")
    RateLimiter(0).ensure_available("x")
