"""Loading a city portal's export on both backends: ids from content, snapping to the shore."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa

from api.loading import load_file
from api.models import incidents, loads
from api.release import record_key_secret
from geo.errors import InputError, ParameterError
from geo.release import record_keys

DATA = Path(__file__).resolve().parents[1] / "data"
PORTAL = DATA / "portal_incidents_no_id.csv"
FIELDS = {"occurred_at": "Date", "category": "Primary Type", "address": "Block"}
SHORE_COMMUNITIES = DATA / "lakeshore_communities.geojson"
SHORE_INCIDENTS = DATA / "lakeshore_incidents.csv"


def stored(engine) -> dict[str, tuple]:
    with engine.connect() as conn:
        return {r[0]: tuple(r[1:]) for r in conn.execute(sa.select(
            incidents.c.id, incidents.c.community_code, incidents.c.assigned_by,
            incidents.c.rkey, incidents.c.status))}


def load_portal(engine, path: Path = PORTAL):
    return load_file(engine, path, "incidents", fields=FIELDS, timezone="America/Chicago",
                     id_from_content=True)


# --- item 6: no id column ---------------------------------------------------------------------


def test_reloading_an_export_without_ids_updates_instead_of_duplicating(engine, tmp_path):
    first = load_portal(engine)
    assert (first.rows_read, first.rows_loaded, first.rows_updated) == (5, 5, 0)
    rows = stored(engine)
    ids = sorted(rows)
    assert len(ids) == 5 and all(i.startswith("h:") for i in ids)
    # the two identical rows: the same hash, numbered 1 and 2
    pair = sorted(i for i in ids if i.endswith("-2"))
    assert len(pair) == 1 and pair[0][:-2] + "-1" in rows
    # record keys are drawn from these ids like from any other
    with engine.connect() as conn:
        secret = record_key_secret(conn)
    assert [rows[i][2] for i in ids] == record_keys(ids, secret).tolist()

    second = load_portal(engine)
    assert (second.rows_loaded, second.rows_updated) == (0, 5)
    assert stored(engine) == rows

    # re-ordered rows (the identical pair included) and a changed status: the same records
    raw = pd.read_csv(PORTAL, dtype=str, keep_default_na=False)
    moved = raw.iloc[[4, 1, 3, 0, 2]].copy()
    moved.loc[moved["Primary Type"] == "BURGLARY", "Status"] = "REOPENED"
    moved.to_csv(tmp_path / "moved.csv", index=False)
    third = load_portal(engine, tmp_path / "moved.csv")
    assert (third.rows_loaded, third.rows_updated) == (0, 5)
    assert sorted(stored(engine)) == ids
    assert [str(v[3]).lower() for v in stored(engine).values()].count("reopened") == 1

    # an edited record (its address) is a new record: one new id, the old one stays
    raw.loc[2, "Block"] = "002XX W MADISON AVE"
    raw.to_csv(tmp_path / "edited.csv", index=False)
    fourth = load_portal(engine, tmp_path / "edited.csv")
    assert (fourth.rows_loaded, fourth.rows_updated) == (1, 4)
    assert len(stored(engine)) == 6 and set(ids) < set(stored(engine))
    with engine.connect() as conn:
        options = [json.loads(o) for (o,) in conn.execute(sa.select(loads.c.options))]
    assert all(o["id_from_content"] is True for o in options)


def test_without_the_flag_the_export_is_refused_with_a_hint(engine):
    with pytest.raises(InputError, match="or pass --id-from-content"):
        load_file(engine, PORTAL, "incidents", fields=FIELDS)
    with pytest.raises(InputError, match="column 'id' holds the ids"):
        load_file(engine, SHORE_INCIDENTS, "incidents", id_from_content=True)
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(loads)).scalar_one() == 0


# --- item 8: points on the outer edge ---------------------------------------------------------

#: With --snap-m 1 (see tests/data/lakeshore_incidents.csv for what each point is).
SNAPPED_1M = {
    "LS-01": ("LS01", "point"), "LS-02": ("LS01", "point"), "LS-03": ("LS01", "point"),
    "LS-04": ("LS01", "point"), "LS-05": ("LS01", "snap"), "LS-06": ("LS01", "snap"),
    "LS-07": ("LS01", "snap"), "LS-08": ("LS01", "snap"), "LS-09": ("LS02", "snap"),
    "LS-10": (None, None), "LS-11": (None, None), "LS-12": ("LS02", "point"),
}


def assignments(engine) -> dict[str, tuple]:
    return {k: v[:2] for k, v in stored(engine).items()}


def test_a_load_snaps_points_just_outside_the_shore(engine):
    load_file(engine, SHORE_COMMUNITIES, "communities")
    rep = load_file(engine, SHORE_INCIDENTS, "incidents", snap_m=1.0,
                    timezone="America/Chicago")
    assert (rep.incidents_unassigned, rep.incidents_snapped, rep.incidents_snap_ambiguous,
            rep.snap_m) == (2, 5, 1, 1.0)
    assert assignments(engine) == SNAPPED_1M
    with engine.connect() as conn:
        assert conn.execute(sa.select(loads.c.layer, loads.c.snap_m).order_by(loads.c.id)
                            ).all() == [("communities", None), ("incidents", 1.0)]
    # without the tolerance (the default) the same file leaves seven in no community
    rep = load_file(engine, SHORE_INCIDENTS, "incidents", timezone="America/Chicago")
    assert (rep.rows_updated, rep.incidents_unassigned, rep.incidents_snapped) == (12, 7, 0)
    assert [k for k, v in assignments(engine).items() if v[1] == "snap"] == []


def test_reassignment_after_a_boundary_load_keeps_each_loads_tolerance(engine, tmp_path):
    load_file(engine, SHORE_COMMUNITIES, "communities")
    load_file(engine, SHORE_INCIDENTS, "incidents", snap_m=1.0, timezone="America/Chicago")
    # a second load of the same points under other ids, without a tolerance
    raw = pd.read_csv(SHORE_INCIDENTS, dtype=str)
    raw["id"] = raw["id"].str.replace("LS-", "NS-")
    raw.to_csv(tmp_path / "ns.csv", index=False)
    load_file(engine, tmp_path / "ns.csv", "incidents", timezone="America/Chicago")

    rep = load_file(engine, SHORE_COMMUNITIES, "communities")
    assert (rep.incidents_reassigned, rep.incidents_unassigned, rep.incidents_snapped,
            rep.incidents_snap_ambiguous) == (0, 2 + 7, 5, 1)
    got = assignments(engine)
    assert {k: v for k, v in got.items() if k.startswith("LS-")} == SNAPPED_1M
    assert sum(v[1] == "snap" for k, v in got.items() if k.startswith("NS-")) == 0

    # North Shore retired: the point 0.3 m from the shared shore vertex now has one community
    # within 1 m, and is snapped; North Shore's own points are in none
    north_gone = tmp_path / "south.geojson"
    south = json.loads(SHORE_COMMUNITIES.read_text(encoding="utf-8"))
    south["features"] = south["features"][:1]
    north_gone.write_text(json.dumps(south), encoding="utf-8")
    rep = load_file(engine, north_gone, "communities", replace=True)
    got = assignments(engine)
    assert got["LS-10"] == ("LS01", "snap") and got["NS-10"] == (None, None)
    assert got["LS-09"] == got["LS-12"] == (None, None)
    assert (rep.incidents_snapped, rep.incidents_snap_ambiguous) == (5, 0)
    assert rep.incidents_unassigned == 3 + 8  # LS-09, -11, -12; NS-05 to NS-12


def test_bad_tolerances_are_refused(engine):
    with pytest.raises(ParameterError, match=r"--snap-m must be a distance in metres >= 0; "
                                             r"got -0.5"):
        load_file(engine, SHORE_INCIDENTS, "incidents", snap_m=-0.5)
    with pytest.raises(ParameterError, match="--snap-m applies to incidents only; not to "
                                             "'communities'"):
        load_file(engine, SHORE_COMMUNITIES, "communities", snap_m=1.0)
