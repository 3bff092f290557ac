"""Load benchmark of the HTTP API on the sample city, on SpatiaLite and on PostGIS.

For each backend: load the sample city (``api.demo``) into a fresh database (a temporary
SpatiaLite file; a temporary schema of the PostGIS test database), start ``pingan serve`` as a
subprocess on loopback, and drive the main read endpoints with concurrent asyncio + httpx
clients. Each endpoint is measured *cold* (the first request after the server started: nothing
cached yet, not even the database's pages for that query), *warm* (the median of ten sequential
requests after it: cached results where the endpoint caches them) and then under load (a
bounded number of requests or seconds with ``--concurrency`` clients): requests per second and
the p50, p95 and p99 latencies. One table is printed at the end.

Before the endpoints, a fresh server gets a *cold burst*: 100 requests at once, 25 distinct
cold computations asked four times each (concurrent requests for one result share its
computation; no request holds a pooled connection while waiting for another). Every answer
must come within 60 s with no error.

Endpoints the server does not have yet are probed and listed as missing instead of failing
the run.

Usage::

    python bench/api_load.py [--quick] [--cold-only] [--backends spatialite,postgis]
                             [--concurrency 8]

The machine has 2 shared cores: the server and the clients share them, so the figures compare
endpoints and backends with each other, not with other machines.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import httpx
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("SPATIALITE_LIBRARY_PATH", "mod_spatialite")

POSTGIS_URL = os.environ.get(
    "PINGAN_TEST_POSTGIS_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/pingan_test")


@dataclass(frozen=True)
class Endpoint:
    name: str
    path: str
    role: str
    params: tuple[tuple[str, str], ...] = ()


ENDPOINTS = [
    Endpoint("communities (json)", "/api/v1/communities", "planner"),
    Endpoint("communities (geojson)", "/api/v1/communities", "planner", (("format", "geojson"),)),
    Endpoint("incidents page (100)", "/api/v1/incidents", "admin",
             (("period", "2025"), ("limit", "100"), ("offset", "1000"))),
    Endpoint("incidents page (liaison)", "/api/v1/incidents", "liaison",
             (("period", "2025"), ("limit", "100"))),
    Endpoint("aggregates by community", "/api/v1/aggregates/communities", "planner",
             (("period", "2025"),)),
    Endpoint("aggregates grid 250 m", "/api/v1/aggregates/grid", "planner",
             (("period", "2025"),)),
    Endpoint("aggregates grid (geojson)", "/api/v1/aggregates/grid", "planner",
             (("period", "2025"), ("format", "geojson"))),
    Endpoint("catalogue", "/api/v1/catalogue", "client"),
    Endpoint("rates by community", "/api/v1/rates", "client", (("period", "2025"),)),
    Endpoint("rates vs last year, district", "/api/v1/rates", "client",
             (("period", "2025"), ("compare", "last-year"), ("level", "district"))),
    Endpoint("hot spots (rate)", "/api/v1/hotspots", "client", (("period", "2025"),)),
    Endpoint("protection", "/api/v1/protection", "client", (("period", "2025"),)),
    Endpoint("coverage police_office", "/api/v1/coverage", "client",
             (("type", "police_office"),)),
    Endpoint("gaps (geojson)", "/api/v1/gaps", "planner",
             (("type", "police_office"), ("format", "geojson"))),
    Endpoint("workload police_station", "/api/v1/workload", "client",
             (("type", "police_station"), ("period", "2025"))),
    Endpoint("standard by community", "/api/v1/standard", "client", (("period", "2025"),)),
    Endpoint("standard by district", "/api/v1/standard", "client",
             (("period", "2025"), ("level", "district"))),
    Endpoint("map page: rates", "/maps/rates", "planner", (("period", "2025"),)),
]


@dataclass
class Result:
    backend: str
    endpoint: str
    cold_ms: float | None = None
    warm_ms: float | None = None
    requests: int = 0
    errors: int = 0
    seconds: float = 0.0
    latencies_ms: tuple[float, ...] = ()
    note: str = ""

    def percentile(self, q: float) -> float:
        data = sorted(self.latencies_ms)
        if not data:
            return float("nan")
        return data[min(len(data) - 1, round(q / 100 * (len(data) - 1)))]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@contextlib.contextmanager
def database(backend: str, workdir: Path) -> Iterator[str]:
    """Yield the URL of a fresh database; drop it afterwards."""
    if backend == "spatialite":
        yield f"sqlite:///{workdir / 'bench.db'}"
        return
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(POSTGIS_URL)
    with admin.begin() as conn:
        conn.execute(sa.text("CREATE EXTENSION IF NOT EXISTS postgis"))
        conn.execute(sa.text(f"CREATE SCHEMA {schema}"))
    sep = "&" if "?" in POSTGIS_URL else "?"
    try:
        yield f"{POSTGIS_URL}{sep}options={quote(f'-csearch_path={schema},public')}"
    finally:
        with admin.begin() as conn:
            conn.execute(sa.text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


def prepare(url: str, manifest: Path) -> dict[str, str]:
    """Load the sample city and create one key per role; return the tokens."""
    from api.auth import create_key
    from api.db import create_db_engine, migrate
    from api.demo import load_sample
    from api.store import read_communities

    engine = create_db_engine(url)
    migrate(engine)
    load_sample(engine, manifest, timezone="Asia/Shanghai", echo=lambda _: None)
    with engine.connect() as conn:
        district = str(read_communities(conn)["district_code"].dropna().iloc[0])
    tokens = {
        "admin": create_key(engine, name="bench admin", role="admin").token,
        "liaison": create_key(engine, name="bench liaison", role="liaison",
                              jurisdictions=[district]).token,
        "planner": create_key(engine, name="bench planner", role="planner").token,
        "client": create_key(engine, name="bench client", role="client").token,
    }
    engine.dispose()
    return tokens


def serve_command(url: str, port: int) -> list[str]:
    """``pingan serve`` when the command line has it, else uvicorn on the same factory."""
    from api.cli import app

    names = {c.name or (c.callback.__name__ if c.callback else "") for c in
             app.registered_commands}
    if "serve" in names:
        return [sys.executable, "-m", "api.cli", "--database", url, "serve", "--host",
                "127.0.0.1", "--port", str(port), "--log-level", "warning"]
    return [sys.executable, "-m", "uvicorn", "--factory", "api.app:create_app", "--host",
            "127.0.0.1", "--port", str(port), "--log-level", "warning"]


@contextlib.contextmanager
def server(url: str) -> Iterator[str]:
    port = free_port()
    env = {**os.environ, "PINGAN_DATABASE_URL": url,
           "PINGAN_API__RATE_LIMIT_PER_MINUTE": "0", "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(serve_command(url, port), cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"the server exited: {proc.stderr.read().decode()[-2000:]}"
                                   if proc.stderr else "the server exited")
            try:
                if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("the server did not answer /health within 60 s")
            time.sleep(0.2)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


async def drive(base: str, ep: Endpoint, token: str, *, requests: int, seconds: float,
                concurrency: int, backend: str) -> Result:
    headers = {"Authorization": f"Bearer {token}"}
    result = Result(backend, ep.name)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=base, headers=headers, limits=limits,
                                 timeout=60) as client:
        t0 = time.perf_counter()
        first = await client.get(ep.path, params=ep.params)
        result.cold_ms = (time.perf_counter() - t0) * 1000
        if first.status_code in (404, 405):
            result.note = "not available yet"
            return result
        if first.status_code != 200:
            result.note = f"status {first.status_code}"
            return result
        sequential = []
        for _ in range(10):
            t = time.perf_counter()
            await client.get(ep.path, params=ep.params)
            sequential.append((time.perf_counter() - t) * 1000)
        result.warm_ms = sorted(sequential)[len(sequential) // 2]
        latencies: list[float] = []
        errors = 0
        remaining = requests
        stop_at = time.perf_counter() + seconds

        async def worker() -> None:
            nonlocal remaining, errors
            while remaining > 0 and time.perf_counter() < stop_at:
                remaining -= 1
                t = time.perf_counter()
                r = await client.get(ep.path, params=ep.params)
                latencies.append((time.perf_counter() - t) * 1000)
                if r.status_code != 200:
                    errors += 1

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        result.seconds = time.perf_counter() - start
        result.latencies_ms = tuple(latencies)
        result.requests = len(latencies)
        result.errors = errors
    return result


#: The cold burst: 100 requests at once on a fresh server, 25 distinct cold computations
#: (protection, rates with a comparison, grid hot spots and grid aggregates for different
#: months and roles) asked four times each, so concurrent requests for one result share it.
def burst_requests() -> list[tuple[str, str, tuple[tuple[str, str], ...]]]:
    months = ([f"2025-{m:02d}" for m in range(1, 13)] + [f"2024-{m:02d}" for m in range(1, 13)]
              + ["2023-12"])
    kinds = [("client", "/api/v1/protection", ()),
             ("planner", "/api/v1/rates", (("compare", "last-year"),)),
             ("liaison", "/api/v1/hotspots", (("on", "grid"),)),
             ("planner", "/api/v1/aggregates/grid", ())]
    distinct = [(role, path, (("period", month), *extra))
                for i, month in enumerate(months[:25])
                for role, path, extra in [kinds[i % len(kinds)]]]
    return [r for r in distinct for _ in range(4)]


async def cold_burst(base: str, tokens: dict[str, str], backend: str) -> Result:
    """100 concurrent cold requests on one fresh worker: all answered, how fast."""
    requests = burst_requests()
    result = Result(backend, f"cold burst: {len(requests)} at once, 25 distinct")
    limits = httpx.Limits(max_connections=len(requests), max_keepalive_connections=0)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=120) as client:
        async def one(role: str, path: str, params: tuple[tuple[str, str], ...]
                      ) -> tuple[float, int]:
            t = time.perf_counter()
            r = await client.get(path, params=params,
                                 headers={"Authorization": f"Bearer {tokens[role]}"})
            return (time.perf_counter() - t) * 1000, r.status_code

        start = time.perf_counter()
        answers = await asyncio.gather(*(one(*r) for r in requests))
        result.seconds = time.perf_counter() - start
    result.latencies_ms = tuple(ms for ms, _ in answers)
    result.requests = len(answers)
    result.errors = sum(1 for _, status in answers if status != 200)
    result.cold_ms = max(result.latencies_ms)
    result.warm_ms = float("nan")
    return result


def table(results: list[Result]) -> str:
    head = ("backend", "endpoint", "cold ms", "warm ms", "requests", "req/s", "p50 ms",
            "p95 ms", "p99 ms", "errors")
    rows = []
    for r in results:
        if r.note:
            rows.append((r.backend, r.endpoint, "—" if r.cold_ms is None else f"{r.cold_ms:.0f}",
                         "", r.note, "", "", "", "", ""))
            continue
        rows.append((r.backend, r.endpoint, f"{r.cold_ms:.0f}", f"{r.warm_ms:.0f}",
                     str(r.requests),
                     f"{r.requests / r.seconds:.1f}" if r.seconds else "—",
                     f"{r.percentile(50):.1f}", f"{r.percentile(95):.1f}",
                     f"{r.percentile(99):.1f}", str(r.errors)))
    widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(head)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(head, widths, strict=True))]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in rows]
    return "\n".join(lines)


def postgis_available() -> str | None:
    try:
        eng = sa.create_engine(POSTGIS_URL)
        with eng.connect():
            pass
        eng.dispose()
        return None
    except Exception as exc:  # any failure to connect means "not here"
        return str(exc).splitlines()[0]


def city_keys(url: str) -> dict[str, str]:
    """One key per role in an already loaded database (the liaison: its first district)."""
    from api.auth import create_key
    from api.db import create_db_engine
    from api.store import read_communities

    engine = create_db_engine(url)
    with engine.connect() as conn:
        district = str(read_communities(conn)["district_code"].dropna().iloc[0])
    tokens = {role: create_key(engine, name=f"bench {role}", role=role,
                               jurisdictions=[district] if role == "liaison" else ()).token
              for role in ("admin", "liaison", "planner", "client")}
    engine.dispose()
    return tokens


def city_scale(url: str, n: int, seconds: float, concurrency: int) -> int:
    """Cold and cached answers of the endpoints whose bytes are cached, on a loaded city."""
    tokens = city_keys(url)
    endpoints = [ep for ep in ENDPOINTS if ep.path in ("/api/v1/rates", "/api/v1/trend",
                                                        "/api/v1/catalogue")]
    endpoints += [Endpoint("rates (csv)", "/api/v1/rates", "client",
                           (("period", "2025"), ("format", "csv"))),
                  Endpoint("rates (geojson)", "/api/v1/rates", "planner",
                           (("period", "2025"), ("format", "geojson"))),
                  Endpoint("rates (liaison)", "/api/v1/rates", "liaison", (("period", "2025"),)),
                  Endpoint("rates (admin)", "/api/v1/rates", "admin", (("period", "2025"),))]
    results = []
    with server(url) as base:
        for ep in endpoints:
            results.append(asyncio.run(drive(base, ep, tokens[ep.role], requests=n,
                                             seconds=seconds, concurrency=concurrency,
                                             backend=url.split(":", 1)[0])))
    print(f"\npingan API on {url}: one server process on loopback; cold = first request, warm "
          f"= median of 10 sequential cached requests; then {concurrency} concurrent clients.\n")
    print(table(results))
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer requests (a smoke run)")
    parser.add_argument("--backends", default="spatialite,postgis")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--requests", type=int, default=None, help="per endpoint")
    parser.add_argument("--seconds", type=float, default=None, help="per endpoint, at most")
    parser.add_argument("--cold-only", action="store_true",
                        help="only the cold burst of 100 concurrent requests")
    parser.add_argument("--database", default=None,
                        help="measure the rates, trend and catalogue endpoints on this already "
                             "loaded database (e.g. bench/load.py's 3,000-community city) "
                             "instead of the sample city; keys are created in it")
    args = parser.parse_args()
    n = args.requests or (40 if args.quick else 400)
    seconds = args.seconds or (5.0 if args.quick else 20.0)
    results: list[Result] = []
    if args.database:
        return city_scale(args.database, n, seconds, args.concurrency)
    with tempfile.TemporaryDirectory(prefix="pingan-bench-") as tmp:
        work = Path(tmp)
        # Write the sample files before any SpatiaLite connection exists: GDAL writing a
        # GeoPackage in a process that has loaded mod_spatialite crashes (two SQLite builds).
        from api.demo import ensure_sample

        manifest = ensure_sample(work / "sample", echo=lambda _: None)
        for backend in args.backends.split(","):
            if backend == "postgis" and (why := postgis_available()):
                print(f"skipping PostGIS: {why}", file=sys.stderr)
                continue
            print(f"[{backend}] loading the sample city…", file=sys.stderr)
            with database(backend, work) as url:
                tokens = prepare(url, manifest)
                print(f"[{backend}] serving and measuring…", file=sys.stderr)
                with server(url) as base:
                    results.append(asyncio.run(cold_burst(base, tokens, backend)))
                if args.cold_only:
                    continue
                with server(url) as base:
                    for ep in ENDPOINTS:
                        results.append(asyncio.run(drive(
                            base, ep, tokens[ep.role], requests=n, seconds=seconds,
                            concurrency=args.concurrency, backend=backend)))
    print(f"\npingan API load: sample city, one server process on loopback. cold = the first "
          f"request of an endpoint after start; warm = median of 10 sequential requests after "
          f"it (results cached where the endpoint caches); then {args.concurrency} concurrent "
          f"clients, up to {n} requests or {seconds:g} s: req/s and latency percentiles.\n")
    print(table(results))
    print("\ncold burst: 'cold ms' is the slowest answer; target: every answer within 60 s, "
          "no error")
    return 0


if __name__ == "__main__":
    sys.exit(main())
