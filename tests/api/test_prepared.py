"""Stored dashboards (``api.prepared``): a restarted server reads them, and only for their world.

Each app made here is a server started afresh (its own empty result cache) on the same
database. A stored part is proved read, not recomputed, by marking it in the database: the
next server answers with the mark. The marks also show that no two callers of different
worlds or roles share a stored answer, and that a changed release setting, a new data version
or a new standard profile is never answered from an older one.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from api.cli import app as cli_app
from api.db import bump_data_version
from api.models import prepared_results
from api.profiles import put_profile
from api.services.landing import PARTS
from tests.api.appcity import City

pytestmark = pytest.mark.slow

CALLERS = ("admin", "liaison", "liaison_s21", "planner", "client")


def _part(city: City, role: str, part: str, **settings: object) -> dict:
    with city.client(**settings) as c:
        r = c.get(f"/api/v1/landing/{part}", headers=city.headers(role))
    assert r.status_code == 200, (role, part, r.text)
    return r.json()


def _stored(city: City) -> dict[str, dict]:
    with city.engine.connect() as conn:
        rows = conn.execute(sa.select(prepared_results.c.key,
                                      prepared_results.c.payload)).all()
    return {k: json.loads(p) for k, p in rows}


def _mark_every_row(city: City) -> None:
    """Add a note naming the row's key to every stored answer."""
    with city.engine.begin() as conn:
        for key, payload in _stored(city).items():
            payload.setdefault("notes", []).append(f"stored:{key}")
            conn.execute(prepared_results.update().where(prepared_results.c.key == key)
                         .values(payload=json.dumps(payload, ensure_ascii=False)))


def _marks(body: dict) -> list[str]:
    return [n for n in body["notes"] if n.startswith("stored:")]


def test_a_restarted_server_answers_from_the_stored_part_of_its_own_world_only(fresh):
    first = {r: _part(fresh, r, "creation") for r in CALLERS}
    # One stored creation part per world and role (planner and client share a world, not a
    # page): no two callers share a row.
    assert len(_stored(fresh)) == len(CALLERS)
    _mark_every_row(fresh)
    again = {r: _part(fresh, r, "creation") for r in CALLERS}
    marks = {r: _marks(again[r]) for r in CALLERS}
    assert all(len(m) == 1 for m in marks.values()), marks
    assert len({m[0] for m in marks.values()}) == len(CALLERS)
    for r in CALLERS:  # apart from the mark, the stored answer is the computed one
        body = dict(again[r], notes=[n for n in again[r]["notes"] if not n.startswith("stored:")])
        assert {k: v for k, v in body.items() if k != "html"} == \
               {k: v for k, v in first[r].items() if k != "html"}


def test_a_changed_release_setting_or_data_version_is_never_answered_from_an_older_one(fresh):
    _part(fresh, "planner", "rising")
    _mark_every_row(fresh)
    assert _marks(_part(fresh, "planner", "rising"))  # same settings: the stored answer
    # min_count_shown changes what a planner is shown: a new key, computed afresh.
    stricter = _part(fresh, "planner", "rising",
                     api={"rate_limit_per_minute": 0, "auth_failures_per_minute": 0,
                          "min_count_shown": 5})
    assert not _marks(stricter)
    with fresh.engine.begin() as conn:
        bump_data_version(conn)
    assert not _marks(_part(fresh, "planner", "rising"))
    # The write of a new version removed the rows of the earlier ones.
    with fresh.engine.connect() as conn:
        versions = {v for (v,) in conn.execute(sa.select(prepared_results.c.data_version))}
    assert len(versions) == 1


def test_pingan_prepare_stores_every_active_keys_dashboard(fresh):
    result = CliRunner().invoke(cli_app, ["--database", fresh.settings.database_url, "prepare"])
    assert result.exit_code == 0, result.output
    # admin, D1's liaison, S21's liaison, planner, client; the expired and revoked keys are not
    # prepared.
    assert "prepared 5 dashboard(s) of 5 active key(s)" in result.output
    stored = _stored(fresh)
    raw_parts, protected_parts = len(PARTS), len(PARTS) - 1  # no risk zones for planner/client
    assert len(stored) == 3 * (1 + raw_parts) + 2 * (1 + protected_parts)
    _mark_every_row(fresh)
    for role in CALLERS:
        assert _marks(_part(fresh, role, "todo")), role


def test_a_new_standard_profile_is_never_answered_from_the_older_one(fresh):
    _part(fresh, "admin", "creation")
    _mark_every_row(fresh)
    assert _marks(_part(fresh, "admin", "creation"))
    text = (Path(__file__).parents[2] / "geo/profiles/beijing-safe-community.toml").read_text()
    put_profile(fresh.engine, text.replace('version = "2025.1"', 'version = "2025.2"'))
    assert not _marks(_part(fresh, "admin", "creation"))


def test_a_stored_answer_of_another_shape_is_computed_again_and_replaced(fresh):
    first = _part(fresh, "admin", "creation")
    with fresh.engine.begin() as conn:  # as code of another shape would have stored it
        conn.execute(prepared_results.update().values(payload='{"renamed": 1}'))
    assert _part(fresh, "admin", "creation") == first
    assert [set(p) for p in _stored(fresh).values()] == [
        {"part", "as_of", "year", "month", "value", "notes"}]
