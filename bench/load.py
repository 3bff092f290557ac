"""Benchmark: ``pingan load incidents`` at city scale on SpatiaLite and PostGIS, with DuckDB.

Builds a city of ``--communities`` generated communities (hundreds of vertices each,
``geo.sample.generate_boundaries``) and, for each ``--rows`` count, a CSV of incident-like
points (``bench/assign.py``'s draw: hot spots, a background spread, points outside, points on
vertices). For each backend it runs, each in a fresh subprocess (peak RSS is that process's
``ru_maxrss`` from ``os.wait4``):

- the initial load (``pingan load incidents FILE``: read, validate, assign, store);
- a re-load of the same file (every id exists: updates);
- a boundary load that moves every community 30 m east, re-assigning every incident;

and the write-ahead log each step wrote (the disk headroom its transaction needs).

The peer, in the same run: DuckDB's ``read_csv`` + spatial extension ``ST_Contains`` join of
the same file with the same polygons (bundled extension file, loaded offline), which assigns
but does not validate or store in a transactional database.

Run: ``python bench/load.py [--rows 5000000 20000000] [--communities 3000] [--backends
spatialite postgis] [--workdir DIR]``. PostGIS: ``PINGAN_BENCH_POSTGIS_URL`` (default the
test server's ``pingan_test`` database; a scratch schema is created and dropped).
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import quote

import numpy as np
import pandas as pd
import shapely

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from geo.sample.boundaries import generate_boundaries  # noqa: E402

POSTGIS_URL = os.environ.get("PINGAN_BENCH_POSTGIS_URL",
                             "postgresql+psycopg://postgres@127.0.0.1:5432/pingan_test")
CATEGORIES = ["theft", "burglary", "fraud", "assault", "dispute", "vandalism"]


def _draw_points():  # bench/assign.py is a script, not a module of a package
    spec = importlib.util.spec_from_file_location("bench_assign", ROOT / "bench" / "assign.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.draw_points


def write_city(work: Path, n_communities: int) -> tuple[Path, Path, Path]:
    """Communities, the same moved 30 m east (GeoJSON), and their WKT CSV for DuckDB."""
    gdf = generate_boundaries(n_communities)
    paths = (work / "communities.geojson", work / "communities_moved.geojson",
             work / "communities_wkt.csv")
    if not paths[0].exists():
        gdf.to_file(paths[0], driver="GeoJSON")
        moved = gdf.copy()
        moved["geometry"] = shapely.transform(np.asarray(gdf.geometry.array),
                                              lambda c: c + np.array([30 / 85_000, 0.0]))
        moved.to_file(paths[1], driver="GeoJSON")
        pd.DataFrame({"code": gdf["code"], "wkt": shapely.to_wkt(
            np.asarray(gdf.geometry.array), rounding_precision=-1)}).to_csv(paths[2], index=False)
    return paths


def write_incidents(path: Path, n: int, polygons: np.ndarray, chunk: int = 1_000_000) -> Path:
    """A CSV of ``n`` incidents in 2025, written in chunks (the generator holds one chunk)."""
    if path.exists():
        return path
    draw = _draw_points()
    tmp = path.with_suffix(".part")
    start = np.datetime64("2025-01-01T00:00:00")
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write("id,occurred_at,category,lon,lat\n")
        for i0 in range(0, n, chunk):
            k = min(chunk, n - i0)
            x, y = draw(polygons, k, seed=i0)
            rng = np.random.default_rng(i0 + 1)
            t = start + rng.integers(0, 365 * 86400, k).astype("timedelta64[s]")
            pd.DataFrame({"id": [f"I{i:09d}" for i in range(i0, i0 + k)],
                          "occurred_at": np.datetime_as_string(t).astype(object),
                          "category": np.array(CATEGORIES)[rng.integers(0, 6, k)],
                          "lon": np.round(x, 6), "lat": np.round(y, 6)}).to_csv(
                fh, header=False, index=False)
    tmp.rename(path)
    return path


def run(argv: list[str]) -> tuple[float, float]:
    """Run a command in a fresh process: wall seconds and its peak RSS in MB."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    t0 = time.perf_counter()
    proc = subprocess.Popen(argv, env=env, cwd=ROOT, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    assert proc.stderr is not None
    err = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - t0
    if proc.returncode:
        raise SystemExit(f"{argv[-3:]} failed ({proc.returncode}):\n{err.decode()[-2000:]}")
    return wall, usage.ru_maxrss / 1024


def pingan(url: str, *args: str) -> list[str]:
    code = "import sys; from api.cli import main; sys.argv[0] = 'pingan'; sys.exit(main())"
    return [sys.executable, "-c", code, "--database", url, *args]


_DUCKDB = """
import sys, duckdb, duckdb_extension_spatial as ext, glob, os
con = duckdb.connect()
con.execute("LOAD '" + glob.glob(os.path.join(os.path.dirname(ext.__file__),
            "extensions", "*", "spatial.duckdb_extension"))[0] + "'")
con.execute("CREATE TABLE c AS SELECT code, ST_GeomFromText(wkt) AS geom "
            "FROM read_csv(?, all_varchar=true)", [sys.argv[1]])
con.execute("CREATE TABLE i AS SELECT id, occurred_at, category, ST_Point(lon, lat) AS p "
            "FROM read_csv(?)", [sys.argv[2]])
con.execute("CREATE TABLE a AS SELECT i.id, c.code FROM i JOIN c ON ST_Contains(c.geom, i.p)")
print(con.execute("SELECT count(*) FROM a").fetchone()[0])
"""


def postgis_schema() -> tuple[str, str] | None:
    import sqlalchemy as sa

    schema = f"bench_{uuid.uuid4().hex[:10]}"
    try:
        admin = sa.create_engine(POSTGIS_URL)
        with admin.begin() as conn:
            conn.execute(sa.text(f"CREATE SCHEMA {schema}"))
        admin.dispose()
    except Exception as exc:  # a bench without a server skips PostGIS
        print(f"PostGIS skipped: {exc}".splitlines()[0], file=sys.stderr)
        return None
    sep = "&" if "?" in POSTGIS_URL else "?"
    return schema, f"{POSTGIS_URL}{sep}options={quote(f'-csearch_path={schema},public')}"


def drop_schema(schema: str) -> None:
    import sqlalchemy as sa

    admin = sa.create_engine(POSTGIS_URL)
    with admin.begin() as conn:
        conn.execute(sa.text(f"DROP SCHEMA {schema} CASCADE"))
    admin.dispose()


_WAL_WATCH: list = []


def wal_mark(url: str) -> int:
    """Where the write-ahead log stands: PostgreSQL's WAL position in bytes; for SQLite the
    ``-wal`` file is checkpointed and truncated to 0 (its size after a step is that step's).

    SQLite: the connection stays open until :func:`wal_bytes`, so the step's process is not
    the database's last connection and leaves its ``-wal`` file in place when it closes (the
    last one checkpoints it into the database and deletes it)."""
    if url.startswith("sqlite"):
        import sqlite3

        con = sqlite3.connect(url.removeprefix("sqlite:///"))
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        con.execute("SELECT count(*) FROM sqlite_master").fetchone()
        _WAL_WATCH.append(con)
        return 0
    import sqlalchemy as sa

    eng = sa.create_engine(url)
    with eng.connect() as conn:
        lsn = conn.execute(sa.text("SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')"))
        out = int(lsn.scalar_one())
    eng.dispose()
    return out


def wal_bytes(url: str, mark: int) -> int:
    """Write-ahead log written since ``mark`` (:func:`wal_mark`)."""
    if url.startswith("sqlite"):
        wal = Path(url.removeprefix("sqlite:///") + "-wal")
        size = wal.stat().st_size if wal.exists() else 0
        while _WAL_WATCH:
            _WAL_WATCH.pop().close()
        return size
    return wal_mark(url) - mark


def bench_backend(name: str, url: str, city: tuple[Path, Path, Path], csv: Path, n: int
                  ) -> list[tuple[str, str, int, float, float, float]]:
    run(pingan(url, "init"))
    run(pingan(url, "load", "communities", str(city[0])))
    rows = []
    for step, args in (("initial load", ("load", "incidents", str(csv))),
                       ("re-load (updates)", ("load", "incidents", str(csv))),
                       ("boundary load + re-assign", ("load", "communities", str(city[1])))):
        mark = wal_mark(url)
        wall, rss = run(pingan(url, *args))
        rows.append((name, step, n, wall, rss, wal_bytes(url, mark) / 2**20))
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rows", type=int, nargs="+", default=[5_000_000])
    ap.add_argument("--communities", type=int, default=3000)
    ap.add_argument("--backends", nargs="+", default=["spatialite", "postgis"])
    ap.add_argument("--workdir", type=Path, default=Path("/tmp/pingan-bench-load"))
    args = ap.parse_args()
    work = args.workdir
    work.mkdir(parents=True, exist_ok=True)
    city = write_city(work, args.communities)
    import geopandas as gpd

    polygons = np.asarray(gpd.read_file(city[0]).geometry.array)
    results: list[tuple[str, str, int, float, float, float]] = []
    for n in args.rows:
        csv = write_incidents(work / f"incidents_{n}.csv", n, polygons)
        wall, rss = run([sys.executable, "-c", _DUCKDB, str(city[2]), str(csv)])
        results.append(("duckdb (peer)", "read_csv + ST_Contains join", n, wall, rss, 0.0))
        for backend in args.backends:
            if backend == "spatialite":
                db = work / f"bench_{n}.db"
                for suffix in ("", "-journal", "-wal"):
                    Path(str(db) + suffix).unlink(missing_ok=True)
                results.extend(bench_backend(backend, f"sqlite:///{db}", city, csv, n))
                db.unlink(missing_ok=True)
            else:
                made = postgis_schema()
                if made is None:
                    continue
                try:
                    results.extend(bench_backend(backend, made[1], city, csv, n))
                finally:
                    drop_schema(made[0])
    print(f"\n{args.communities:,} communities; {os.cpu_count()} CPUs; each step a fresh "
          f"process (peak RSS = its ru_maxrss)\n")
    print(f"| {'engine':<14} | {'step':<27} | {'rows':>11} | {'seconds':>8} | {'rows/s':>9} "
          f"| {'peak RSS MB':>11} | {'WAL MB':>8} |")
    print(f"|{'-' * 16}|{'-' * 29}|{'-' * 13}|{'-' * 10}|{'-' * 11}|{'-' * 13}|{'-' * 10}|")
    for engine, step, n, wall, rss, wal in results:
        print(f"| {engine:<14} | {step:<27} | {n:>11,} | {wall:>8.1f} | {n / wall:>9,.0f} "
              f"| {rss:>11,.0f} | {wal:>8,.0f} |")
    print("\nWAL MB: write-ahead log one step wrote (SQLite: its -wal file, checkpointed to 0 "
          "before the step; PostgreSQL: pg_current_wal_lsn growth): the disk headroom its "
          "transaction needs, roughly linear in rows.")


if __name__ == "__main__":
    main()
