"""Data writes are serialised on PostgreSQL (an advisory lock), so concurrent loads stay exact."""

from __future__ import annotations

import threading
import time

import pytest
import sqlalchemy as sa

from api.db import DATA_WRITE_LOCK, lock_data_writes
from api.loading import load_file
from api.models import incidents
from tests.api.test_loading import write_communities, write_incidents

pytestmark = pytest.mark.postgis

_WAITING = sa.text(
    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted "
    "AND classid = :high AND objid = :low")


def test_a_load_waits_for_another_writer_and_then_lands(db_url, engine, tmp_path):
    if not db_url.startswith("postgresql"):
        pytest.skip("SQLite serialises writers with its own database lock")
    load_file(engine, write_communities(tmp_path / "c.geojson"), "communities")
    path = write_incidents(tmp_path / "i.csv", 30)
    outcome: dict[str, object] = {}

    def load() -> None:
        try:
            outcome["report"] = load_file(engine, path, "incidents")
        except Exception as exc:  # reported by the assertion below
            outcome["error"] = exc

    params = {"high": DATA_WRITE_LOCK >> 32, "low": DATA_WRITE_LOCK & 0xFFFFFFFF}
    with engine.connect() as holder, engine.connect() as watcher:
        with holder.begin():
            lock_data_writes(holder)
            worker = threading.Thread(target=load)
            worker.start()
            deadline = time.monotonic() + 60
            while not watcher.execute(_WAITING, params).scalar_one():
                assert time.monotonic() < deadline, "the load never waited for the lock"
                assert worker.is_alive(), f"the load finished under another writer: {outcome}"
                watcher.commit()  # a new snapshot of pg_locks
            # The load is queued behind the held lock: it cannot have written anything.
            assert worker.is_alive()
            assert holder.execute(sa.select(sa.func.count()).select_from(incidents)
                                  ).scalar_one() == 0
        worker.join(timeout=120)
    assert "error" not in outcome, outcome
    assert outcome["report"].rows_loaded == 30  # type: ignore[attr-defined]
