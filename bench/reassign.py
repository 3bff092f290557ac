"""Benchmark: re-assigning stored incidents after a boundary change, SpatiaLite and PostGIS.

Builds (once, kept in ``--workdir``) the city of ``bench/load.py`` (``--communities``
generated communities, hundreds of vertices each) and, per ``--rows`` count, its incidents
loaded with ``pingan load incidents --snap-m 5``. Each contender then runs in a fresh process
(peak RSS is that process's ``ru_maxrss`` from ``os.wait4``): inside one transaction it moves
every community 30 m east in the database, times ``reassign_incidents`` alone, fingerprints
the resulting assignment of every incident (outside the timing) and rolls back, so every
contender starts from the same database.

Contenders: ``pingan`` (this checkout's :func:`api.assignment.reassign_incidents`) and the
peer ``previous`` (``api/assignment.py`` as of ``--peer-rev``, the implementation this one
replaces, on this checkout's schema). Their counts and fingerprints must agree.

Run: ``python bench/reassign.py [--rows 1000000 5000000] [--backends spatialite postgis]
[--workdir DIR] [--peer-rev fcd38b6]``. PostGIS: ``PINGAN_BENCH_POSTGIS_URL`` (default the test
server's ``pingan_test`` database; a scratch schema per row count, dropped at the end).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

_DRIVER = r"""
import hashlib, importlib.util, json, sys, time
import numpy as np, shapely, sqlalchemy as sa
from api.db import create_db_engine
from api.models import communities, incidents
url, impl = sys.argv[1], sys.argv[2]
if impl == "pingan":
    from api.assignment import reassign_incidents
else:
    spec = importlib.util.spec_from_file_location("previous_assignment", impl)
    mod = importlib.util.module_from_spec(spec)
    sys.modules["previous_assignment"] = mod
    spec.loader.exec_module(mod)
    reassign_incidents = mod.reassign_incidents
engine = create_db_engine(url)
with engine.connect() as conn:
    tx = conn.begin()
    rows = conn.execute(sa.select(communities.c.code, sa.func.ST_AsBinary(communities.c.geom))
                        .where(communities.c.retired_on.is_(None))).all()
    moved = shapely.transform(shapely.from_wkb([bytes(r[1]) for r in rows]),
                              lambda c: c + np.array([30 / 85_000, 0.0]))
    conn.execute(communities.update().where(communities.c.code == sa.bindparam("c"))
                 .values(geom=sa.func.ST_GeomFromWKB(sa.bindparam("w"), 4326)),
                 [{"c": r[0], "w": w} for r, w in zip(rows, shapely.to_wkb(moved))])
    t0 = time.perf_counter()
    counts = reassign_incidents(conn)
    seconds = time.perf_counter() - t0
    digest = hashlib.sha256()
    result = conn.execute(sa.select(incidents.c.id, incidents.c.community_code,
                                    incidents.c.assigned_by).order_by(incidents.c.id))
    for part in result.partitions(500_000):
        digest.update(repr(list(part)).encode())
    tx.rollback()
print(json.dumps({"seconds": seconds, "counts": counts, "digest": digest.hexdigest()[:16]}))
"""


def _bench_load():  # bench/load.py is a script, not a module of a package
    spec = importlib.util.spec_from_file_location("bench_load", ROOT / "bench" / "load.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def run_measured(url: str, impl: str) -> tuple[dict, float]:
    """Run the driver in a fresh process: its report and its peak RSS in MB (``os.wait4``)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-c", _DRIVER, url, impl], env=env, cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None and proc.stderr is not None
    out = proc.stdout.read()
    err = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    if os.waitstatus_to_exitcode(status):
        raise SystemExit(f"{impl} failed:\n{err.decode()[-3000:]}")
    return json.loads(out.decode().strip().splitlines()[-1]), usage.ru_maxrss / 1024


def prepare(bl, url: str, city: Path, csv: Path) -> None:
    """Migrate, load the communities and the incidents (snapping within 5 m)."""
    for args in (("migrate",), ("load", "communities", str(city)),
                 ("load", "incidents", "--snap-m", "5", str(csv))):
        bl.run(bl.pingan(url, *args))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rows", type=int, nargs="+", default=[1_000_000, 5_000_000])
    ap.add_argument("--communities", type=int, default=3000)
    ap.add_argument("--backends", nargs="+", default=["spatialite", "postgis"])
    ap.add_argument("--workdir", type=Path, default=Path("/tmp/pingan-bench-reassign"))
    ap.add_argument("--peer-rev", default="fcd38b6",
                    help="git revision whose api/assignment.py is the peer")
    ap.add_argument("--postgis-url", default=None,
                    help="an existing PostGIS database per row count: a URL with {rows}")
    args = ap.parse_args()
    work = args.workdir
    work.mkdir(parents=True, exist_ok=True)
    bl = _bench_load()
    city = bl.write_city(work, args.communities)
    peer = work / "previous_assignment.py"
    peer.write_bytes(subprocess.run(["git", "show", f"{args.peer_rev}:api/assignment.py"],
                                    cwd=ROOT, check=True, capture_output=True).stdout)
    import geopandas as gpd
    import numpy as np

    polygons = np.asarray(gpd.read_file(city[0]).geometry.array)
    results = []
    for n in args.rows:
        csv = bl.write_incidents(work / f"incidents_{n}.csv", n, polygons)
        for backend in args.backends:
            made = None
            if backend == "spatialite":
                db = work / f"reassign_{n}.db"
                url = f"sqlite:///{db}"
                if not db.exists():
                    prepare(bl, url, city[0], csv)
            elif args.postgis_url:
                url = args.postgis_url.format(rows=n)
            else:
                made = bl.postgis_schema()
                if made is None:
                    continue
                url = made[1]
                prepare(bl, url, city[0], csv)
            try:
                for name, impl in (("previous", str(peer)), ("pingan", "pingan")):
                    t0 = time.perf_counter()
                    report, rss = run_measured(url, impl)
                    print(f"{backend} {n:,} {name}: {report} rss {rss:.0f} MB "
                          f"({time.perf_counter() - t0:.0f} s in all)", flush=True)
                    results.append((backend, n, name, report, rss))
            finally:
                if made is not None:
                    bl.drop_schema(made[0])
    print(f"\n{args.communities:,} communities, every one moved 30 m east; {os.cpu_count()} "
          f"CPUs; each contender a fresh process (peak RSS = its ru_maxrss)\n")
    print("| backend | rows | contender | re-assign s | peak RSS MB | changed | same result |")
    print("|---|---:|---|---:|---:|---:|---|")
    for backend, n, name, report, rss in results:
        ref = next(r for r in results if r[:2] == (backend, n) and r[2] == "previous")[3]
        same = report["counts"] == ref["counts"] and report["digest"] == ref["digest"]
        print(f"| {backend} | {n:,} | {name} | {report['seconds']:.1f} | {rss:,.0f} | "
              f"{report['counts']['reassigned']:,} | {'yes' if same else 'NO'} |")


if __name__ == "__main__":
    main()
