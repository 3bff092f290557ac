"""A request never holds one pooled connection while waiting for another.

With a pool of one connection and no overflow, any nested checkout (a route holding a
connection while a service it calls opens a second one) waits for itself until the pool
times out. Concurrent cold requests of every kind must all be answered.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.db import create_db_engine

URLS = [
    ("admin", "/api/v1/rates", {"period": "2025", "compare": "last-year"}),
    ("planner", "/api/v1/rates", {"period": "2025-Q1", "level": "district"}),
    ("liaison", "/api/v1/trend", {"period": "2025"}),
    ("client", "/api/v1/trend", {"period": "2025", "district": "D2"}),
    ("planner", "/api/v1/hotspots", {"period": "2025", "on": "grid"}),
    ("liaison", "/api/v1/hotspots", {"period": "2025"}),
    ("client", "/api/v1/aggregates/grid", {"period": "2025-02"}),
    ("liaison", "/api/v1/aggregates/communities", {"period": "2025-03"}),
    ("admin", "/api/v1/incidents", {"period": "2025"}),
    ("liaison", "/api/v1/incidents", {"period": "2025-01"}),
    ("client", "/api/v1/protection", {"period": "2025"}),
    ("planner", "/api/v1/coverage", {"type": "police_office", "period": "2025"}),
    ("planner", "/api/v1/gaps", {"type": "police_office", "period": "2024"}),
    ("client", "/api/v1/workload", {"type": "police_station", "period": "2025"}),
    ("planner", "/api/v1/standard", {"period": "2025"}),
    ("liaison", "/api/v1/standard/todo/C1", {"period": "2025"}),
    ("admin", "/maps/incidents", {"period": "2025"}),
    ("planner", "/maps/rates", {"period": "2025-03"}),
    ("client", "/maps/hotspots", {"period": "2025", "on": "grid"}),
    ("liaison", "/maps/standard", {"period": "2025"}),
]


@pytest.mark.slow
def test_concurrent_cold_requests_on_a_pool_of_one(city):
    engine = create_db_engine(city.settings.database_url, pool_size=1, max_overflow=0,
                              pool_timeout_s=20)
    try:
        app = create_app(city.settings, engine=engine)
        with TestClient(app) as client, ThreadPoolExecutor(max_workers=10) as pool:
            futures = [pool.submit(client.get, url, params=params,
                                   headers=city.headers(role))
                       for role, url, params in URLS]
            statuses = [(url, f.result().status_code) for (_, url, _), f in
                        zip(URLS, futures, strict=True)]
        assert all(s == 200 for _, s in statuses), statuses
        assert engine.pool.checkedout() == 0
    finally:
        engine.dispose()
