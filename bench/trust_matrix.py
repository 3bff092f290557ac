"""The full adversarial trust matrix: every route × every parameter variant × every credential.

CI runs a pairwise subset (``tests/api/test_trust_matrix.py``); this runs the whole product of
the variants of ``tests/api/trust_matrix.py`` on the hand-made test city, on SpatiaLite and on
PostGIS, and prints one table: per route, the requests sent, the answers by status class and
the problems found (a 5xx, a leak of an incident id, address or position, a released Gi*
statistic or small count, a row outside a liaison's jurisdiction, a place outside it answered
with anything but 403). It exits non-zero when any problem is found.

Usage::

    python bench/trust_matrix.py [--backends spatialite,postgis] [--limit N]
"""

from __future__ import annotations

import argparse
import collections
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path
from urllib.parse import quote

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[1]
# This folder's scripts must not shadow packages (a bench/coverage.py once hid coverage.py).
sys.path[:] = [str(ROOT)] + [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]
os.environ.setdefault("SPATIALITE_LIBRARY_PATH", "mod_spatialite")

from fastapi.testclient import TestClient  # noqa: E402

from api.app import create_app  # noqa: E402
from api.db import create_db_engine, migrate  # noqa: E402
from tests.api.appcity import app_settings, load_city, make_keys  # noqa: E402
from tests.api.trust_matrix import CREDENTIALS, cases, check, send  # noqa: E402

POSTGIS_URL = os.environ.get(
    "PINGAN_TEST_POSTGIS_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/pingan_test")


def _database(backend: str, tmp: Path) -> tuple[str, object]:
    if backend == "spatialite":
        return f"sqlite:///{tmp / 'city.db'}", None
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(POSTGIS_URL)
    with admin.begin() as conn:
        conn.execute(sa.text(f"CREATE SCHEMA {schema}"))
    sep = "&" if "?" in POSTGIS_URL else "?"
    return f"{POSTGIS_URL}{sep}options={quote(f'-csearch_path={schema},public')}", (admin,
                                                                                     schema)


def run(backend: str, limit: int | None) -> tuple[dict[str, collections.Counter], list[str],
                                                   float]:
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        url, cleanup = _database(backend, tmp)
        engine = create_db_engine(url)
        try:
            migrate(engine)
            load_city(engine, tmp)
            tokens = make_keys(engine)
            app = create_app(app_settings(url), engine=engine)
            headers = {c: ({"Authorization": f"Bearer {tokens[c]}"} if c in tokens else {})
                       for c in CREDENTIALS}
            table: dict[str, collections.Counter] = collections.defaultdict(
                collections.Counter)
            problems: list[str] = []
            start = time.perf_counter()
            with TestClient(app) as client:
                todo = cases(app.openapi(), full=True)
                for case in todo[:limit]:
                    row = table[f"{case.method} {case.route}"]
                    row["cases"] += 1
                    for credential in CREDENTIALS:
                        response = send(client, case, headers[credential])
                        row["requests"] += 1
                        row[f"{response.status_code // 100}xx"] += 1
                        found = check(case, credential, response)
                        row["problems"] += len(found)
                        problems += [f"{backend} {credential} {case.id}: {p}" for p in found]
            return table, problems, time.perf_counter() - start
        finally:
            engine.dispose()
            if cleanup is not None:
                admin, schema = cleanup  # type: ignore[misc]
                with admin.begin() as conn:
                    conn.execute(sa.text(f"DROP SCHEMA {schema} CASCADE"))
                admin.dispose()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--backends", default="spatialite,postgis")
    ap.add_argument("--limit", type=int, default=None, help="only the first N cases (a trial)")
    args = ap.parse_args()
    all_problems: list[str] = []
    print(f"{'backend':<11} {'route':<38} {'cases':>6} {'requests':>9} {'2xx':>7} {'4xx':>7} "
          f"{'5xx':>5} {'problems':>9}")
    for backend in args.backends.split(","):
        table, problems, seconds = run(backend, args.limit)
        all_problems += problems
        totals: collections.Counter = collections.Counter()
        for route, row in sorted(table.items()):
            totals.update(row)
            print(f"{backend:<11} {route:<38} {row['cases']:>6,} {row['requests']:>9,} "
                  f"{row['2xx']:>7,} {row['4xx']:>7,} {row['5xx']:>5,} {row['problems']:>9,}")
        print(f"{backend:<11} {'all routes':<38} {totals['cases']:>6,} {totals['requests']:>9,} "
              f"{totals['2xx']:>7,} {totals['4xx']:>7,} {totals['5xx']:>5,} "
              f"{totals['problems']:>9,}   ({seconds:,.0f} s)")
    for p in all_problems[:50]:
        print("PROBLEM", p)
    print(f"{len(all_problems)} problems")
    return 1 if all_problems else 0


if __name__ == "__main__":
    sys.exit(main())
