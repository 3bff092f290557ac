"""Browser sessions on the server: logout, rotation, key changes, cross-site writes, login CSRF."""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from api.app import create_app
from api.auth import SESSION_COOKIE, revoke_key
from api.db import migrate
from api.models import api_keys, audit_log, sessions
from api.sessions import LOGIN_COOKIE, check_login_token, key_fingerprint, login_token
from api.settings import Settings
from tests.api.appcity import log_in, page_csrf

SAME_SITE = {"Origin": "http://testserver"}


def session_rows(engine) -> list:
    with engine.connect() as conn:
        return conn.execute(sa.select(sessions).order_by(sessions.c.created_at)).all()


def client_with(fresh, cookie: str) -> TestClient:
    """A new browser (client) that holds only the given session cookie."""
    c = TestClient(create_app(fresh.settings, engine=fresh.engine))
    c.cookies.set(SESSION_COOKIE, cookie, domain="testserver.local")
    return c


def test_logout_ends_the_session_on_the_server(fresh):
    with fresh.client() as c:
        log_in(c, fresh.tokens["planner"])
        cookie = c.cookies[SESSION_COOKIE]
        assert c.get("/api/v1/me").status_code == 200
        assert c.post("/logout", headers=SAME_SITE, follow_redirects=False).status_code == 303
    # a copy of the cookie (kept by an attacker, or a browser that missed the deletion)
    with client_with(fresh, cookie) as copy:
        refused = copy.get("/api/v1/me")
    assert refused.status_code == 401 and "the session has ended" in refused.json()["detail"]
    [row] = session_rows(fresh.engine)
    assert row.end_reason == "logout" and row.ended_at is not None
    assert cookie not in json.dumps([str(v) for v in row])  # only its hash is stored
    assert len(row.id_hash) == 64


def test_every_login_draws_a_new_session_id_and_ends_the_old_one(fresh):
    planted = "A" * 43  # an id an attacker set in the browser before the login
    with fresh.client() as c:
        c.cookies.set(SESSION_COOKIE, planted, domain="testserver.local")
        log_in(c, fresh.tokens["admin"])
        first = c.cookies[SESSION_COOKIE]
        log_in(c, fresh.tokens["admin"])
        second = c.cookies[SESSION_COOKIE]
        assert c.get("/api/v1/me").status_code == 200
    assert len({planted, first, second}) == 3
    with client_with(fresh, first) as old:
        assert old.get("/api/v1/me").status_code == 401
    with client_with(fresh, planted) as fixed:
        assert fixed.get("/api/v1/me").status_code == 401
    assert [r.end_reason for r in session_rows(fresh.engine)] == ["rotated", None]


@pytest.mark.parametrize("change", [{"jurisdictions": '["D2"]'}, {"role": "admin"},
                                    {"role": "planner", "jurisdictions": "[]"}])
def test_a_change_of_role_or_jurisdiction_ends_the_session(fresh, change):
    with fresh.client() as c:
        me = log_in(c, fresh.tokens["liaison"], next="/api/v1/me", follow_redirects=True)
        assert me.json()["jurisdictions"] == ["D1"]
        with fresh.engine.begin() as conn:
            conn.execute(api_keys.update().where(api_keys.c.id == me.json()["id"])
                         .values(**change))
        refused = c.get("/api/v1/me")
        assert refused.status_code == 401
        assert "role or jurisdiction has changed" in refused.json()["detail"]
        # the bearer token itself keeps working with its new rights
        assert c.get("/api/v1/me", headers=fresh.headers("liaison")).status_code == 200
    assert [r.end_reason for r in session_rows(fresh.engine)] == ["changed"]


def test_revoking_a_key_ends_its_sessions_at_once(fresh):
    with fresh.client() as c:
        me = log_in(c, fresh.tokens["client"], next="/api/v1/me", follow_redirects=True)
        revoke_key(fresh.engine, me.json()["id"])
        assert [r.end_reason for r in session_rows(fresh.engine)] == ["revoked"]
        assert c.get("/api/v1/me").status_code == 401


def test_fingerprint_covers_role_and_jurisdictions_in_any_order(fresh):
    from dataclasses import replace

    from api.auth import list_keys

    key = next(k for k in list_keys(fresh.engine) if k.role == "liaison")
    same = replace(key, jurisdictions=tuple(reversed(key.jurisdictions)), name="renamed")
    assert key_fingerprint(same) == key_fingerprint(key)
    assert key_fingerprint(replace(key, jurisdictions=("D2",))) != key_fingerprint(key)
    assert key_fingerprint(replace(key, role="admin")) != key_fingerprint(key)


# --- cross-site requests -----------------------------------------------------------------------


def origin_refusals(engine) -> list[int]:
    with engine.connect() as conn:
        rows = conn.execute(sa.select(audit_log.c.params, audit_log.c.status)
                            .where(audit_log.c.action == "auth_failed")).all()
    return [r.status for r in rows if '"reason": "origin"' in r.params]


@pytest.mark.parametrize(("headers", "allowed"), [
    ({}, False),
    ({"Origin": "http://evil.example"}, False),
    ({"Origin": "null"}, False),
    ({"Referer": "http://evil.example/page"}, False),
    ({"Origin": "http://testserver.evil.example"}, False),
    ({"Origin": "http://testserver"}, True),
    ({"Origin": "HTTP://TestServer:80"}, True),
    ({"Referer": "http://testserver/docs"}, True),
    ({"Origin": "https://pingan.example.gov.cn"}, True),  # a configured proxy origin
])
def test_cookie_writes_need_an_origin_of_this_site(city, headers, allowed):
    api = {**city.settings.api.model_dump(), "allowed_origins": ["https://pingan.example.gov.cn/"]}
    before = origin_refusals(city.engine)
    with city.client(api=api) as c:
        log_in(c, city.tokens["admin"])
        # an upload without a body: past authentication it is refused for its body
        r = c.post("/api/v1/loads/communities",
                   headers={**headers, "X-CSRF-Token": page_csrf(c)})
    new = origin_refusals(city.engine)[len(before):]
    if allowed:
        assert r.status_code == 422 and "multipart/form-data" in r.json()["detail"]
        assert new == []
    else:
        assert r.status_code == 403 and r.json()["type"].endswith("/forbidden")
        assert "Origin or Referer" in r.json()["detail"] or "cross-site" in r.json()["detail"]
        assert new == [403]


def csrf_refusals(engine) -> list[int]:
    with engine.connect() as conn:
        rows = conn.execute(sa.select(audit_log.c.params, audit_log.c.status)
                            .where(audit_log.c.action == "auth_failed")).all()
    return [r.status for r in rows if '"reason": "csrf"' in r.params]


def test_cookie_writes_need_the_sessions_csrf_token(city):
    """A same-site write by a session without its page's token (or with another's) is refused."""
    before = csrf_refusals(city.engine)
    with city.client() as c, city.client() as other:
        log_in(c, city.tokens["admin"])
        log_in(other, city.tokens["admin"])
        token, foreign = page_csrf(c), page_csrf(other)
        assert token != foreign
        sent = []
        # a latin-1 header value (not ASCII) is refused as wrong, not a server error
        for header in ({}, {"X-CSRF-Token": foreign}, {"X-CSRF-Token": token + "0"},
                       {"X-CSRF-Token": "é".encode("latin-1")}):
            r = c.post("/api/v1/loads/communities", headers={**SAME_SITE, **header})
            assert r.status_code == 403, r.text
            assert "X-CSRF-Token" in r.json()["detail"]
            sent.append(r.json()["detail"].rsplit(" ", 1)[-1])
        assert sent == ["missing", "wrong", "wrong", "wrong"]
        ok = c.post("/api/v1/loads/communities", headers={**SAME_SITE, "X-CSRF-Token": token})
        assert ok.status_code == 422 and "multipart/form-data" in ok.json()["detail"]
        # reads need no token
        assert c.get("/api/v1/me").status_code == 200
    assert csrf_refusals(city.engine)[len(before):] == [403, 403, 403, 403]


def test_bearer_writes_and_cookie_reads_need_no_origin(city):
    with city.client() as c:
        r = c.post("/api/v1/loads/communities", headers=city.headers("admin"))
        assert r.status_code == 422  # authenticated; the body is what is wrong
        log_in(c, city.tokens["admin"])
        assert c.get("/api/v1/me").status_code == 200


def test_logout_from_another_site_is_refused_and_the_session_lives_on(city):
    with city.client() as c:
        log_in(c, city.tokens["planner"])
        r = c.post("/logout", headers={"Origin": "http://evil.example"}, follow_redirects=False)
        assert r.status_code == 403
        assert c.get("/api/v1/me").status_code == 200


def test_allowed_origins_must_be_bare_origins():
    with pytest.raises(ValueError, match="allowed_origins must be scheme://host"):
        Settings(api={"allowed_origins": ["https://x.example/path"]})
    with pytest.raises(ValueError, match="allowed_origins must be scheme://host"):
        Settings(api={"allowed_origins": ["x.example"]})


# --- login CSRF --------------------------------------------------------------------------------


def test_login_needs_the_forms_pre_session_token(fresh):
    with fresh.client() as c:
        page = c.get("/login")
        assert page.status_code == 200
        login_cookie = page.headers["set-cookie"]
        assert login_cookie.startswith(f"{LOGIN_COOKIE}=") and "Path=/login" in login_cookie
        assert "HttpOnly" in login_cookie and "SameSite=strict" in login_cookie
        # no token at all: the form of another site
        bare = c.post("/login", data={"key": fresh.tokens["admin"]}, follow_redirects=False)
        assert bare.status_code == 403 and "has expired or did not come from this site" in bare.text
        assert SESSION_COOKIE not in c.cookies
        # a token that does not belong to this browser's cookie
        _, other_field = login_token("s3cret-of-the-attacker")
        forged = c.post("/login", data={"key": fresh.tokens["admin"], "login_token": other_field},
                        follow_redirects=False)
        assert forged.status_code == 403 and SESSION_COOKIE not in c.cookies
        ok = log_in(c, fresh.tokens["admin"])
        assert ok.status_code == 303 and SESSION_COOKIE in c.cookies
    assert session_rows(fresh.engine)[0].end_reason is None


def test_login_token_pairs():
    cookie, field = login_token("secret")
    assert check_login_token("secret", cookie, field)
    assert not check_login_token("other", cookie, field)
    assert not check_login_token("secret", cookie + "x", field)
    assert not check_login_token("secret", None, field)
    assert not check_login_token("secret", cookie, None)
    assert not check_login_token("secret", "<script>", field)
    assert login_token("secret") != (cookie, field)  # fresh each time


# --- the migration -----------------------------------------------------------------------------


def test_migration_0002_goes_up_and_down_on_both_backends(engine):
    def tables_and_columns():
        insp = sa.inspect(engine)
        return ("sessions" in insp.get_table_names(),
                "count" in {c["name"] for c in insp.get_columns("audit_log")})

    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", "api:migrations")
    cfg.attributes["engine"] = engine
    assert tables_and_columns() == (True, True)
    command.downgrade(cfg, "0001")
    assert tables_and_columns() == (False, False)
    migrate(engine)
    assert tables_and_columns() == (True, True)
    from api.audit import record

    row = record(engine, "load", params={"x": 1})
    with engine.connect() as conn:
        assert conn.execute(sa.select(audit_log.c["count"]).where(audit_log.c.id == row)
                            ).scalar_one() == 1
