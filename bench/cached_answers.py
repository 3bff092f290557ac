"""Benchmark: cached API answers per role on a generated city (issue 15 item 3, ≤ 50 ms p50).

Builds (or reuses, in ``--workdir``) a city of ``--communities`` generated communities
(``bench/load.py``'s city: hundreds of vertices each) with ``--rows`` incidents in 2025 on
SpatiaLite, or on a scratch PostGIS schema with ``--backend postgis``, creates one key per role
(the liaison: the first district) and drives the app in process through a real HTTP client
(``fastapi.testclient``, no rate limits). For every role and endpoint it asks once (cold: the
answer is computed and its bytes cached) and then ``--requests`` times: the p50 and p95 of
those cached answers. ``--profile`` prints where a liaison's cached ``/api/v1/rates`` request
spends its time (cProfile, cumulative).

The incident count hardly matters to a cached answer (its bytes are served as they are); the
number of communities does (a liaison's world, the bytes of a city-wide answer).

Run: ``python bench/cached_answers.py [--communities 3000] [--rows 100000] [--requests 21]
[--backend spatialite|postgis] [--profile]``.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import importlib
import io
import pstats
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

ROLES = ("admin", "planner", "client", "liaison")
ENDPOINTS = (("rates", "/api/v1/rates", (("period", "2025"),)),
             ("rates csv", "/api/v1/rates", (("period", "2025"), ("format", "csv"))),
             ("rates geojson", "/api/v1/rates", (("period", "2025"), ("format", "geojson"))),
             ("trend", "/api/v1/trend", (("period", "2025"),)),
             ("hotspots", "/api/v1/hotspots", (("period", "2025"),)))


def _bench_load() -> ModuleType:
    """``bench/load.py`` (a script beside this one): its city, incidents and CLI runner."""
    sys.path.insert(0, str(ROOT / "bench"))
    return importlib.import_module("load")


def build_city(work: Path, communities: int, rows: int, backend: str) -> tuple[str, str | None]:
    """Load the city into a database (reused on SpatiaLite); return its URL and schema."""
    load = _bench_load()
    work.mkdir(parents=True, exist_ok=True)
    city = load.write_city(work, communities)[0]
    schema = None
    if backend == "spatialite":
        db = work / f"cached_{communities}_{rows}.db"
        url = f"sqlite:///{db}"
        if db.exists():
            return url, None
    else:
        made = load.postgis_schema()
        if made is None:
            raise SystemExit("PostGIS is not available")
        schema, url = made
    import geopandas as gpd
    import numpy as np

    polygons = np.asarray(gpd.read_file(city).geometry.array)
    csv = load.write_incidents(work / f"incidents_{rows}.csv", rows, polygons)
    t0 = time.perf_counter()
    for args in (("migrate",), ("load", "communities", str(city)),
                 ("load", "incidents", str(csv))):
        load.run(load.pingan(url, *args))
    print(f"city loaded in {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    return url, schema


async def _inline(func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    return func(*args, **kwargs)


def profile_liaison(app: Any, token: str, n: int) -> str:
    """cProfile of ``n`` cached liaison ``/api/v1/rates`` requests, handlers included.

    FastAPI runs sync dependencies and handlers in a thread pool, out of cProfile's sight:
    for the profile they run inline, in the thread of an in-process ASGI client.
    """
    import fastapi.dependencies.utils
    import fastapi.routing
    import httpx

    async def drive() -> None:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            for _ in range(n):
                r = await client.get("/api/v1/rates", params={"period": "2025"},
                                     headers={"Authorization": f"Bearer {token}"})
                assert r.status_code == 200, r.text

    modules = (fastapi.routing, fastapi.dependencies.utils)
    saved = [m.run_in_threadpool for m in modules]
    prof = cProfile.Profile()
    try:
        for m in modules:
            m.run_in_threadpool = _inline  # type: ignore[attr-defined]
        prof.enable()
        asyncio.run(drive())
        prof.disable()
    finally:
        for m, original in zip(modules, saved, strict=True):
            m.run_in_threadpool = original  # type: ignore[attr-defined]
    out = io.StringIO()
    stats = pstats.Stats(prof, stream=out).sort_stats("cumulative")
    stats.print_stats(r"/(api|sqlalchemy/engine)/", 30)  # pingan's code and SQL round trips
    return (f"\nliaison, cached /api/v1/rates, {n} requests, {stats.total_tt * 1000 / n:.1f} ms "
            f"each under the profiler (cProfile, cumulative; pingan's functions and SQL):\n\n"
            + out.getvalue())


def measure(url: str, n: int, profile: bool) -> list[tuple[str, str, float, float, float]]:
    """Cold, p50 and p95 (ms) of every role and endpoint; print a liaison's profile."""
    from fastapi.testclient import TestClient

    from api.app import create_app
    from api.auth import create_key
    from api.db import create_db_engine
    from api.settings import Settings
    from api.store import read_communities

    engine = create_db_engine(url)
    with engine.connect() as conn:
        district = str(read_communities(conn)["district_code"].dropna().iloc[0])
    tokens = {role: create_key(engine, name=f"bench {role}", role=role,
                               jurisdictions=[district] if role == "liaison" else ()).token
              for role in ROLES}
    settings = Settings(database_url=url, api={"rate_limit_per_minute": 0,
                                               "auth_failures_per_minute": 0})
    rows = []
    with TestClient(create_app(settings, engine=engine)) as client:
        for role in ROLES:
            headers = {"Authorization": f"Bearer {tokens[role]}"}
            for name, path, params in ENDPOINTS:
                t0 = time.perf_counter()
                first = client.get(path, params=params, headers=headers)
                cold = (time.perf_counter() - t0) * 1000
                if first.status_code != 200:
                    raise SystemExit(f"{role} {name}: {first.status_code} {first.text[:300]}")
                times = []
                for _ in range(n):
                    t0 = time.perf_counter()
                    r = client.get(path, params=params, headers=headers)
                    times.append((time.perf_counter() - t0) * 1000)
                    assert r.content == first.content, f"{role} {name}: cached bytes differ"
                times.sort()
                p95 = times[min(len(times) - 1, round(0.95 * (len(times) - 1)))]
                rows.append((role, f"{name} ({len(first.content) / 2**20:.1f} MB)", cold,
                             statistics.median(times), p95))
        if profile:
            print(profile_liaison(client.app, tokens["liaison"], n))
    engine.dispose()
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--communities", type=int, default=3000)
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--requests", type=int, default=21)
    ap.add_argument("--backend", choices=("spatialite", "postgis"), default="spatialite")
    ap.add_argument("--workdir", type=Path, default=Path("/tmp/pingan-bench-cached"))
    ap.add_argument("--profile", action="store_true")
    args = ap.parse_args()
    url, schema = build_city(args.workdir, args.communities, args.rows, args.backend)
    try:
        rows = measure(url, args.requests, args.profile)
    finally:
        if schema is not None:
            _bench_load().drop_schema(schema)
    print(f"\n{args.communities:,} communities, {args.rows:,} incidents, {args.backend}; "
          f"in-process HTTP client; cold = first request (computed), then {args.requests} "
          f"cached requests\n")
    print("| role | endpoint | cold ms | cached p50 ms | cached p95 ms |")
    print("|---|---|---|---|---|")
    for role, name, cold, p50, p95 in rows:
        print(f"| {role} | {name} | {cold:.0f} | {p50:.1f} | {p95:.1f} |")


if __name__ == "__main__":
    main()
