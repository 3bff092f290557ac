"""An incident archive: raw incidents written as a partitioned GeoParquet data set.

``pingan export incidents --parquet DIR`` writes ``DIR/year=YYYY/month=MM/part-NNNNNN.parquet``
(hive partitioning by the incident's local year and month) and ``DIR/_pingan_archive.json``
(what was exported, for whom, in which time zone). Each file is GeoParquet (geopandas writes
the ``geo`` metadata with the CRS, EPSG:4326) holding :data:`geo.batch.ARCHIVE_COLUMNS` and
the point geometry (null for records without a location). It is what ``pingan batch`` reads.

The rows stream from the database in batches (:func:`api.store.iter_incidents`), so memory
holds one batch whatever the archive's size. An archive holds raw incidents: it goes through
the trust layer like every raw read (:func:`api.services.incidents.incidents_query`): admin
gets everything, a liaison their world, an aggregate-only caller nothing (403).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np

from api import store
from api.release import Visibility
from api.services import ServiceContext, generated_at
from api.services.incidents import incidents_query
from geo.batch import ARCHIVE_COLUMNS
from geo.errors import ParameterError
from geo.period import Period

__all__ = ["MANIFEST_NAME", "ArchiveReport", "export_incidents", "read_manifest"]

#: The archive's manifest, beside the partitions (files starting with ``_`` are not data).
MANIFEST_NAME = "_pingan_archive.json"


@dataclass(frozen=True)
class ArchiveReport:
    """What an export wrote.

    Attributes
    ----------
    directory
        The archive's folder.
    rows
        Incidents written.
    files
        Parquet files written.
    months
        Local ``YYYY-MM`` months holding incidents, sorted.
    """

    directory: Path
    rows: int
    files: int
    months: tuple[str, ...]


def _check_target(out_dir: Path) -> None:
    if out_dir.exists() and not out_dir.is_dir():
        raise ParameterError(f"--parquet: {out_dir} exists and is not a folder",
                             parameter="parquet")
    if out_dir.exists() and (any(out_dir.rglob("*.parquet")) or (out_dir / MANIFEST_NAME)
                             .exists()):
        raise ParameterError(f"--parquet: {out_dir} already holds an archive; give an empty or "
                             f"new folder", parameter="parquet")


def export_incidents(ctx: ServiceContext, vis: Visibility, out_dir: Path, *,
                     period: Period | None = None, categories: Sequence[str] = (),
                     batch_rows: int = 100_000,
                     progress: Callable[[int], None] | None = None) -> ArchiveReport:
    """Write the incidents a caller may read as a partitioned GeoParquet archive.

    Parameters
    ----------
    ctx
        Service context.
    vis
        The caller (admin, or a liaison: their world only).
    out_dir
        A new or empty folder.
    period
        Only this period (``None``: every incident).
    categories
        Only these categories.
    batch_rows
        Incidents read and written at a time.
    progress
        Called with the number of rows of each batch written.

    Returns
    -------
    ArchiveReport

    Raises
    ------
    api.errors.ForbiddenError
        For a caller without raw access.
    geo.errors.ParameterError
        If the folder already holds an archive, or ``batch_rows`` is not positive.
    """
    query = incidents_query(ctx, vis, period=period, categories=categories)
    _check_target(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    rows = files = 0
    months: set[str] = set()
    with ctx.engine.connect() as conn:
        for frame in store.iter_incidents(conn, query, batch_rows=batch_rows):
            local = frame["occurred_at"].dt.tz_convert(ctx.timezone)
            key = (local.dt.year.to_numpy(dtype=np.int64) * 100
                   + local.dt.month.to_numpy(dtype=np.int64))
            for ym in np.unique(key):
                part = gpd.GeoDataFrame(frame.loc[key == ym, [*ARCHIVE_COLUMNS, "geometry"]],
                                        geometry="geometry", crs="EPSG:4326")
                folder = out_dir / f"year={ym // 100:04d}" / f"month={ym % 100:02d}"
                folder.mkdir(parents=True, exist_ok=True)
                part.reset_index(drop=True).to_parquet(folder / f"part-{files:06d}.parquet",
                                                       index=False)
                files += 1
                months.add(f"{ym // 100:04d}-{ym % 100:02d}")
            rows += len(frame)
            if progress is not None:
                progress(len(frame))
        version = ctx.data_version()
    manifest = {"kind": "pingan incident archive", "rows": rows, "files": files,
                "months": sorted(months), "timezone": ctx.timezone, "crs": "EPSG:4326",
                "partitioning": "hive: year=YYYY/month=MM, local months",
                "columns": [*ARCHIVE_COLUMNS, "geometry"], "data_version": version,
                "period": period.label if period is not None else None,
                "categories": sorted(categories), "role": vis.role,
                "jurisdictions": list(vis.jurisdictions), "generated_at": generated_at()}
    (out_dir / MANIFEST_NAME).write_text(json.dumps(manifest, ensure_ascii=False, indent=1),
                                         encoding="utf-8")
    return ArchiveReport(out_dir, rows, files, tuple(sorted(months)))


def read_manifest(archive: Path) -> dict[str, object]:
    """The manifest of an archive written by :func:`export_incidents` (empty when absent).

    Raises
    ------
    geo.errors.ParameterError
        If the folder does not exist or holds no Parquet file.
    """
    if not archive.is_dir():
        raise ParameterError(f"archive: {archive} is not a folder", parameter="archive")
    if not any(archive.rglob("*.parquet")):
        raise ParameterError(f"archive: {archive} holds no .parquet file", parameter="archive")
    path = archive / MANIFEST_NAME
    if not path.exists():
        return {}
    loaded = json.loads(path.read_text(encoding="utf-8"))
    return loaded if isinstance(loaded, dict) else {}
