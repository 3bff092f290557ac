"""The streaming re-assignment after a boundary load equals assigning every incident afresh.

The reference is the load-time rule, :func:`api.assignment.assign_incidents` (point, else snap
within the tolerance of the incident's load, else the reported code), applied to every stored
incident at once; the re-assignment under test streams the incidents in small batches through
the indexed, coordinate-based path and writes only the changed rows.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
import sqlalchemy as sa

from api.assignment import assign_incidents, current_communities, reassign_incidents
from api.db import create_db_engine
from api.loading import load_file
from api.models import communities, incidents, loads
from geo.sample.boundaries import generate_boundaries

_STATE = sa.select(incidents.c.id, incidents.c.community_code, incidents.c.assigned_by)


def _state(conn: sa.Connection) -> list[tuple[str, str | None, str | None]]:
    return [tuple(r) for r in conn.execute(_STATE.order_by(incidents.c.id)).all()]


def _reference(conn: sa.Connection
               ) -> tuple[list[tuple[str, str | None, str | None]], dict[str, int]]:
    """Every incident assigned at once by the load-time rule; and the counts."""
    rows = conn.execute(sa.select(
        incidents.c.id, sa.func.ST_AsBinary(incidents.c.geom), incidents.c.reported_community,
        loads.c.snap_m).select_from(incidents.join(loads, incidents.c.load_id == loads.c.id))
        .order_by(incidents.c.id)).all()
    ids = pd.Index([r[0] for r in rows], name="id")
    points = gpd.GeoSeries(shapely.from_wkb([None if r[1] is None else bytes(r[1])
                                             for r in rows]), index=ids, crs="EPSG:4326")
    reported = pd.Series([r[2] for r in rows], index=ids, dtype="string")
    snap_m = np.nan_to_num(np.array([r[3] for r in rows], dtype=np.float64))
    res = assign_incidents(points, reported, current_communities(conn), snap_m)
    expected = [(i, None if pd.isna(c) else str(c), None if pd.isna(m) else str(m))
                for i, c, m in zip(ids, res.codes, res.method, strict=True)]
    counts = res.counts()
    return expected, {"unassigned": counts["unassigned"], "snapped": counts["snapped"],
                   "snap_ambiguous": counts["snap_ambiguous"]}


def _move(conn: sa.Connection, dx_deg: float, every: int = 1, retire: str | None = None) -> None:
    """Shift every ``every``-th current community east by ``dx_deg``; retire one."""
    rows = conn.execute(sa.select(communities.c.code, sa.func.ST_AsBinary(communities.c.geom))
                        .where(communities.c.retired_on.is_(None))
                        .order_by(communities.c.code)).all()[::every]
    moved = shapely.transform(shapely.from_wkb([bytes(r[1]) for r in rows]),
                              lambda c: c + np.array([dx_deg, 0.0]))
    conn.execute(communities.update().where(communities.c.code == sa.bindparam("c"))
                 .values(geom=sa.func.ST_GeomFromWKB(sa.bindparam("w"), 4326)),
                 [{"c": r[0], "w": w} for r, w in zip(rows, shapely.to_wkb(moved), strict=True)])
    if retire is not None:
        conn.execute(communities.update().where(communities.c.code == retire)
                     .values(retired_on=sa.func.current_date()))


def _check_against_reference(conn: sa.Connection, batch_rows: int) -> dict[str, int]:
    before = _state(conn)
    expected, counts = _reference(conn)
    got = reassign_incidents(conn, batch_rows=batch_rows)
    after = _state(conn)
    diff = [(a, b) for a, b in zip(after, expected, strict=True) if a != b]
    assert not diff, diff[:5]
    changed = sum(a != b for a, b in zip(before, after, strict=True))
    assert got == {"reassigned": changed, **counts}
    return got


def _generated_city(tmp_path: Path) -> tuple[Path, Path]:
    """40 generated communities, and 3,000 incidents: inside, on vertices, just outside the
    city (snapped within 40 m), far outside, and without a point (reported codes)."""
    comms = generate_boundaries(40, n_subdistricts=4, n_districts=2, seed=7)
    comms.to_file(tmp_path / "c.geojson", driver="GeoJSON")
    rng = np.random.default_rng(3)
    x0, y0, x1, y1 = comms.total_bounds
    n = 3000
    x = rng.uniform(x0 - 0.002, x1 + 0.002, n)
    y = rng.uniform(y0 - 0.002, y1 + 0.002, n)
    verts = shapely.get_coordinates(np.asarray(comms.geometry.array))
    pick = rng.choice(len(verts), 300, replace=False)
    x[:300], y[:300] = verts[pick, 0], verts[pick, 1]  # on shared boundaries and vertices
    outline = shapely.get_coordinates(shapely.union_all(np.asarray(comms.geometry.array))
                                      .exterior)
    pick = rng.choice(len(outline), 300, replace=False)
    x[300:600] = outline[pick, 0] + rng.uniform(-3e-4, 3e-4, 300)  # a few metres either side
    y[300:600] = outline[pick, 1] + rng.uniform(-3e-4, 3e-4, 300)
    codes = comms["code"].to_numpy()
    reported = np.where(rng.random(n) < 0.5, codes[rng.integers(0, len(codes), n)], "")
    reported[2900:2950] = "999999999999"  # unknown codes
    frame = pd.DataFrame({"id": [f"G{i:05d}" for i in range(n)],
                          "occurred_at": "2025-05-01 08:00:00", "category": "theft",
                          "lon": np.round(x, 7).astype(object),
                          "lat": np.round(y, 7).astype(object),
                          "community_code": reported})
    frame.loc[2800:, ["lon", "lat"]] = ""  # no point: the reported code decides
    frame.to_csv(tmp_path / "i.csv", index=False)
    return tmp_path / "c.geojson", tmp_path / "i.csv"


@pytest.mark.slow  # a load of 3,000 incidents and four full assignments: over 2 s
def test_reassignment_equals_assigning_every_incident_afresh(engine, tmp_path):
    city, points = _generated_city(tmp_path)
    load_file(engine, city, "communities")
    rep = load_file(engine, points, "incidents", snap_m=40.0)
    assert rep.incidents_snapped > 20 and rep.incidents_snap_ambiguous > 0
    with engine.begin() as conn:
        first = current_communities(conn)["code"].iloc[0]
        _move(conn, 30 / 85_000, every=3, retire=first)  # a third move 30 m; one retired
        got = _check_against_reference(conn, batch_rows=257)
        assert got["reassigned"] > 50
        assert _check_against_reference(conn, batch_rows=10_000)["reassigned"] == 0
        _move(conn, -0.004)  # every community 340 m west: many change, the east edge unassigned
        assert _check_against_reference(conn, batch_rows=1000)["reassigned"] > 200


@pytest.mark.slow  # the sample city's incidents twice: over 2 s
def test_reassignment_of_the_sample_city_equals_assigning_afresh(sample_cache, tmp_path):
    path = tmp_path / "sample.db"
    shutil.copyfile(sample_cache / "sample.db", path)
    engine = create_db_engine(f"sqlite:///{path}")
    try:
        with engine.begin() as conn:
            first = current_communities(conn)["code"].iloc[-1]
            _move(conn, 30 / 85_000, retire=first)
            assert _check_against_reference(conn, batch_rows=5000)["reassigned"] > 100
    finally:
        engine.dispose()


_KILLED = """
import sys, threading
import numpy as np, shapely, sqlalchemy as sa
from api.assignment import reassign_incidents
from api.db import create_db_engine
from tests.api.test_reassign import _move

def ready(_message=None):
    print("ready", flush=True)
    threading.Event().wait()  # until killed

with create_db_engine(sys.argv[1]).begin() as conn:
    _move(conn, 30 / 85_000)
    reassign_incidents(conn, batch_rows=500, progress=ready if sys.argv[2] == "mid" else None)
    ready()
"""


@pytest.mark.slow  # a load and a killed process: over 2 s
@pytest.mark.parametrize("when", ["mid", "after-update"])
def test_kill_during_a_reassignment_leaves_the_database_as_before(db_url, engine, tmp_path,
                                                                  when):
    city, points = _generated_city(tmp_path)
    load_file(engine, city, "communities")
    load_file(engine, points, "incidents", snap_m=40.0)
    with engine.connect() as conn:
        before = _state(conn)
        geoms = conn.execute(sa.select(communities.c.code, sa.func.ST_AsText(communities.c.geom))
                             .order_by(communities.c.code)).all()
    engine.dispose()
    root = Path(__file__).resolve().parents[2]
    proc = subprocess.Popen([sys.executable, "-c", _KILLED, db_url, when], cwd=root,
                            env={**os.environ, "PYTHONPATH": str(root)},
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "ready"  # staged rows (mid) or updated (after)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    with engine.connect() as conn:
        assert _state(conn) == before
        assert conn.execute(sa.select(communities.c.code, sa.func.ST_AsText(communities.c.geom))
                            .order_by(communities.c.code)).all() == geoms
    with engine.begin() as conn:  # and the database still re-assigns
        _move(conn, 30 / 85_000)
        assert _check_against_reference(conn, batch_rows=700)["reassigned"] > 0
