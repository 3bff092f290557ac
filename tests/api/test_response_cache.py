"""The cached serialised answers of the trust matrix: bytes are shared only within a visibility key.

Each test starts a fresh app (an empty cache), warms the cache with one caller and then asks
the same URL as another: a liaison of D1 and a liaison of S21 (in D2) must each get their own
world, and a planner asking after an admin must get the released (protected) body, equal to
what a planner gets from a cold cache.

A caller's visibility is cached too (per role, jurisdictions and data version,
:func:`api.deps.get_visibility`): a changed jurisdiction, a revoked key and a load take effect
on the very next request of a warm app.
"""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa

from api.auth import create_key, revoke_key
from api.db import bump_data_version
from api.models import api_keys
from api.services import ServiceContext
from tests.api.appcity import COUNTS_2025

URLS = [
    ("/api/v1/rates", {"period": "2025"}),
    ("/api/v1/rates", {"period": "2025", "format": "csv"}),
    ("/api/v1/rates", {"period": "2025", "format": "geojson"}),
    ("/api/v1/trend", {"period": "2025"}),
    ("/api/v1/hotspots", {"period": "2025", "format": "csv"}),
]


def _body(response) -> str:
    """The answer without the instant it was generated (which a cached answer keeps)."""
    assert response.status_code == 200, response.text
    text = response.content.decode("utf-8-sig")
    if response.headers["content-type"].startswith("text/csv"):
        return text
    doc = json.loads(text)
    for holder in (doc.get("provenance"), doc.get("pingan")):
        if isinstance(holder, dict):
            holder.pop("generated_at", None)
    return json.dumps(doc, sort_keys=True)


def _codes(response) -> set[str]:
    text = response.content.decode("utf-8-sig")
    return {c for c in COUNTS_2025 if f'"{c}"' in text or f"\n{c}," in text}


@pytest.mark.parametrize(("path", "params"), URLS, ids=lambda v: str(v))
def test_two_liaisons_same_url_warm_cache_get_their_own_world(city, path, params):
    with city.client() as client:
        d1 = client.get(path, params=params, headers=city.headers("liaison"))
        s21 = client.get(path, params=params, headers=city.headers("liaison_s21"))
        d1_again = client.get(path, params=params, headers=city.headers("liaison"))
        assert client.app.state.cache.hits >= 1  # the second D1 request was served cached
    assert _body(d1) != _body(s21)
    assert _body(d1_again) == _body(d1)
    if path == "/api/v1/rates":
        assert _codes(d1) == {"C1", "C2"} and _codes(s21) == {"C3", "C4"}
    with city.client() as cold:  # what S21's liaison gets from an empty cache
        assert _body(cold.get(path, params=params, headers=city.headers("liaison_s21"))) \
            == _body(s21)


@pytest.mark.parametrize(("path", "params"), [u for u in URLS if u[0] != "/api/v1/trend"],
                         ids=lambda v: str(v))
def test_planner_after_admin_same_url_gets_the_released_body(city, path, params):
    with city.client() as client:
        admin = client.get(path, params=params, headers=city.headers("admin"))
        planner = client.get(path, params=params, headers=city.headers("planner"))
    with city.client() as cold:
        planner_cold = cold.get(path, params=params, headers=city.headers("planner"))
    assert _body(planner) == _body(planner_cold)
    assert _body(planner) != _body(admin)


def test_a_load_invalidates_the_cached_bytes(city, tmp_path):
    with city.client() as client:
        first = client.get("/api/v1/rates", params={"period": "2025"},
                           headers=city.headers("admin"))
        version = first.json()["provenance"]["data_version"]
        from api.db import bump_data_version

        with city.engine.begin() as conn:
            bump_data_version(conn)
        second = client.get("/api/v1/rates", params={"period": "2025"},
                            headers=city.headers("admin"))
    assert second.json()["provenance"]["data_version"] == version + 1


def _rates(client, headers, **extra: str):
    """The liaison's 2025 rates (with extra parameters)."""
    return client.get("/api/v1/rates", params={"period": "2025", **extra}, headers=headers)


def test_a_liaison_of_another_district_never_gets_the_first_ones_bytes(fresh):
    d2 = create_key(fresh.engine, name="西城联络员", role="liaison", jurisdictions=["D2"]).token
    d1_again = create_key(fresh.engine, name="东城二", role="liaison", jurisdictions=["D1"]).token
    with fresh.client() as client:
        d1 = _rates(client, fresh.headers("liaison"))
        other = _rates(client, {"Authorization": f"Bearer {d2}"})
        same_world = _rates(client, {"Authorization": f"Bearer {d1_again}"})
    assert _codes(d1) == {"C1", "C2"}
    assert _codes(other) == {"C3", "C4"}
    assert same_world.content == d1.content  # one world, one cached answer (not per key)


def test_a_changed_jurisdiction_or_a_revoked_key_takes_effect_at_once_on_a_warm_app(fresh):
    h = fresh.headers("liaison")
    with fresh.client() as client:
        assert _codes(_rates(client, h)) == {"C1", "C2"}
        assert _codes(_rates(client, h)) == {"C1", "C2"}  # warm: all cached
        with fresh.engine.begin() as conn:
            key_id = conn.execute(sa.select(api_keys.c.id).where(
                api_keys.c.jurisdictions == '["D1"]')).scalar_one()
            conn.execute(api_keys.update().where(api_keys.c.id == key_id)
                         .values(jurisdictions='["S21"]'))
        moved = _rates(client, h)
        assert _codes(moved) == {"C3", "C4"}
        incidents = client.get("/api/v1/incidents", params={"district": "D1"}, headers=h)
        assert incidents.status_code == 403
        revoke_key(fresh.engine, key_id)
        refused = _rates(client, h)
    assert refused.status_code == 401
    assert "revoked" in refused.json()["detail"]


def test_a_cached_world_lasts_one_data_version(fresh):
    h = fresh.headers("liaison")
    with fresh.client() as client:
        assert _codes(_rates(client, h)) == {"C1", "C2"}
        # A change of the communities outside a load (which would bump the version) is not
        # seen: the world of this data version is the cached one ...
        with fresh.engine.begin() as conn:
            conn.execute(sa.text("UPDATE communities SET district_code = 'D2' "
                                 "WHERE code = 'C2'"))
        csv = _rates(client, h, format="csv")
        assert _codes(csv) == {"C1", "C2"}
        # ... and the next data version rebuilds it. A request's context reads the version
        # once (pinned); a long-lived one (the command line's) reads it at every lookup.
        pinned = ServiceContext(fresh.engine, fresh.settings, pin_version=True)
        live = ServiceContext(fresh.engine, fresh.settings)
        before = pinned.data_version()
        with fresh.engine.begin() as conn:
            bump_data_version(conn)
        assert (pinned.data_version(), live.data_version()) == (before, before + 1)
        assert _codes(_rates(client, h)) == {"C1"}
        outside = _rates(client, h, community="C2")
    assert outside.status_code == 403
