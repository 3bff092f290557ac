"""Batch metrics over an incident archive on a ``dask.distributed`` cluster.

``pingan batch`` hands the heavy part of the metrics to an existing distributed engine:

1. the archive (:mod:`api.archive`) is read as dask-geopandas partitions (one per file);
2. the communities are indexed once on the client (:class:`geo.batch.CommunityIndex`) and
   broadcast to every worker (``client.scatter(..., broadcast=True)``);
3. each partition is assigned and counted on a worker (:func:`geo.batch.partition_counts`) and
   the partial counts are added in a tree of merges (:func:`geo.batch.merge_counts`), so no
   worker ever holds more than one partition and a few small tables;
4. on the client, the merged counts become the period's case counts and cell counts, and the
   rates (:func:`api.services.rates.rates_of_counts`) and Gi* (:mod:`geo.hotspots`) run on them
   with the same settings, seed and functions as the single-machine path, so the results are
   the same numbers.

A batch reads a whole archive and assigns every point itself: it runs for a caller who sees
everything (the command line, an admin).
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd

from api.errors import ForbiddenError
from api.release import Visibility
from api.services import ServiceContext
from api.services.rates import rates_of_counts
from api.services.units import world_communities
from geo.batch import (
    BatchCounts,
    CommunityIndex,
    merge_counts,
    partition_counts,
    period_case_counts,
    period_cell_counts,
)
from geo.cases import CaseCounts
from geo.errors import ParameterError
from geo.grid import Grid
from geo.hotspots import HotspotResult, community_hotspots, grid_count_hotspots
from geo.period import Period
from geo.rates import RatesResult

__all__ = ["BatchResult", "batch_metrics", "count_archive", "open_client"]

#: Archive columns a batch reads.
_READ_COLUMNS = ["occurred_at", "category", "status", "location_precision", "community_code",
                 "reported_community", "geometry"]
#: Partial counts merged per task in the reduction tree.
_FAN_IN = 8


@contextmanager
def open_client(scheduler: str | None = None, *, workers: int = 2, nthreads: int = 1,
                memory_limit: str | None = "4GiB", timeout_s: float = 180.0
                ) -> Iterator[Any]:
    """A ``dask.distributed`` client: to a running scheduler, or to a local cluster.

    Parameters
    ----------
    scheduler
        ``tcp://HOST:8786`` of a running cluster; ``None`` starts a local cluster of
        ``workers`` processes with ``nthreads`` threads each, closed on exit.
    workers, nthreads, memory_limit
        The local cluster's size (``memory_limit`` per worker; ``None``: no limit).
    timeout_s
        How long to wait for the workers to arrive.

    Yields
    ------
    distributed.Client

    Raises
    ------
    geo.errors.ParameterError
        If ``workers`` or ``nthreads`` is not positive.
    """
    from dask.distributed import Client, LocalCluster

    if scheduler is not None:
        with Client(scheduler, timeout=timeout_s) as client:
            yield client
        return
    for name, value in (("workers", workers), ("nthreads", nthreads)):
        if value < 1:
            raise ParameterError(f"--{name} must be at least 1; got {value}", parameter=name)
    with LocalCluster(n_workers=workers, threads_per_worker=nthreads, processes=True,
                      memory_limit=memory_limit, dashboard_address=None,
                      silence_logs=40) as cluster, Client(cluster) as client:
        # Workers are processes: on a busy machine they come up slowly, so wait for them
        # rather than for a fixed time.
        client.wait_for_workers(workers, timeout=timeout_s)
        yield client


def count_archive(client: Any, archive: Path, communities: gpd.GeoDataFrame | None, *,
                  grid: Grid, timezone: str, progress: bool = False
                  ) -> tuple[BatchCounts, int]:
    """Count an archive on the cluster: assign, count per partition, merge in a tree.

    Parameters
    ----------
    client
        A ``distributed.Client``.
    archive
        The archive's folder.
    communities
        Communities to assign points to (EPSG:4326, ``code``); ``None`` keeps the archive's
        ``community_code``.
    grid
        The grid of the cell counts.
    timezone
        Time zone of the local months.
    progress
        Show dask's progress bar.

    Returns
    -------
    tuple of (geo.batch.BatchCounts, int)
        The merged counts and the number of partitions read.
    """
    import dask_geopandas
    from dask import delayed
    from dask.distributed import progress as show_progress

    frame = dask_geopandas.read_parquet(str(archive), columns=_READ_COLUMNS)
    index = None if communities is None else client.scatter(
        CommunityIndex.build(communities), broadcast=True)
    count = delayed(partition_counts, pure=True)
    merge = delayed(merge_counts, pure=True)
    level = [count(part, index, grid=grid, timezone=timezone) for part in frame.to_delayed()]
    while len(level) > 1:
        level = [merge(*level[i:i + _FAN_IN]) for i in range(0, len(level), _FAN_IN)]
    future = client.compute(level[0])
    if progress:
        show_progress(future)
    return future.result(), frame.npartitions


@dataclass(frozen=True, eq=False)
class BatchResult:
    """A batch run's counts and the period's metrics.

    Attributes
    ----------
    counts
        Counts of the whole archive by month (:class:`geo.batch.BatchCounts`).
    case_counts
        The period's cases per community (as the database path counts them).
    cells
        The period's cases per grid cell (``ix``, ``iy``, ``count``).
    rates
        Community rates of the period.
    hotspots
        Gi* of the smoothed community rates.
    grid_hotspots
        Gi* of the cell counts.
    partitions, workers, seconds
        Partitions read, workers used, wall time of the count.
    """

    counts: BatchCounts
    case_counts: CaseCounts
    cells: pd.DataFrame
    rates: RatesResult
    hotspots: HotspotResult
    grid_hotspots: HotspotResult
    partitions: int
    workers: int
    seconds: float


def batch_metrics(ctx: ServiceContext, vis: Visibility, client: Any, archive: Path, *,
                  period: Period | str, cell_m: float | None = None,
                  categories: Sequence[str] = (), assign: bool = True,
                  progress: bool = False) -> BatchResult:
    """Count an archive on a cluster and compute the period's rates and hot spots.

    Parameters
    ----------
    ctx
        Service context (communities, populations and settings come from its database).
    vis
        The caller: it must see everything (admin).
    client
        A ``distributed.Client`` (:func:`open_client`).
    archive
        The archive's folder.
    period
        A period of whole months.
    cell_m
        Grid cell size (default ``geo.grid_cell_m``).
    categories
        Only these categories (as stored).
    assign
        Assign points to the current communities (else keep the archive's assignment).
    progress
        Show dask's progress bar.

    Returns
    -------
    BatchResult

    Raises
    ------
    api.errors.ForbiddenError
        For a caller who does not see everything.
    geo.errors.PeriodError
        For a period that is not whole months.
    """
    if vis.protected or vis.communities is not None or not vis.unassigned:
        raise ForbiddenError(f"a batch reads a whole archive; a {vis.role} key may not run "
                             f"one (admin only)")
    p = ctx.period(period)
    cell = vis.check_cell(float(cell_m or ctx.settings.geo.grid_cell_m))
    grid = Grid(cell, ctx.metric_crs())
    comms = world_communities(ctx, vis)
    started = time.perf_counter()
    counts, partitions = count_archive(client, archive, comms if assign else None, grid=grid,
                                       timezone=ctx.timezone, progress=progress)
    seconds = time.perf_counter() - started
    definition = ctx.case_definition
    cats = tuple(sorted(set(categories)))
    case_counts = period_case_counts(counts, p, definition, timezone=ctx.timezone,
                                     categories=cats)
    rates = rates_of_counts(ctx, vis, case_counts)
    g = ctx.settings.geo
    values = rates.frame["case_rate_eb_per_10k_annual"].dropna()
    hot = community_hotspots(comms, values[values.index.isin(comms["code"])],
                             permutations=g.permutations, seed=g.seed)
    cells, coarse = period_cell_counts(counts, p, definition, categories=cats)
    grid_hot = grid_count_hotspots(cells, comms, grid=grid, coarse_location=coarse,
                                   permutations=g.permutations, seed=g.seed)
    workers = len(client.scheduler_info().get("workers", {}))
    return BatchResult(counts, case_counts, cells, rates, hot, grid_hot, partitions, workers,
                       seconds)
