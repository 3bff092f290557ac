"""Benchmark: period metrics read from the period tables, against the raw-row path.

Builds a city of ``--communities`` generated communities (``geo.sample.generate_boundaries``,
through ``bench/load.py``) and ``--rows`` incidents over 2024-2025 (``bench/load.py``'s point
draw, with a status), loads them with ``pingan load`` (which keeps ``period_day_counts`` and
``period_month_counts``), then times, each in a fresh process (empty cache) and ``--runs``
times (median):

- ``pingan rates --period 2025``
- ``pingan rates --period 2025 --compare last-year``
- ``pingan trend --period 2025``
- ``pingan hotspots --period 2025`` (Gi* on the communities' rates)

once reading the period tables and once reading the raw rows (the peer, same run, same
database: the tables' time-zone record is removed, which makes every reader fall back to the
raw rows, and restored afterwards). The outputs of both paths are compared byte for byte
(JSON, ``generated_at`` removed). Targets at 20 M incidents: rates <= 2 s, compare <= 3 s,
trend <= 2 s, hotspots <= 3 s.

Run: ``python bench/periods.py [--rows 2000000] [--communities 3000] [--runs 3]
[--backends spatialite postgis] [--workdir DIR] [--reuse]`` (``--reuse``: time the SpatiaLite
database a previous run of the same size loaded, without loading it again).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from types import ModuleType

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

STATUSES = ["filed", "filed", "filed", "closed", "withdrawn"]
COMMANDS = {
    "rates --period 2025": ("rates", "--period", "2025"),
    "rates --compare last-year": ("rates", "--period", "2025", "--compare", "last-year"),
    "trend --period 2025": ("trend", "--period", "2025"),
    "hotspots --period 2025 (communities)": ("hotspots", "--period", "2025"),
}


def _bench_load() -> ModuleType:  # bench/load.py is a script, not a module of a package
    spec = importlib.util.spec_from_file_location("bench_load", ROOT / "bench" / "load.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def write_incidents(load: ModuleType, path: Path, n: int, polygons: np.ndarray,
                    chunk: int = 1_000_000) -> Path:
    """A CSV of ``n`` incidents over 2024-2025 with a status, written in chunks."""
    if path.exists():
        return path
    draw = load._draw_points()
    tmp = path.with_suffix(".part")
    start = np.datetime64("2024-01-01T00:00:00")
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write("id,occurred_at,category,status,lon,lat\n")
        for i0 in range(0, n, chunk):
            k = min(chunk, n - i0)
            x, y = draw(polygons, k, seed=i0)
            rng = np.random.default_rng(i0 + 1)
            t = start + rng.integers(0, 731 * 86400, k).astype("timedelta64[s]")
            pd.DataFrame({"id": [f"I{i:09d}" for i in range(i0, i0 + k)],
                          "occurred_at": np.datetime_as_string(t).astype(object),
                          "category": np.array(load.CATEGORIES)[rng.integers(0, 6, k)],
                          "status": np.array(STATUSES)[rng.integers(0, 5, k)],
                          "lon": np.round(x, 6), "lat": np.round(y, 6)}).to_csv(
                fh, header=False, index=False)
    tmp.rename(path)
    return path


def _output(load: ModuleType, url: str, args: tuple[str, ...]) -> str:
    """A command's JSON output, ``generated_at`` removed."""
    out = subprocess.run(load.pingan(url, *args, "-f", "json"), capture_output=True, text=True,
                         check=True, cwd=ROOT,
                         env={**os.environ, "PYTHONPATH": str(ROOT)}).stdout
    doc = json.loads(out)

    def strip(x: object) -> object:
        if isinstance(x, dict):
            return {k: strip(v) for k, v in x.items() if k != "generated_at"}
        if isinstance(x, list):
            return [strip(v) for v in x]
        return x

    return json.dumps(strip(doc), sort_keys=True, ensure_ascii=False)


def _set_tables(url: str, timezone: str | None) -> None:
    """Remove (None) or restore the tables' time-zone record: the raw path or the tables."""
    from api import period_tables
    from api.db import create_db_engine
    from api.models import meta

    engine = create_db_engine(url)
    with engine.begin() as conn:
        conn.execute(meta.delete().where(meta.c.key == period_tables.TIMEZONE_KEY))
        if timezone is not None:
            conn.execute(meta.insert().values(key=period_tables.TIMEZONE_KEY, value=timezone))
    engine.dispose()


def _sizes(url: str) -> dict[str, int]:
    import sqlalchemy as sa

    from api.db import create_db_engine

    engine = create_db_engine(url)
    with engine.connect() as conn:
        out = {t: int(conn.execute(sa.text(f"SELECT count(*) FROM {t}")).scalar_one())
               for t in ("incidents", "period_day_counts", "period_month_counts")}
    engine.dispose()
    return out


def bench_backend(load: ModuleType, name: str, url: str, city: Path, csv: Path, runs: int,
                  reuse: bool = False) -> list[tuple[str, str, float, float, bool]]:
    if not reuse:
        load.run(load.pingan(url, "migrate"))
        load.run(load.pingan(url, "load", "communities", str(city)))
        wall, _ = load.run(load.pingan(url, "load", "incidents", str(csv)))
        print(f"{name}: load {wall:.1f} s", file=sys.stderr)
        rebuild = ("from api.db import create_db_engine; from api import period_tables as p; "
                   f"e = create_db_engine({url!r}); c = e.connect(); t = c.begin(); "
                   "p.rebuild(c, 'Asia/Shanghai'); t.rollback()")
        rebuild_s, _ = load.run([sys.executable, "-c", rebuild])
        print(f"{name}: full recount of the tables {rebuild_s:.1f} s", file=sys.stderr)
    print(f"{name}: rows {_sizes(url)}", file=sys.stderr)
    rows = []
    for label, args in COMMANDS.items():
        times = {}
        outputs = {}
        for path, zone in (("tables", "Asia/Shanghai"), ("raw rows", None)):
            _set_tables(url, zone)
            times[path] = statistics.median(load.run(load.pingan(url, *args))[0]
                                            for _ in range(runs))
            outputs[path] = _output(load, url, args)
        _set_tables(url, "Asia/Shanghai")
        same = outputs["tables"] == outputs["raw rows"]
        rows.append((name, label, times["tables"], times["raw rows"], same))
        print(f"{name}: {label}: tables {times['tables']:.2f} s, raw rows "
              f"{times['raw rows']:.2f} s, same output: {same}", file=sys.stderr)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rows", type=int, default=2_000_000)
    ap.add_argument("--communities", type=int, default=3000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--backends", nargs="+", default=["spatialite"])
    ap.add_argument("--workdir", type=Path, default=Path("/tmp/pingan-bench-periods"))
    ap.add_argument("--reuse", action="store_true",
                    help="SpatiaLite: time the database an earlier run loaded (no new load)")
    args = ap.parse_args()
    load = _bench_load()
    work = args.workdir
    work.mkdir(parents=True, exist_ok=True)
    city = load.write_city(work, args.communities)[0]
    import geopandas as gpd

    polygons = np.asarray(gpd.read_file(city).geometry.array)
    t0 = time.perf_counter()
    csv = write_incidents(load, work / f"incidents_{args.rows}.csv", args.rows, polygons)
    print(f"incidents file ready in {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    results = []
    for backend in args.backends:
        if backend == "spatialite":
            db = work / f"periods_{args.rows}.db"
            reuse = args.reuse and db.exists()
            for suffix in ("", "-journal", "-wal", "-shm"):
                if not reuse:
                    Path(str(db) + suffix).unlink(missing_ok=True)
            results.extend(bench_backend(load, backend, f"sqlite:///{db}", city, csv,
                                         args.runs, reuse))
        else:
            made = load.postgis_schema()
            if made is None:
                continue
            try:
                results.extend(bench_backend(load, backend, made[1], city, csv, args.runs))
            finally:
                load.drop_schema(made[0])
    print(f"\n{args.rows:,} incidents, {args.communities:,} communities, cold runs (fresh "
          f"process), median of {args.runs}\n")
    print("| backend | command | period tables (s) | raw rows, peer (s) | speed-up | same output |")
    print("|---|---|---|---|---|---|")
    for name, label, tables, raw, same in results:
        print(f"| {name} | `{label}` | {tables:.2f} | {raw:.2f} | {raw / tables:.1f}x | "
              f"{'yes' if same else 'NO'} |")


if __name__ == "__main__":
    main()
