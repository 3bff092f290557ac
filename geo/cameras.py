"""Technical protection (技防): camera view sectors and the camera metrics of communities.

:func:`view_sectors` draws what each camera sees; :func:`camera_metrics` turns devices into the
per-community technical-protection metrics of the catalogue (counts, working ratio, densities,
the share of the area in working view, the share of incidents in view) and the blind spots.
Compounds' physical and technical measures are :mod:`geo.compounds`.

View sectors
------------
A camera sees a circular sector: apex at the device, centred on its azimuth, ``fov_deg`` wide,
``range_m`` deep. Azimuths are from true north; on a projected grid, north differs from true
north by the grid convergence γ (about Δλ·sin φ for Gauss-Kruger/UTM: 0.9° at 1.4° of longitude
from the central meridian at Beijing's latitude), so a sector is drawn on the grid at the
bearing ``azimuth − γ`` (:func:`geo.crs.grid_bearing_deg`). A device without azimuth or field of
view, or with ``fov_deg >= 360``, sees a full circle. Without ``range_m`` the kind's default in
:data:`DEFAULT_RANGE_M` applies.

Arcs are polygons: a full circle has ``arc_segments`` segments (default 32) and a sector
``ceil(arc_segments · fov / 360)`` equal segments, so no segment spans more than 360 /
``arc_segments`` degrees. A polygon inscribed in a circle with ``n`` segments has
``(n / 2π)·sin(2π / n)`` of the circle's area, and a sector whose segments span at most
``2π / n`` keeps at least that share of the true sector: for ``n = 32`` the polygons cover
between 99.36 % and 100 % of the true view (the arc's chords lie at most ``r·(1 − cos(π/n))``,
0.5 % of the range, inside the arc).

Default view ranges
-------------------
The values of :data:`DEFAULT_RANGE_M` have no published basis: no standard gives a view range
per camera class, and the useful range depends on lens, resolution and lighting. They are
pingan's placeholders, ordered by how the classes are used: ``face`` capture needs a close
subject (15 m), ``dome`` and ``plate`` cameras watch an entrance or a lane (20 m), a fixed
``camera`` a street section (30 m) and a ``ptz`` camera is zoomed over a square (100 m). Give
``range_m`` per device, or a ``default_range_m`` mapping from a site survey.

Camera coverage
---------------
``camera_area_share`` is exact polygon arithmetic: each community minus the union of the working
sectors that touch it (the subtraction behind :func:`geo.uncovered.uncovered_parts`: Clipper2
when pyclipr is installed, else GEOS); overlapping sectors count once, faulty cameras cover
nothing, and a camera in one community (or in none) can cover a neighbour. The remainder is
the blind-spot polygon, and its area gives the share. For a city's worth of cameras the
sectors go to the subtraction as coordinate arrays (no shapely polygon per sector), and the
communities a sector may touch are found from a grid of community boxes around its apex and
its range, then by comparing extents (see :mod:`geo.uncovered`). Device counts use the
devices that existed during the period (:func:`geo.inventory.existing_during`), assigned to
the community containing them.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely
from numpy.typing import NDArray

from geo import arrays
from geo.checks import check_communities, check_frame, check_same_crs, check_workers
from geo.crs import grid_bearing_deg
from geo.errors import ParameterError
from geo.inventory import existing_during
from geo.layers import DEVICE_KINDS
from geo.period import Period, parse_period
from geo.projection import choose_metric_crs
from geo.uncovered import Rings, dop_pairs, polygon_dops, polygon_rings, ranges, subtract_covers

__all__ = [
    "CAMERA_KINDS",
    "DEFAULT_RANGE_M",
    "CameraMetrics",
    "camera_metrics",
    "sector_polygons",
    "view_sectors",
]

#: Device kinds that are video cameras (the others, ``alarm`` and ``access``, see nothing).
CAMERA_KINDS: tuple[str, ...] = ("camera", "dome", "ptz", "face", "plate")
#: View range in metres of a device without ``range_m``, by kind. No published basis: see the
#: module docstring ("Default view ranges").
DEFAULT_RANGE_M: Mapping[str, float] = MappingProxyType(
    {"camera": 30.0, "dome": 20.0, "ptz": 100.0, "face": 15.0, "plate": 20.0}
)
_STATUSES = ("working", "faulty")


def view_sectors(
    devices: gpd.GeoDataFrame,
    *,
    metric_crs: Any = None,
    arc_segments: int = 32,
    default_range_m: Mapping[str, float] = DEFAULT_RANGE_M,
) -> gpd.GeoSeries:
    """Draw the view sector of every device, in a metric CRS.

    Parameters
    ----------
    devices
        Device points with ``kind``, and optionally ``azimuth_deg`` (clockwise from true
        north), ``fov_deg`` and ``range_m``. Every row gets a sector; filter by kind, status
        and period first.
    metric_crs
        Projected CRS in metres; default :func:`geo.projection.choose_metric_crs` of the
        devices.
    arc_segments
        Segments per full circle (at least 4); see the module docstring for the area bound.
    default_range_m
        View range of a device without ``range_m``, by kind.

    Returns
    -------
    geopandas.GeoSeries
        Polygons in ``metric_crs``, indexed like ``devices``; azimuths are corrected for the
        grid convergence of ``metric_crs``.

    Raises
    ------
    TypeError
        When ``devices`` is not a GeoDataFrame.
    ValueError
        When columns are missing, a device has no point, ``fov_deg`` or ``range_m`` is not
        positive, a kind without ``range_m`` has no default, or ``arc_segments`` < 4.
    """
    check_frame(devices, "devices", ("Point",), ("kind",))
    _check_arc_segments(arc_segments)
    geoms = arrays.geoms(devices)
    _check_points_present(geoms)
    crs = choose_metric_crs(devices, metric_crs=metric_crs)
    polygons = _sectors(devices, geoms, crs, arc_segments, default_range_m)
    return gpd.GeoSeries(polygons, index=devices.index, crs=crs)


def _sectors(
    devices: gpd.GeoDataFrame,
    geoms: NDArray[np.object_],
    crs: pyproj.CRS,
    arc_segments: int,
    default_range_m: Mapping[str, float],
) -> NDArray[np.object_]:
    x, y, bearing, fov, range_m = _sector_params(devices, geoms, crs, default_range_m)
    return sector_polygons(x, y, bearing, fov, range_m, arc_segments)


def _sector_params(
    devices: gpd.GeoDataFrame,
    geoms: NDArray[np.object_],
    crs: pyproj.CRS,
    default_range_m: Mapping[str, float],
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64], NDArray[np.float64],
           NDArray[np.float64]]:
    """Apex ``x``, ``y`` in ``crs``, grid bearing, field of view and range of each device."""
    _check_points_present(geoms)
    if not len(geoms):
        return np.empty(0), np.empty(0), np.empty(0), np.empty(0), np.empty(0)
    kind = devices["kind"].astype("string")
    azimuth = arrays.float_column(devices, "azimuth_deg", "devices")
    fov = arrays.float_column(devices, "fov_deg", "devices")
    range_m = arrays.float_column(devices, "range_m", "devices")
    if (fov <= 0).any():
        raise ParameterError(f"devices: fov_deg must be > 0; got {float(np.nanmin(fov))}")
    if (range_m <= 0).any():
        raise ParameterError(f"devices: range_m must be > 0; got {float(np.nanmin(range_m))}")
    no_range = ~np.isfinite(range_m)
    if no_range.any():
        unknown = sorted(set(kind[no_range].fillna("<missing>").unique()) - set(default_range_m))
        if unknown:
            raise ParameterError(
                f"default_range_m has no range for kind(s) {', '.join(unknown)} and those "
                "devices have no range_m; give range_m or add the kinds to default_range_m"
            )
        defaults = kind[no_range].map(dict(default_range_m)).to_numpy(dtype=np.float64)
        if not (np.isfinite(defaults) & (defaults > 0)).all():
            raise ParameterError(
                f"default_range_m must give ranges > 0; got {dict(default_range_m)!r}")
        range_m = range_m.copy()
        range_m[no_range] = defaults
    xy = arrays.project_xy(geoms, devices.crs, crs)
    bearing = np.full(len(geoms), np.nan)
    has_azimuth = np.isfinite(azimuth)
    if has_azimuth.any():
        lonlat = arrays.project_xy(geoms[has_azimuth], devices.crs, 4326)
        bearing[has_azimuth] = grid_bearing_deg(
            azimuth[has_azimuth], lonlat[:, 0], lonlat[:, 1], crs)
    return xy[:, 0], xy[:, 1], bearing, fov, range_m


def sector_polygons(
    x: NDArray[np.float64],
    y: NDArray[np.float64],
    bearing_deg: NDArray[np.float64],
    fov_deg: NDArray[np.float64],
    range_m: NDArray[np.float64],
    arc_segments: int = 32,
) -> NDArray[np.object_]:
    """Build sector polygons from apexes, grid bearings, fields of view and ranges.

    Parameters
    ----------
    x, y
        Apex coordinates in a projected CRS.
    bearing_deg
        Centre line, degrees clockwise from grid north; NaN gives a circle.
    fov_deg
        Field of view in degrees; NaN or >= 360 gives a circle.
    range_m
        Radius in CRS units (> 0).
    arc_segments
        Segments per full circle; a sector gets ``ceil(arc_segments · fov / 360)``.

    Returns
    -------
    numpy.ndarray of object
        One polygon per apex.

    Raises
    ------
    ValueError
        When ``arc_segments`` < 4 or the arrays differ in length.
    """
    out = np.empty(len(x), dtype=object)
    for rows, coords in _sector_shapes(x, y, bearing_deg, fov_deg, range_m, arc_segments):
        out[rows] = shapely.polygons(coords)
    return out


def _sector_rings(
    x: NDArray[np.float64],
    y: NDArray[np.float64],
    bearing_deg: NDArray[np.float64],
    fov_deg: NDArray[np.float64],
    range_m: NDArray[np.float64],
    arc_segments: int,
) -> Rings:
    """The rings :func:`sector_polygons` would build, as one block of coordinates.

    Every ring runs clockwise (bearings grow clockwise), which is all
    :func:`geo.uncovered.subtract_covers` asks of covers.
    """
    blocks: list[NDArray[np.float64]] = []
    owners: list[NDArray[np.int64]] = []
    lengths: list[NDArray[np.int64]] = []
    for rows, coords in _sector_shapes(x, y, bearing_deg, fov_deg, range_m, arc_segments):
        ring = coords[:, :-1]  # the closing vertex is left out
        blocks.append(ring.reshape(-1, 2))
        owners.append(rows.astype(np.int64))
        lengths.append(np.full(len(rows), ring.shape[1], dtype=np.int64))
    if not blocks:
        empty = np.empty(0, dtype=np.int64)
        return Rings(np.empty((0, 2)), np.zeros(1, dtype=np.int64), empty, empty.astype(bool))
    length = np.concatenate(lengths)
    return Rings(np.concatenate(blocks), np.concatenate([[0], np.cumsum(length)]),
                  np.concatenate(owners), np.ones(len(length), dtype=bool))


def _sector_pairs(
    areas: NDArray[np.object_],
    area_rings: Rings,
    x: NDArray[np.float64],
    y: NDArray[np.float64],
    range_m: NDArray[np.float64],
    rings: Rings,
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """(area, sector) positions of the sectors that may meet each area, sorted by area.

    A sector lies within its range of its apex. Candidates come from a grid over the areas'
    boxes grown by the longest range (each apex looks up the areas listed in its cell), then
    the area's box grown by the sector's own range; they are kept when the sector's and the
    area's extents overlap along every direction (:func:`geo.uncovered.dop_pairs`). Every
    sector that meets an area is kept, with a few that only come close.
    """
    none = np.empty(0, dtype=np.int64)
    b = shapely.bounds(areas)
    usable = np.flatnonzero(np.isfinite(b).all(axis=1))
    if not len(x) or not len(usable):
        return none, none
    grow = float(range_m.max()) * (1.0 + 1e-9)
    box = b[usable] + np.array([-grow, -grow, grow, grow])
    cell = max(float(np.median(np.maximum(box[:, 2] - box[:, 0], box[:, 3] - box[:, 1]))) / 4.0,
               grow, 1e-9)
    x0, y0 = box[:, 0].min(), box[:, 1].min()
    first = np.floor((box[:, :2] - [x0, y0]) / cell).astype(np.int64)
    last = np.floor((box[:, 2:] - [x0, y0]) / cell).astype(np.int64)
    columns = int(last[:, 0].max()) + 1
    rows = int(last[:, 1].max()) + 1
    # (cell, area) for every grid cell each grown box covers
    span = last - first + 1
    per_area = span[:, 0] * span[:, 1]
    k = ranges(np.zeros(len(usable), dtype=np.int64), per_area)
    owner = np.repeat(np.arange(len(usable)), per_area)
    cx = first[owner, 0] + k % span[owner, 0]
    cy = first[owner, 1] + k // span[owner, 0]
    entry = cy * columns + cx
    order = np.argsort(entry, kind="stable")
    entry, entry_area = entry[order], usable[owner[order]]
    # each apex looks up the areas listed in its cell
    ax = np.floor((x - x0) / cell)
    ay = np.floor((y - y0) / cell)
    inside = (ax >= 0) & (ax < columns) & (ay >= 0) & (ay < rows)
    apex_cell = np.where(inside, ay * columns + ax, -1).astype(np.int64)
    lo = np.searchsorted(entry, apex_cell, side="left")
    count = np.searchsorted(entry, apex_cell, side="right") - lo
    sector = np.repeat(np.arange(len(x), dtype=np.int64), count)
    area = entry_area[ranges(lo, count)]
    r = range_m[sector] * (1.0 + 1e-9)
    bb = b[area]
    near = ((x[sector] >= bb[:, 0] - r) & (x[sector] <= bb[:, 2] + r)
            & (y[sector] >= bb[:, 1] - r) & (y[sector] <= bb[:, 3] + r))
    return dop_pairs(area[near], sector[near], polygon_dops(area_rings, len(areas)),
                      polygon_dops(rings, len(x)))


def _sector_shapes(
    x: NDArray[np.float64],
    y: NDArray[np.float64],
    bearing_deg: NDArray[np.float64],
    fov_deg: NDArray[np.float64],
    range_m: NDArray[np.float64],
    arc_segments: int,
) -> Iterator[tuple[NDArray[np.int64], NDArray[np.float64]]]:
    """Closed sector rings, one ``(rows, coords)`` per shape (circle or sector, segments).

    ``coords`` is a ``(len(rows), ring length, 2)`` array. A sector ring is apex,
    segments + 1 arc points, apex; a circle ring is its points and the first one again, so
    every ring closes on identical coordinates.
    """
    _check_arc_segments(arc_segments)
    n = len(x)
    if not all(len(a) == n for a in (y, bearing_deg, fov_deg, range_m)):
        raise ParameterError("x, y, bearing_deg, fov_deg and range_m must have the same length")
    circle = ~np.isfinite(bearing_deg) | ~np.isfinite(fov_deg) | (fov_deg >= 360.0)
    fov = np.where(circle, 360.0, fov_deg)
    segments = np.where(
        circle, arc_segments,
        np.maximum(1, np.ceil(np.round(arc_segments * fov / 360.0, 9)))).astype(np.int64)
    for is_circle, m in sorted(set(zip(circle.tolist(), segments.tolist(), strict=True))):
        rows = np.flatnonzero((circle == is_circle) & (segments == m))
        r = range_m[rows][:, None]
        if is_circle:
            angle = 2.0 * np.pi * (np.arange(m + 1) % m) / m
            coords = np.empty((len(rows), m + 1, 2))
            coords[:, :, 0] = x[rows][:, None] + r * np.sin(angle)
            coords[:, :, 1] = y[rows][:, None] + r * np.cos(angle)
        else:
            start = np.radians(bearing_deg[rows] - fov[rows] / 2.0)[:, None]
            step = (np.radians(fov[rows]) / m)[:, None]
            angle = start + step * np.arange(m + 1)[None, :]
            coords = np.empty((len(rows), m + 3, 2))
            coords[:, 0, 0] = coords[:, -1, 0] = x[rows]
            coords[:, 0, 1] = coords[:, -1, 1] = y[rows]
            coords[:, 1:-1, 0] = x[rows][:, None] + r * np.sin(angle)
            coords[:, 1:-1, 1] = y[rows][:, None] + r * np.cos(angle)
        yield rows, coords


@dataclass(frozen=True)
class CameraMetrics:
    """Technical-protection metrics of every community.

    Attributes
    ----------
    frame
        One row per community, indexed by ``code``: ``name``, ``population``, ``area_km2``,
        ``camera_count`` (video devices of the period, any status), ``cameras_working``,
        ``camera_working_ratio`` (NaN without cameras), ``camera_density_per_km2``,
        ``cameras_per_1000_residents`` (NaN without population), ``camera_area_share``,
        ``incidents_total`` (located incidents of the community), ``incidents_in_view``,
        ``incidents_in_view_share`` (NaN without incidents, or when none were given) and
        ``devices_<kind>`` (devices of the period by kind, any status; every kind of
        :data:`geo.layers.DEVICE_KINDS` and any other kind present).
    blind_spots
        GeoDataFrame in EPSG:4326: ``code``, ``name``, ``blind_area_m2`` and the community area
        outside working view, for every community with such area.
    camera_kinds
        Kinds counted as cameras.
    arc_segments
        Segments per full circle of the sectors.
    metric_crs
        The CRS of the computation.
    period
        The period devices were filtered to (``None``: every row counted).
    devices_unassigned
        Devices of the period inside no community (still covering what they see).
    incidents_unlocated
        Incidents given without a point (left out of the in-view share).
    incidents_unassigned
        Located incidents whose ``community_code`` is not a community, or that have none and
        lie in no community.
    """

    frame: pd.DataFrame
    blind_spots: gpd.GeoDataFrame
    camera_kinds: tuple[str, ...]
    arc_segments: int
    metric_crs: pyproj.CRS
    period: Period | None
    devices_unassigned: int
    incidents_unlocated: int
    incidents_unassigned: int


def camera_metrics(
    communities: gpd.GeoDataFrame,
    devices: gpd.GeoDataFrame,
    *,
    incidents: gpd.GeoDataFrame | None = None,
    period: Period | str | int | None = None,
    camera_kinds: Iterable[str] = CAMERA_KINDS,
    metric_crs: Any = None,
    arc_segments: int = 32,
    default_range_m: Mapping[str, float] = DEFAULT_RANGE_M,
    workers: int | None = None,
    key_column: str | None = None,
) -> CameraMetrics:
    """Compute the technical-protection metrics of every community.

    Parameters
    ----------
    communities
        Community polygons with ``code`` (``name``, ``population`` optional).
    devices
        Device points with ``id`` and ``kind`` (``status``, ``azimuth_deg``, ``fov_deg``,
        ``range_m``, ``installed_on``, ``removed_on`` optional; a missing status is working).
    incidents
        The period's incidents under the case definition, with ``community_code`` (a located
        incident without one goes to the community containing it); rows without a point are
        left out of the in-view share.
    period
        Only devices that existed during it count; ``None`` counts every row.
    camera_kinds
        Device kinds that are cameras.
    metric_crs
        Projected CRS in metres; default :func:`geo.projection.choose_metric_crs` of the
        communities.
    arc_segments
        Segments per full circle of the view sectors.
    default_range_m
        View range of a camera without ``range_m``, by kind.
    workers
        Threads for the polygon arithmetic (:func:`geo.uncovered.uncovered_parts`); ``None``
        uses every CPU. Results do not depend on it.
    key_column
        A column of ``incidents`` holding integer record keys
        (:func:`geo.release.record_keys`): the frame then also carries
        ``incidents_total_key_sum`` and ``incidents_in_view_key_sum``, the sums of the keys
        of the incidents counted, so that the counts can be released by the cell-key method.

    Returns
    -------
    CameraMetrics

    Raises
    ------
    TypeError
        When an input is not a GeoDataFrame.
    ValueError
        When columns are missing, the CRSs differ, geometries have the wrong type, a status is
        neither working nor faulty, a sector cannot be drawn (see :func:`view_sectors`), or
        ``workers`` is not a positive integer.
    """
    check_communities(communities)
    check_frame(devices, "devices", ("Point",), ("id", "kind"))
    if incidents is not None:
        check_frame(incidents, "incidents", ("Point",),
                    ("community_code",) + ((key_column,) if key_column else ()))
    check_same_crs(communities=communities, devices=devices, incidents=incidents)
    _check_arc_segments(arc_segments)
    kinds = _kinds(camera_kinds)
    check_workers(workers)
    p = None if period is None else parse_period(period)
    crs = choose_metric_crs(communities, metric_crs=metric_crs)

    if p is not None:
        devices = devices[existing_during(
            devices, p, start_column=arrays.present(devices, "installed_on"),
            end_column=arrays.present(devices, "removed_on")).to_numpy(dtype=bool)]
    working = _working(devices)
    kind = devices["kind"].astype("string").fillna("<missing>")
    is_camera = kind.isin(kinds).to_numpy(dtype=bool)

    codes = arrays.codes(communities)
    index = pd.Index(codes, name="code", dtype="string")
    comm = arrays.project(arrays.geoms(communities), communities.crs, crs)
    dev_geoms = arrays.geoms(devices)
    owner = arrays.containing(dev_geoms, arrays.geoms(communities))

    seeing = is_camera & working
    apex_x, apex_y, bearing, fov, range_m = _sector_params(
        devices[seeing], dev_geoms[seeing], crs, default_range_m)
    view = (apex_x, apex_y, bearing, fov, range_m, arc_segments)
    rings = _sector_rings(*view)
    comm_rings = polygon_rings(comm)
    pair_comm, pair_sector = _sector_pairs(comm, comm_rings, apex_x, apex_y, range_m, rings)
    cut = subtract_covers(comm, comm_rings, pair_comm, pair_sector, rings=lambda: rings,
                           polygons=lambda: sector_polygons(*view), workers=check_workers(workers))
    area = shapely.area(comm)
    blind_area = cut.left_m2
    positive = area > 0
    area_share = np.where(positive, 1.0 - blind_area / np.where(positive, area, 1.0), np.nan)

    n = len(codes)
    assigned = owner >= 0
    camera_count = np.bincount(owner[assigned & is_camera], minlength=n)
    cameras_working = np.bincount(owner[assigned & is_camera & working], minlength=n)
    population = arrays.population(communities, "communities")
    area_km2 = area / 1e6
    frame = pd.DataFrame(
        {
            "name": arrays.names(communities),
            "population": population,
            "area_km2": area_km2,
            "camera_count": camera_count,
            "cameras_working": cameras_working,
            "camera_working_ratio": arrays.ratio(cameras_working, camera_count),
            "camera_density_per_km2": arrays.ratio(camera_count, area_km2),
            "cameras_per_1000_residents": arrays.ratio(camera_count * 1000.0, population),
            "camera_area_share": area_share,
        },
        index=index,
    )
    unlocated, unassigned = 0, 0
    total = np.zeros(n, dtype=np.int64)
    in_view = np.zeros(n, dtype=np.int64)
    keys = np.zeros((2, n), dtype=np.int64)
    if incidents is not None:
        total, in_view, unlocated, unassigned, keys = _incidents_in_view(
            incidents, communities, codes, crs, view, key_column)
    frame["incidents_total"] = total
    frame["incidents_in_view"] = in_view
    if key_column:
        frame["incidents_total_key_sum"] = keys[0]
        frame["incidents_in_view_key_sum"] = keys[1]
    frame["incidents_in_view_share"] = (
        arrays.ratio(in_view, total) if incidents is not None else np.full(n, np.nan))
    present_kinds = sorted(set(kind.unique()) - set(DEVICE_KINDS) - {"<missing>"})
    for k in (*DEVICE_KINDS, *present_kinds):
        frame[f"devices_{k}"] = np.bincount(
            owner[assigned & (kind == k).to_numpy(dtype=bool)], minlength=n)

    has_blind = blind_area > 0
    to_wgs84 = pyproj.Transformer.from_crs(crs, 4326, always_xy=True)
    wgs84 = pyproj.CRS.from_user_input(communities.crs) == pyproj.CRS.from_epsg(4326)
    blind = cut.geometries(to_wgs84.transform,
                           untouched=arrays.geoms(communities) if wgs84 else None)
    blind_spots = gpd.GeoDataFrame(
        {
            "code": pd.array(codes[has_blind], dtype="string"),
            "name": frame["name"].to_numpy()[has_blind],
            "blind_area_m2": blind_area[has_blind],
        },
        geometry=blind[has_blind],
        crs=4326,
    )
    return CameraMetrics(
        frame=frame,
        blind_spots=blind_spots,
        camera_kinds=kinds,
        arc_segments=arc_segments,
        metric_crs=crs,
        period=p,
        devices_unassigned=int((~assigned).sum()),
        incidents_unlocated=unlocated,
        incidents_unassigned=unassigned,
    )


def _incidents_in_view(
    incidents: gpd.GeoDataFrame,
    communities: gpd.GeoDataFrame,
    codes: NDArray[np.object_],
    crs: pyproj.CRS,
    view: tuple[Any, ...],
    key_column: str | None,
) -> tuple[NDArray[np.int64], NDArray[np.int64], int, int, NDArray[np.int64]]:
    """Located incidents per community and those inside a working view sector.

    ``view`` holds :func:`sector_polygons`'s arguments for the working cameras. Returns the
    totals and the in-view counts per community, the incidents left out (without a point,
    and located but in no community), and the key sums of the totals and of the in-view
    counts (zeros without ``key_column``).
    """
    n = len(codes)
    apex_x = view[0]
    inc_xy = arrays.project_xy(arrays.geoms(incidents), incidents.crs, crs)
    located = np.isfinite(inc_xy).all(axis=1)
    unlocated = int((~located).sum())
    position = pd.Series(np.arange(n), index=codes)
    given = incidents["community_code"].astype("string")
    where = given.map(position).to_numpy(dtype=np.float64, na_value=np.nan)
    # Incidents without a code go to the community containing them.
    by_point = located & given.isna().to_numpy(dtype=bool)
    if by_point.any():
        found = arrays.containing(arrays.geoms(incidents)[by_point], arrays.geoms(communities))
        where[by_point] = np.where(found >= 0, found, np.nan)
    known = located & np.isfinite(where)
    unassigned = int((located & ~np.isfinite(where)).sum())
    seen = np.zeros(len(incidents), dtype=bool)
    if len(apex_x) and known.any():
        rows = np.flatnonzero(known)
        hit, _ = shapely.STRtree(sector_polygons(*view)).query(
            shapely.points(inc_xy[rows]), predicate="intersects")
        seen[rows[np.unique(hit)]] = True
    slot = where[known].astype(np.int64)
    total = np.bincount(slot, minlength=n)
    in_view = np.bincount(slot, weights=seen[known], minlength=n).astype(np.int64)
    keys = np.zeros((2, n), dtype=np.int64)
    if key_column:
        key = incidents[key_column].to_numpy(dtype=np.int64)[known]
        np.add.at(keys[0], slot, key)
        np.add.at(keys[1], slot[seen[known]], key[seen[known]])
    return total, in_view, unlocated, unassigned, keys


def _check_arc_segments(arc_segments: int) -> None:
    if isinstance(arc_segments, bool) or not isinstance(arc_segments, int) or arc_segments < 4:
        raise ParameterError(f"arc_segments must be an integer >= 4; got {arc_segments!r}")


def _check_points_present(geoms: NDArray[np.object_]) -> None:
    if (shapely.is_missing(geoms) | shapely.is_empty(geoms)).any():
        raise ParameterError("devices: every device needs a point; found missing or empty ones")


def _working(devices: gpd.GeoDataFrame) -> NDArray[np.bool_]:
    if "status" not in devices.columns:
        return np.ones(len(devices), dtype=bool)
    status = devices["status"].astype("string").str.strip().str.lower()
    unknown = sorted(set(status.dropna().unique()) - set(_STATUSES))
    if unknown:
        raise ParameterError(
            f"devices: status must be working or faulty (or missing, meaning working); got "
            f"{', '.join(unknown[:5])}"
        )
    return (status != "faulty").fillna(True).to_numpy(dtype=bool)


def _kinds(camera_kinds: Iterable[str]) -> tuple[str, ...]:
    if isinstance(camera_kinds, str):
        raise TypeError(f"camera_kinds must be a collection of kinds; got the string "
                        f"{camera_kinds!r}")
    kinds = tuple(camera_kinds)
    if not kinds or not all(isinstance(k, str) and k for k in kinds):
        raise ParameterError(f"camera_kinds must name at least one kind; got {kinds!r}")
    return kinds
