"""``pingan batch --to-db``: a batch run's counts and results written to the database.

A run over an archive ends with small tables (the merged counts by month, and the period's
community results): :func:`store_batch` writes them, with the run's settings, in one
transaction, to ``batch_runs``, ``batch_month_counts``, ``batch_cell_counts`` and
``batch_rates`` (:mod:`api.models`); :func:`read_batch` reads a run back. The month and cell
counts keep every record class (category, status, location class), so any period of whole
months and any case definition can be derived from them later without the archive.

These tables are the batch's own: loads, re-assignment and the single-machine metrics never
read or change them.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from api import models
from geo.batch import BatchCounts

__all__ = ["StoredBatch", "read_batch", "store_batch"]

#: Rows per executemany call (bounds the Python lists built at a time).
_CHUNK_ROWS = 50_000
_RATE_COLUMNS = ["cases", "population", "case_rate_per_10k", "case_rate_per_10k_annual",
                 "case_rate_eb_per_10k_annual"]


@dataclass(frozen=True, eq=False)
class StoredBatch:
    """A stored batch run.

    Attributes
    ----------
    run
        The ``batch_runs`` row as a dict.
    counts
        The merged counts (:class:`geo.batch.BatchCounts`), as the run computed them.
    rates
        The period's community results indexed by ``code``: cases, population, the three
        rates and ``hotspot_class``.
    """

    run: dict[str, Any]
    counts: BatchCounts
    rates: pd.DataFrame


def _records(frame: pd.DataFrame, run_id: int) -> Iterator[list[dict[str, Any]]]:
    """Rows as dicts with ``run_id``, missing values as ``None``, in chunks."""
    for lo in range(0, len(frame), _CHUNK_ROWS):
        part = frame.iloc[lo:lo + _CHUNK_ROWS].astype(object)
        part = part.where(part.notna(), None)
        rows = [{str(k): v for k, v in r.items()} for r in part.to_dict("records")]
        for r in rows:
            r["run_id"] = run_id
            for k, v in r.items():
                if isinstance(v, np.integer):
                    r[k] = int(v)
                elif isinstance(v, np.floating):
                    r[k] = float(v)
        yield rows


def _insert(conn: Connection, table: sa.Table, frame: pd.DataFrame, run_id: int) -> None:
    for rows in _records(frame, run_id):
        conn.execute(table.insert(), rows)


def store_batch(engine: Engine, res: Any, *, archive: str, categories: Sequence[str],
                assigned: bool, timezone: str, data_version: int,
                run_by: str | None = None) -> int:
    """Write a batch run's counts and the period's community results; return the run's id.

    Parameters
    ----------
    engine
        The database.
    res
        The run (:class:`api.batch.BatchResult`).
    archive
        The archive's folder, as given.
    categories
        The categories the period's results were restricted to (empty: every one).
    assigned
        Whether the points were assigned to the current communities (else the archive's
        assignment was kept).
    timezone
        Time zone of the local months.
    data_version
        The database's data version the communities and populations came from.
    run_by
        Who ran it.

    Returns
    -------
    int
        ``batch_runs.id`` of the new run. Everything is written in one transaction.
    """
    rates = res.rates.frame[_RATE_COLUMNS].copy()
    rates["hotspot_class"] = res.hotspots.frame["hotspot_class"].reindex(rates.index)
    rates = rates.rename_axis("community_code").reset_index()
    with engine.begin() as conn:
        inserted = conn.execute(models.batch_runs.insert().values(
            archive=archive, period=res.case_counts.period.label,
            categories=json.dumps(sorted(set(categories)), ensure_ascii=False),
            assigned=assigned, cell_m=float(res.counts.cell_m), seed=int(res.hotspots.seed),
            permutations=int(res.hotspots.permutations), timezone=timezone,
            data_version=int(data_version), partitions=int(res.partitions),
            workers=int(res.workers), records=int(res.counts.records),
            seconds=float(res.seconds),
            finished_at=dt.datetime.now(dt.UTC).replace(tzinfo=None), run_by=run_by,
        )).inserted_primary_key
        if inserted is None:  # pragma: no cover - every backend returns the new key
            raise RuntimeError("batch_runs: the database returned no id for the new run")
        run_id = int(inserted[0])
        _insert(conn, models.batch_month_counts, res.counts.months, run_id)
        _insert(conn, models.batch_cell_counts, res.counts.cells, run_id)
        _insert(conn, models.batch_rates, rates, run_id)
    return run_id


def read_batch(engine: Engine, run_id: int) -> StoredBatch:
    """Read a stored run back.

    Raises
    ------
    KeyError
        If no run has the id ``run_id``.
    """
    with engine.connect() as conn:
        row = conn.execute(sa.select(models.batch_runs).where(
            models.batch_runs.c.id == run_id)).mappings().first()
        if row is None:
            raise KeyError(f"run_id: no batch run {run_id}")
        frames = {}
        for name, table in (("months", models.batch_month_counts),
                            ("cells", models.batch_cell_counts),
                            ("rates", models.batch_rates)):
            cols = [c for c in table.c if c.name != "run_id"]
            frames[name] = pd.DataFrame(
                conn.execute(sa.select(*cols).where(table.c.run_id == run_id)).all(),
                columns=[c.name for c in cols])
    counts = BatchCounts(_normalised(frames["months"], ["year", "month", "community_code",
                                                        "category", "status", "location"]),
                         _normalised(frames["cells"], ["year", "month", "category", "status",
                                                       "ix", "iy"]),
                         float(row["cell_m"]))
    rates = frames["rates"].rename(columns={"community_code": "code"}).set_index("code")
    rates = rates.astype({"cases": np.int64, "hotspot_class": "string"})
    for c in _RATE_COLUMNS[1:]:
        rates[c] = rates[c].astype(np.float64)
    return StoredBatch(dict(row), counts, rates)


def _normalised(frame: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """The dtypes and order of :class:`geo.batch.BatchCounts`' tables."""
    out = frame.sort_values(keys, na_position="last", kind="stable").reset_index(drop=True)
    for c in out.columns:
        if c in ("year", "month", "ix", "iy", "count"):
            out[c] = out[c].astype(np.int64)
        else:
            out[c] = out[c].astype("string")
    return out[[*keys, "count"]]
