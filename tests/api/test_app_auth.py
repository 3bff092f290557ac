"""API keys, browser sessions, failed-authentication audit and rate limiting."""

from __future__ import annotations

import datetime as dt
import hashlib

import pytest
import sqlalchemy as sa

from api.auth import (
    AuthError,
    create_key,
    list_keys,
    revoke_key,
    session_secret,
    verify_token,
)
from api.errors import RateLimitedError
from api.models import api_keys, audit_log
from api.ratelimit import RateLimiter
from api.sessions import read_session, start_session
from geo.errors import NotFoundError
from tests.api.appcity import log_in


def failed_auth_rows(engine) -> list[tuple]:
    with engine.connect() as conn:
        return conn.execute(sa.select(audit_log.c.action, audit_log.c.params, audit_log.c.status,
                                      audit_log.c.endpoint)
                            .where(audit_log.c.action == "auth_failed")
                            .order_by(audit_log.c.id)).all()


# --- the key service ---------------------------------------------------------------------------


def test_created_key_is_shown_once_and_stored_hashed(engine):
    created = create_key(engine, name="看板", role="client", expires_in_days=30,
                         now=dt.datetime(2025, 1, 1))
    token = created.token
    prefix = created.key.prefix
    assert token.startswith(f"pa_{prefix}_") and len(token) > 50
    with engine.connect() as conn:
        row = conn.execute(sa.select(api_keys)).one()._mapping
    assert row["key_hash"] == hashlib.sha256(token.encode()).hexdigest()
    assert token not in str(dict(row))
    assert created.key.expires_at == dt.datetime(2025, 1, 31)
    assert verify_token(engine, token, now=dt.datetime(2025, 1, 2)).id == created.key.id


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"name": " ", "role": "admin"}, "name must not be empty"),
    ({"name": "x", "role": "boss"}, "role must be one of admin, liaison, planner, client; "
                                    "got 'boss'"),
    ({"name": "x", "role": "liaison"}, "a liaison key needs at least one --jurisdiction"),
    ({"name": "x", "role": "planner", "jurisdictions": ["D1"]},
     "jurisdictions apply to liaison keys only"),
    ({"name": "x", "role": "admin", "expires_in_days": 0}, "expires_in_days must be > 0"),
])
def test_create_key_refuses_bad_input(engine, kwargs, message):
    with pytest.raises(ValueError, match=message):
        create_key(engine, **kwargs)


def test_liaison_codes_must_exist_once_communities_are_loaded(fresh):
    with pytest.raises(NotFoundError, match=r"unknown jurisdiction codes \['D9'\].*known codes: "
                                         r"D1, D2, S11, S12, S21"):
        create_key(fresh.engine, name="x", role="liaison", jurisdictions=["D1", "D9"])
    ok = create_key(fresh.engine, name="x", role="liaison", jurisdictions=["S12", " S12 "])
    assert ok.key.jurisdictions == ("S12",)


def test_verify_refuses_malformed_unknown_wrong_revoked_and_expired_tokens(engine):
    created = create_key(engine, name="x", role="admin", expires_in_days=1,
                         now=dt.datetime(2025, 1, 1))
    prefix = created.key.prefix
    cases = {
        "malformed": "hello",
        "unknown": f"pa_00000000_{'a' * 43}",
    }
    for reason, token in cases.items():
        with pytest.raises(AuthError, match=r"malformed|not valid") as info:
            verify_token(engine, token)
        assert info.value.reason == reason
    with pytest.raises(AuthError, match="not valid"):
        verify_token(engine, f"pa_{prefix}_{'b' * 43}", now=dt.datetime(2025, 1, 1, 1))
    with pytest.raises(AuthError, match="has expired"):
        verify_token(engine, created.token, now=dt.datetime(2025, 1, 2, 0, 0, 1))
    revoke_key(engine, prefix, now=dt.datetime(2025, 1, 1, 2))
    with pytest.raises(AuthError, match="has been revoked"):
        verify_token(engine, created.token, now=dt.datetime(2025, 1, 1, 3))


def test_revoke_by_id_prefix_or_token_and_list(engine):
    a = create_key(engine, name="a", role="admin")
    b = create_key(engine, name="b", role="planner")
    c = create_key(engine, name="c", role="client")
    revoke_key(engine, a.key.id)
    revoke_key(engine, b.key.prefix)
    first = revoke_key(engine, c.token).revoked_at
    assert revoke_key(engine, c.key.id).revoked_at == first  # idempotent
    assert [k.status() for k in list_keys(engine)] == ["revoked"] * 3
    assert list_keys(engine, include_inactive=False) == []
    with pytest.raises(KeyError, match="no API key with id or prefix 'ffffffff'"):
        revoke_key(engine, "ffffffff")


def test_last_used_is_recorded_at_most_once_a_minute(engine):
    created = create_key(engine, name="x", role="admin")
    t0 = dt.datetime(2030, 1, 1, 8, 0)
    verify_token(engine, created.token, now=t0)
    verify_token(engine, created.token, now=t0 + dt.timedelta(seconds=30))
    assert list_keys(engine)[0].last_used_at == t0
    verify_token(engine, created.token, now=t0 + dt.timedelta(seconds=61))
    assert list_keys(engine)[0].last_used_at == t0 + dt.timedelta(seconds=61)


def test_session_secret_is_generated_once_and_shared(engine):
    first = session_secret(engine, None)
    assert len(first) > 40 and session_secret(engine, None) == first
    assert session_secret(engine, "configured") == "configured"


def test_session_round_trip_expiry_and_tampering(engine):
    created = create_key(engine, name="x", role="planner")
    t0 = dt.datetime(2030, 1, 1, 8, 0)
    session = start_session(engine, created.key, minutes=1, now=t0)
    assert read_session(engine, session, now=t0).id == created.key.id
    with pytest.raises(AuthError, match="the session has expired"):
        read_session(engine, session, now=t0 + dt.timedelta(minutes=1))
    with pytest.raises(AuthError, match="the session is not valid"):
        read_session(engine, session[:-1] + ("A" if session[-1] != "A" else "B"), now=t0)
    with pytest.raises(AuthError, match="cookie is not valid"):
        read_session(engine, "x", now=t0)
    revoke_key(engine, created.key.id)
    with pytest.raises(AuthError, match="the session has ended"):
        read_session(engine, session, now=t0)


# --- over HTTP ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("header", "detail"), [
    (None, "an API key is required"),
    ("Basic dXNlcjpwYXNz", "an API key is required"),
    ("Bearer nonsense", "malformed"),
    ("Bearer pa_00000000_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "not valid"),
    ("expired", "has expired"),
    ("revoked", "has been revoked"),
])
def test_401_for_missing_or_bad_keys(client, city, header, detail):
    if header in ("expired", "revoked"):
        header = f"Bearer {city.tokens[header]}"
    headers = {} if header is None else {"Authorization": header}
    response = client.get("/api/v1/communities", headers=headers)
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")
    body = response.json()
    assert body["type"] == "https://pingan.dev/problems/not-authenticated"
    assert detail in body["detail"]


def test_every_failed_authentication_is_audited(fresh):
    with fresh.client() as c:
        c.get("/api/v1/communities")  # no credential at all
        c.get("/api/v1/communities", headers={"Authorization": "Bearer nonsense"})
        c.get("/api/v1/incidents", headers={"Authorization": f"Bearer {fresh.tokens['revoked']}"})
        log_in(c, fresh.tokens["expired"])
    rows = failed_auth_rows(fresh.engine)
    assert [r.status for r in rows] == [401, 401, 401, 401]
    assert [r.endpoint for r in rows] == ["GET /api/v1/communities", "GET /api/v1/communities",
                                         "GET /api/v1/incidents", "POST /login"]
    assert '"reason": "missing"' in rows[0].params and '"via": "none"' in rows[0].params
    assert '"reason": "malformed"' in rows[1].params
    revoked_prefix = fresh.tokens["revoked"].split("_")[1]
    assert '"reason": "revoked"' in rows[2].params and revoked_prefix in rows[2].params
    assert fresh.tokens["revoked"] not in str(rows)
    assert '"via": "login"' in rows[3].params and '"reason": "expired"' in rows[3].params


def test_browser_login_sets_a_strict_httponly_cookie_and_logout_clears_it(fresh):
    with fresh.client() as c:
        page = c.get("/login")
        assert page.status_code == 200 and '<form method="post" action="/login"' in page.text
        assert "http://" not in page.text and "https://" not in page.text
        bad = log_in(c, "pa_nope")
        assert bad.status_code == 401 and "Login failed" in bad.text
        assert c.get("/api/v1/me").status_code == 401
        ok = log_in(c, fresh.tokens["planner"], next="/api/v1/me")
        assert ok.status_code == 303 and ok.headers["location"] == "/api/v1/me"
        cookie = ok.headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Max-Age=28800" in cookie
        assert "Secure" not in cookie and fresh.tokens["planner"] not in cookie
        me = c.get("/api/v1/me")
        assert me.status_code == 200 and me.json()["role"] == "planner"
        assert c.get("/api/v1/incidents").status_code == 403
        out = c.post("/logout", headers={"Origin": "http://testserver"},
                     follow_redirects=False)
        assert out.status_code == 303 and 'pingan_session=""' in out.headers["set-cookie"]
        c.cookies.clear()
        assert c.get("/api/v1/me").status_code == 401


def test_session_ends_when_its_key_is_revoked(fresh):
    from fastapi.testclient import TestClient

    from api.app import create_app

    app = create_app(fresh.settings, engine=fresh.engine)
    with TestClient(app, base_url="https://testserver") as c:
        ok = log_in(c, fresh.tokens["client"])
        assert "Secure" in ok.headers["set-cookie"]
        assert ok.headers["location"] == "/"
        assert c.get("/api/v1/me").status_code == 200
        key_id = c.get("/api/v1/me").json()["id"]
        revoke_key(fresh.engine, key_id)
        assert c.get("/api/v1/me").status_code == 401


@pytest.mark.parametrize("target", ["//evil.example/x", "https://evil.example/", "\\\\evil"])
def test_login_never_redirects_off_site(fresh, target):
    with fresh.client() as c:
        ok = log_in(c, fresh.tokens["admin"], next=target)
    assert ok.headers["location"] == "/"


def test_rate_limit_per_key_answers_429_with_retry_after(city):
    with city.client(api={"rate_limit_per_minute": 3}) as c:
        h = city.headers("client")
        statuses = [c.get("/api/v1/me", headers=h).status_code for _ in range(4)]
        assert statuses == [200, 200, 200, 429]
        limited = c.get("/api/v1/me", headers=h)
        assert limited.headers["retry-after"] == "20"
        assert limited.json()["type"] == "https://pingan.dev/problems/rate-limited"
        # another key has its own bucket
        assert c.get("/api/v1/me", headers=city.headers("planner")).status_code == 200


def test_rate_limiter_refills_over_time():
    now = [0.0]
    limiter = RateLimiter(60, clock=lambda: now[0])
    for _ in range(60):
        limiter.check("key:1")
    with pytest.raises(RateLimitedError, match="retry in 1 s"):
        limiter.check("key:1")
    now[0] = 2.0
    limiter.check("key:1")
    limiter.check("key:1")
    with pytest.raises(RateLimitedError):
        limiter.check("key:1")
    RateLimiter(0).check("anything")  # disabled
    with pytest.raises(ValueError, match="per_minute must be >= 0"):
        RateLimiter(-1)
