"""The one square grid: cell ids, binning, cell polygons and its CRS.

Every path that counts incidents on a grid (hot spots, aggregates, maps, emerging hot spots,
density surfaces, drawn areas) uses this grid, so a cell means the same square everywhere and
two answers can never be overlaid to cut a cell into smaller pieces:

- cells are squares of ``cell_m`` metres in the data set's metric CRS
  (:func:`geo.projection.metric_crs_of`), with edges at whole multiples of ``cell_m`` from the
  CRS's origin (a fixed origin: the same cell has the same id in every run and request);
- cell ``(ix, iy)`` covers ``[ix·cell_m, (ix+1)·cell_m) × [iy·cell_m, (iy+1)·cell_m)``: a point
  on a west or south edge belongs to the cell east or north of it;
- a cell's id is ``"<cell_m>m:<ix>:<iy>"`` (``"250m:1859:17312"``);
- the published sizes (:data:`PUBLISHED_CELL_M`) nest: every 500 m cell is exactly four 250 m
  cells, and so on (:meth:`Grid.parent`).

Written here rather than taken from a library: libraries build fishnets anchored at the data's
corner, which move with every request's extent.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pyproj
import shapely
from numpy.typing import ArrayLike, NDArray

from geo.errors import ParameterError

__all__ = ["PUBLISHED_CELL_M", "Grid", "cell_ids", "parse_cell_id"]

#: Cell sizes released to roles without raw access (metres); each is a multiple of the last.
PUBLISHED_CELL_M: tuple[float, ...] = (250.0, 500.0, 1000.0, 2000.0)

_CELL_ID = re.compile(r"^(\d+(?:\.\d+)?)m:(-?\d+):(-?\d+)$")


@lru_cache(maxsize=64)
def _transformer(source: str, target: str) -> pyproj.Transformer:
    """A cached transformer: building one costs more than transforming thousands of points."""
    return pyproj.Transformer.from_crs(source, target, always_xy=True)


def cell_ids(cell_m: float, ix: ArrayLike, iy: ArrayLike) -> NDArray[np.object_]:
    """Return the ids ``"<cell_m>m:<ix>:<iy>"`` of cells.

    Parameters
    ----------
    cell_m
        Cell size in metres.
    ix, iy
        Integer cell columns and rows.

    Returns
    -------
    numpy.ndarray
        Object array of strings.
    """
    size = f"{cell_m:g}"
    a = np.asarray(ix, dtype=np.int64).ravel()
    b = np.asarray(iy, dtype=np.int64).ravel()
    return np.array([f"{size}m:{x}:{y}" for x, y in zip(a.tolist(), b.tolist(), strict=True)],
                    dtype=object)


def parse_cell_id(text: str) -> tuple[float, int, int]:
    """Return ``(cell_m, ix, iy)`` of a cell id.

    Raises
    ------
    geo.errors.ParameterError
        If the text is not a cell id.
    """
    m = _CELL_ID.match(text.strip()) if isinstance(text, str) else None
    if m is None:
        raise ParameterError(f"a cell id looks like '250m:1859:17312'; got {text!r}",
                             parameter="cell")
    return float(m[1]), int(m[2]), int(m[3])


@dataclass(frozen=True)
class Grid:
    """Square cells of ``cell_m`` metres on the fixed origin of a metric CRS.

    Attributes
    ----------
    cell_m
        Cell size in metres (> 0).
    crs
        The projected CRS in metres the cells are squares in.
    """

    cell_m: float
    crs: pyproj.CRS

    def __post_init__(self) -> None:
        cell = self.cell_m
        if isinstance(cell, bool) or not isinstance(cell, int | float) or not (
                math.isfinite(cell) and cell > 0):
            raise ParameterError(f"cell_m must be a positive number of metres; got {cell!r}",
                                 parameter="cell_m")
        object.__setattr__(self, "cell_m", float(cell))
        crs = pyproj.CRS.from_user_input(self.crs)
        units = {a.unit_name for a in crs.axis_info}
        if not crs.is_projected or not units <= {"metre", "meter"}:
            raise ParameterError(f"a grid needs a projected CRS in metres; got "
                                 f"{crs.to_string()} (units: {', '.join(sorted(units))})",
                                 parameter="metric_crs")
        object.__setattr__(self, "crs", crs)

    @property
    def crs_text(self) -> str:
        """The CRS as ``EPSG:xxxx`` where it has a code, else WKT."""
        code = self.crs.to_epsg()
        return f"EPSG:{code}" if code else self.crs.to_wkt()

    def bin_xy(self, x: ArrayLike, y: ArrayLike) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
        """Cell columns and rows of points given in the grid's CRS (metres)."""
        ix = np.floor(np.asarray(x, dtype=np.float64) / self.cell_m).astype(np.int64)
        iy = np.floor(np.asarray(y, dtype=np.float64) / self.cell_m).astype(np.int64)
        return ix, iy

    def to_metric(self, lon: ArrayLike, lat: ArrayLike
                  ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Project WGS84 longitudes and latitudes into the grid's CRS."""
        t = _transformer("EPSG:4326", self.crs.to_wkt())
        x, y = t.transform(np.asarray(lon, dtype=np.float64), np.asarray(lat, dtype=np.float64))
        return np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)

    def bin_lonlat(self, lon: ArrayLike, lat: ArrayLike
                   ) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
        """Cell columns and rows of WGS84 points."""
        return self.bin_xy(*self.to_metric(lon, lat))

    def ids(self, ix: ArrayLike, iy: ArrayLike) -> NDArray[np.object_]:
        """Cell ids (:func:`cell_ids`) of cells of this grid."""
        return cell_ids(self.cell_m, ix, iy)

    def boxes(self, ix: ArrayLike, iy: ArrayLike) -> NDArray[np.object_]:
        """Cell squares in the grid's CRS (exact: corners are multiples of ``cell_m``)."""
        a = np.asarray(ix, dtype=np.int64)
        b = np.asarray(iy, dtype=np.int64)
        c = self.cell_m
        return np.asarray(shapely.box(a * c, b * c, (a + 1) * c, (b + 1) * c), dtype=object)

    def polygons_wgs84(self, ix: ArrayLike, iy: ArrayLike) -> NDArray[np.object_]:
        """Cell squares in EPSG:4326 from their four projected corners.

        A straight cell edge of a conformal projection bends by millimetres over a few
        kilometres in longitude/latitude, so the four corners draw the cell.
        """
        a = np.asarray(ix, dtype=np.int64).ravel()
        b = np.asarray(iy, dtype=np.int64).ravel()
        if not len(a):
            return np.empty(0, dtype=object)
        ux = np.array([0.0, 1.0, 1.0, 0.0])  # counter-clockwise from the south-west corner
        uy = np.array([0.0, 0.0, 1.0, 1.0])
        x = (a[:, None] + ux[None, :]) * self.cell_m
        y = (b[:, None] + uy[None, :]) * self.cell_m
        lon, lat = _transformer(self.crs.to_wkt(), "EPSG:4326").transform(x, y)
        coords = np.stack([lon, lat], axis=-1)
        coords = np.concatenate([coords, coords[:, :1, :]], axis=1)
        return np.asarray(shapely.polygons(coords), dtype=object)

    def parent(self, ix: ArrayLike, iy: ArrayLike, coarser_m: float
               ) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
        """The cells of a coarser grid on the same origin that hold these cells.

        Raises
        ------
        geo.errors.ParameterError
            If ``coarser_m`` is not a whole multiple of ``cell_m``.
        """
        ratio = coarser_m / self.cell_m
        if not (ratio >= 1 and abs(ratio - round(ratio)) < 1e-9):
            raise ParameterError(f"a coarser grid's cell must be a whole multiple of "
                                 f"{self.cell_m:g} m; got {coarser_m:g} m", parameter="cell_m")
        k = round(ratio)
        return (np.floor_divide(np.asarray(ix, dtype=np.int64), k),
                np.floor_divide(np.asarray(iy, dtype=np.int64), k))

    def cells_meeting(self, area: shapely.Geometry
                      ) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
        """The cells whose interior meets an area given in the grid's CRS (row-major order).

        Cells that only touch the area's boundary are left out.
        """
        if area is None or bool(shapely.is_empty(area)):
            return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64)
        c = self.cell_m
        minx, miny, maxx, maxy = (float(v) for v in shapely.bounds(area))
        xr = np.arange(math.floor(minx / c), math.ceil(maxx / c))
        yr = np.arange(math.floor(miny / c), math.ceil(maxy / c))
        ix, iy = (v.ravel() for v in np.meshgrid(xr, yr))
        boxes = self.boxes(ix, iy)
        shapely.prepare(area)
        keep = shapely.intersects(area, boxes) & ~shapely.touches(area, boxes)
        return ix[keep].astype(np.int64), iy[keep].astype(np.int64)
