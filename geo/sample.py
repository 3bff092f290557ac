"""A deterministic synthetic "sample city" around central Beijing, for the demo and the tests.

Everything here is **fictional**: the names, the codes (district codes 110191, 110192, … are not
real Beijing districts), the boundaries, the populations, the incidents and the inventories.
The sample exists so that the demo, the integration tests and the benchmarks have data of
realistic shape and size; it is not a model of any real place.

How the boundaries are built
----------------------------
1. An irregular city outline (a radius that varies with the angle) and a population density that
   is higher near the centre and around two secondary centres.
2. Fine seed points drawn from that density, made evenly spaced by a few density-weighted Lloyd
   iterations (so Voronoi angles stay wide, which keeps the later displacement from folding any
   edge over another), and their Voronoi diagram (scipy). Cells whose seed lies inside the outline
   are the city; the outline follows their edges.
3. Communities grow from seed cells over the cell adjacency graph with randomly weighted edges
   (multi-source Dijkstra, scipy): every community is one connected group of about six cells, with
   a jagged, non-convex shape that is not a Voronoi cell. Subdistricts grow the same way over the
   community graph, districts over the subdistrict graph from west-east spaced seeds (with two
   districts: a western and an eastern one).
4. The boundary network is taken once per shared edge (Voronoi ridges between cells of different
   communities), segmentized to ``vertex_spacing_m``, and every vertex is displaced by a smooth
   field (a sum of sines of 160-420 m wavelength, about 15-25 m in all). The field's slope is
   below 0.7 everywhere, so the displacement is one-to-one and nothing self-intersects, while
   boundaries wiggle like streets and walls. Displacement, projection to WGS84 and rounding to
   1e-7 degrees are applied to each distinct vertex once, so neighbours keep identical vertices.
5. ``shapely.polygonize`` rebuilds the faces, which are matched back to the communities through
   the (displaced) seed points they contain.

The other layers (population by year, incidents, devices, compounds, facilities) follow a latent
"quality" score per community that drives camera density, compound compliance, facility presence
and case rates, so that a safe-community standard finds communities that meet it, some that
partly do, and some that fail. :attr:`SampleCity.truth` records what was planted (trends, hot
spots, facility gaps) so tests can check that analyses find it.

Why hand-written: no library generates synthetic administrative partitions or event data with
these properties. The geometry uses scipy (Voronoi, k-d tree, graph shortest paths) and shapely
(polygonize); the only numerical glue written here is the Lloyd relaxation (scipy's ``kmeans2``
compares every point with every centre, far too slow for 10^5 points, while a k-d tree makes it
linear) and the displacement field.

Everything is deterministic from ``seed``: numpy Generators seeded by ``(seed, stream)`` per
layer, no dependence on dict or set ordering, and files written with fixed formatting.
"""

from __future__ import annotations

import json
import math
import tempfile
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pyproj
import shapely
from numpy.typing import NDArray
from scipy import sparse
from scipy.sparse import csgraph
from scipy.spatial import Voronoi, cKDTree
from shapely import affinity
from shapely.geometry.base import BaseGeometry

from geo.crs import metric_crs_for, wgs84_to_gcj02
from geo.layers import COMPOUND_MEASURES, layer_spec
from geo.period import DEFAULT_TIMEZONE

__all__ = [
    "DEFAULT_SEED",
    "SampleCity",
    "generate_boundaries",
    "generate_city",
    "write_sample",
]

#: Seed of the committed sample city (``data/boundaries/communities.geojson``).
DEFAULT_SEED = 20250101

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

_WGS84 = "EPSG:4326"
_COORD_DECIMALS = 7  # 1e-7 degrees is about 1 cm: far below the 12 m vertex spacing

# Random streams: each layer draws from its own generator, so changing one layer's recipe
# leaves the others as they were.
_STREAM_BOUNDARIES = 1
_STREAM_QUALITY = 2
_STREAM_POPULATION = 3
_STREAM_COMPOUNDS = 4
_STREAM_DEVICES = 5
_STREAM_FACILITIES = 6
_STREAM_INCIDENTS = 7

_MEAN_COMMUNITY_AREA_M2 = 0.6e6
_FINE_CELLS_PER_COMMUNITY = 6
_LLOYD_ITERATIONS = 3
# (amplitude_m, wavelength_m) of the displacement components, per axis. The slope bound
# sum(2*pi*A/L) is 0.46 per axis, 0.65 for the 2-D field: the displacement is one-to-one.
_NOISE_COMPONENTS = ((12.0, 420.0), (6.0, 240.0), (3.0, 160.0))
_SNAP_M = 0.5  # Voronoi vertices closer than this are merged (near-degenerate ridges)

_DISTRICT_CODE_FIRST = 110191
_DISTRICT_NAMES = ("西山区", "东湖区", "北原区", "南塘区", "中林区", "青溪区", "云台区", "松岭区",
                   "柳湾区")

_NAME_FIRST = "安和华平新兴永康德福光明长春文景清宁瑞祥丰惠泰嘉金玉龙凤青翠松柏桃李月星云朝阳"
_NAME_SECOND = "平和华安定宁兴盛德化源泉园丰乐康泰祥瑞福明光顺通达成新秀美林湖河桥山苑"
_COMMUNITY_SUFFIXES = ("", "", "", "里", "东", "西", "南", "北", "园", "苑", "街", "路", "坊")
_SUBDISTRICT_SUFFIXES = ("", "", "门", "桥", "湖", "里", "寺", "庄")
_CHINESE_ORDINALS = ("〇", "一", "二", "三", "四", "五", "六", "七", "八", "九")
_ROAD_SUFFIXES = ("路", "街", "大街", "胡同", "东路", "西街", "北里", "南巷")

_CATEGORIES = ("theft", "fraud", "burglary", "vehicle_theft", "assault", "vandalism", "robbery")
_CATEGORY_SHARE = (0.44, 0.18, 0.10, 0.09, 0.09, 0.07, 0.03)
_HOTSPOT_CATEGORY_SHARE = (0.62, 0.10, 0.07, 0.08, 0.07, 0.04, 0.02)
_STATUSES = ("filed", "solved", "withdrawn", "unfounded")
_BASE_RATE_PER_10K_YEAR = 235.0

_DEVICE_KIND_SHARE = {"camera": 0.50, "dome": 0.14, "ptz": 0.06, "face": 0.08, "plate": 0.08,
                      "alarm": 0.08, "access": 0.06}
_DEVICES_PER_COMMUNITY = 30.0

_MEASURES: tuple[str, ...] = tuple(m for group in COMPOUND_MEASURES.values() for m in group)
# Baseline log-odds of each measure in a compound of average quality.
_MEASURE_LOGIT = {"fence": 2.2, "gate_guard": 1.3, "anti_theft_doors": 1.4, "lighting": 2.0,
                  "patrol": 0.6, "cctv_entrances": 1.2, "access_control": 0.7,
                  "intrusion_alarm": -0.5, "intercom": 0.4, "plate_recognition": 0.0}
# Shapefile column (<= 10 bytes) and the DBF's Chinese labels of the compound polygons.
_MEASURE_COLUMNS = {"fence": "fence", "gate_guard": "gate_guard", "anti_theft_doors": "anti_theft",
                    "lighting": "lighting", "patrol": "patrol", "cctv_entrances": "cctv_entr",
                    "access_control": "access_ctl", "intrusion_alarm": "intrusion",
                    "intercom": "intercom", "plate_recognition": "plate_rec"}
_COMPOUND_SHP_FIELDS = {"id": "编号", "name": "名称", "kind": "类型", "households": "户数",
                        "population": "人口", "removed_on": "撤销日期"}
_COMPOUND_KINDS = ("residential", "unit", "school", "hospital", "market")
_COMPOUND_KIND_SHARE = (0.78, 0.09, 0.06, 0.03, 0.04)

_FACILITY_TYPE_ZH = {"police_station": "派出所", "police_office": "社区警务室",
                     "service_station": "社区服务站", "health_station": "社区卫生服务站",
                     "health_center": "社区卫生服务中心", "fire_station": "消防站"}
_GAP_BUFFER_M = 800.0

_COMMUNITY_FIELDS_ZH = {"code": "社区代码", "name": "社区名称", "subdistrict_code": "街道代码",
                        "subdistrict": "街道", "district_code": "区代码", "district": "区",
                        "population": "常住人口", "households": "户数"}
_FACILITY_FIELDS_ZH = {"id": "编号", "type": "类型", "name": "名称", "opened_on": "启用日期",
                       "closed_on": "关闭日期", "lon": "经度", "lat": "纬度"}
_FIXED_FILE_DATE = "2025-12-31"  # stamped into DBF and GeoPackage headers instead of "today"


@dataclass(frozen=True)
class SampleCity:
    """A generated sample city: every input layer in its canonical form (EPSG:4326).

    Attributes
    ----------
    communities
        Canonical communities (:mod:`geo.layers` columns and geometry), sorted by ``code``.
    population
        ``code``, ``year``, ``population`` for 2024 and 2025 (2025 equals
        ``communities.population``).
    incidents
        Canonical incidents over 2024-2025, ``occurred_at`` tz-aware UTC, sorted by time. Rows
        without coordinates have a null geometry and their ``community_code``.
    devices
        Canonical technical-protection devices (points).
    compounds
        Canonical compounds: polygons, and some points.
    facilities
        Canonical facilities (points).
    truth
        What was planted, one row per community (sorted by ``code``): ``code``, ``quality``
        (latent score, higher is better), ``incident_factor_2025`` (2025 rate over 2024 rate as
        generated), ``in_hotspot`` (within one hot-spot radius of a hot-spot centre),
        ``facility_gap`` (left without police office, service station and health facility within
        800 m, on purpose).
    seed
        The seed it was generated from.
    """

    communities: gpd.GeoDataFrame
    population: pd.DataFrame
    incidents: gpd.GeoDataFrame
    devices: gpd.GeoDataFrame
    compounds: gpd.GeoDataFrame
    facilities: gpd.GeoDataFrame
    truth: pd.DataFrame
    seed: int


# --- public API ------------------------------------------------------------------------------


def generate_boundaries(
    n_communities: int = 130,
    *,
    seed: int = DEFAULT_SEED,
    center_lonlat: tuple[float, float] = (116.395, 39.915),
    n_districts: int = 2,
    n_subdistricts: int = 12,
    vertex_spacing_m: float = 12.0,
) -> gpd.GeoDataFrame:
    """Generate a synthetic planar partition of communities with realistic boundary detail.

    The communities tile an irregular city outline without gaps or overlaps; neighbours share
    identical edge vertices. Each community has a 12-digit statistical-style code (district 6
    digits, subdistrict 3, community 3), a synthetic Chinese name, its subdistrict and district,
    a population between 2,000 and 20,000 and households of about population / 2.6. The city
    area grows with ``n_communities`` so that polygons keep hundreds of vertices at any count.

    Parameters
    ----------
    n_communities
        Number of communities (at least 2 and at least ``n_subdistricts``).
    seed
        Seed of the random generator; the same seed gives the same frame.
    center_lonlat
        WGS84 longitude and latitude of the city centre (inside China, so that the metric CRS is
        a CGCS2000 Gauss-Kruger zone).
    n_districts
        Number of districts (1 to 9), numbered west to east from 110191.
    n_subdistricts
        Number of subdistricts (at least ``n_districts``, at most ``n_communities``).
    vertex_spacing_m
        Largest distance between consecutive boundary vertices, in metres (1 to 100).

    Returns
    -------
    geopandas.GeoDataFrame
        Canonical ``communities`` frame (columns of :mod:`geo.layers` plus ``geometry``) in
        EPSG:4326, sorted by ``code``; exteriors counter-clockwise (RFC 7946).

    Raises
    ------
    ValueError
        If a count or the spacing is out of range, or the centre is not a longitude/latitude
        inside China.
    TypeError
        If a count is not an integer.
    """
    n_communities = _check_int("n_communities", n_communities, 2)
    n_districts = _check_int("n_districts", n_districts, 1)
    n_subdistricts = _check_int("n_subdistricts", n_subdistricts, 1)
    if n_districts > len(_DISTRICT_NAMES):
        raise ValueError(f"n_districts must be at most {len(_DISTRICT_NAMES)}; "
                         f"got {n_districts}")
    if not n_districts <= n_subdistricts <= n_communities:
        raise ValueError(
            "need n_districts <= n_subdistricts <= n_communities; got "
            f"n_districts={n_districts}, n_subdistricts={n_subdistricts}, "
            f"n_communities={n_communities}")
    if n_communities > 999 * n_subdistricts:
        raise ValueError(f"n_communities must be at most 999 per subdistrict "
                         f"({999 * n_subdistricts}); got {n_communities}")
    if not isinstance(vertex_spacing_m, int | float) or not 1.0 <= vertex_spacing_m <= 100.0:
        raise ValueError(f"vertex_spacing_m must be a number of metres in [1, 100]; "
                         f"got {vertex_spacing_m!r}")
    lon, lat = _check_center(center_lonlat)
    seed = _check_int("seed", seed, 0)

    rng = _rng(seed, _STREAM_BOUNDARIES)
    metric = metric_crs_for(lon, lat)
    to_metric = pyproj.Transformer.from_crs(_WGS84, metric, always_xy=True)
    cx, cy = to_metric.transform(lon, lat)
    layout = _layout(rng, n_communities, (float(cx), float(cy)))
    cells = _fine_cells(rng, layout, n_communities)
    labels = _communities_from_cells(rng, cells, n_communities)
    hierarchy = _hierarchy(rng, cells, labels, n_communities, n_subdistricts, n_districts)
    geoms = _community_geometries(rng, cells, labels, metric, float(vertex_spacing_m))
    return _community_frame(rng, geoms, hierarchy, n_communities)


def generate_city(*, seed: int = DEFAULT_SEED, n_communities: int = 130) -> SampleCity:
    """Generate the whole sample city: boundaries, population by year and every input layer.

    Parameters
    ----------
    seed
        Seed of every random generator; the same seed gives identical frames.
    n_communities
        Number of communities (at least 12: there are 12 subdistricts).

    Returns
    -------
    SampleCity
        The canonical frames and the planted truth.

    Raises
    ------
    ValueError
        If ``n_communities`` is below 12 or ``seed`` is negative.
    TypeError
        If ``seed`` or ``n_communities`` is not an integer.
    """
    seed = _check_int("seed", seed, 0)
    n_communities = _check_int("n_communities", n_communities, 12)
    communities = generate_boundaries(n_communities, seed=seed)
    metric = metric_crs_for(*_center_of(communities))
    comm_m = communities.to_crs(metric)
    quality = _quality(_rng(seed, _STREAM_QUALITY), comm_m)
    population = _population_by_year(_rng(seed, _STREAM_POPULATION), communities)
    compounds_m = _compounds(_rng(seed, _STREAM_COMPOUNDS), comm_m, quality)
    devices_m = _devices(_rng(seed, _STREAM_DEVICES), comm_m, compounds_m, quality)
    facilities_m, gap = _facilities(_rng(seed, _STREAM_FACILITIES), comm_m, quality)
    incidents_m, factor_2025, hot = _incidents(_rng(seed, _STREAM_INCIDENTS), comm_m, quality)
    truth = pd.DataFrame({
        "code": communities["code"].astype("string").reset_index(drop=True),
        "quality": quality,
        "incident_factor_2025": factor_2025,
        "in_hotspot": hot,
        "facility_gap": gap,
    })
    return SampleCity(
        communities=communities,
        population=population,
        incidents=_to_wgs84(incidents_m, "incidents"),
        devices=_to_wgs84(devices_m, "devices"),
        compounds=_to_wgs84(compounds_m, "compounds"),
        facilities=_to_wgs84(facilities_m, "facilities"),
        truth=truth,
        seed=seed,
    )


def write_sample(city: SampleCity, out_dir: str | Path) -> Path:
    """Write the sample city as files in the formats pingan reads, with a manifest.

    Files (in ``out_dir``): ``communities.geojson`` (Chinese field names), ``population.csv``,
    ``facilities_gcj02.csv`` (GCJ-02 coordinates, Chinese headers and type names),
    ``devices.parquet`` (GeoParquet), ``compounds.zip`` (zipped Shapefile of the compound
    polygons, GBK without ``.cpg``, one 是/否 column per measure), ``compounds_points.gpkg``
    (layer ``compounds``: the compounds given as points), ``incidents.csv`` (naive local times)
    and the manifest ``sample.json`` listing them in load order with the CRS, encoding, layer and
    field mapping each needs. The same city always gives byte-identical files.

    Parameters
    ----------
    city
        A city from :func:`generate_city`.
    out_dir
        Directory to write into (created if missing; existing files of these names are
        replaced).

    Returns
    -------
    pathlib.Path
        Path of the manifest ``sample.json``.

    Raises
    ------
    TypeError
        If ``city`` is not a :class:`SampleCity`.
    """
    if not isinstance(city, SampleCity):
        raise TypeError(f"city must be a SampleCity from generate_city(); "
                        f"got {type(city).__name__}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    layers = [
        _write_communities(city.communities, out / "communities.geojson"),
        _write_population(city.population, out / "population.csv"),
        _write_facilities(city.facilities, out / "facilities_gcj02.csv"),
        _write_devices(city.devices, out / "devices.parquet"),
        *_write_compounds(city.compounds, out),
        _write_incidents(city.incidents, out / "incidents.csv"),
    ]
    manifest = {
        "name": "pingan sample city (synthetic)",
        "description": "Synthetic data around central Beijing generated by geo.sample; names, "
                       "codes, boundaries and records are fictional.",
        "seed": city.seed,
        "synthetic": True,
        "timezone": DEFAULT_TIMEZONE,
        "layers": layers,
    }
    path = out / "sample.json"
    path.write_text(json.dumps(manifest, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return path


# --- checks and small helpers ----------------------------------------------------------------


def _check_int(name: str, value: Any, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise TypeError(f"{name} must be an integer; got {type(value).__name__} {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be at least {minimum}; got {value}")
    return int(value)


def _check_center(center: Any) -> tuple[float, float]:
    try:
        lon, lat = (float(c) for c in center)
    except (TypeError, ValueError):
        raise ValueError(f"center_lonlat must be a (longitude, latitude) pair of numbers; "
                         f"got {center!r}") from None
    if not (73.5 <= lon <= 135.1 and 18.0 <= lat <= 53.6):
        raise ValueError(f"center_lonlat must lie in China (longitude 73.5..135.1, latitude "
                         f"18..53.6); got ({lon}, {lat})")
    return lon, lat


def _rng(seed: int, stream: int) -> np.random.Generator:
    return np.random.default_rng([seed, stream])


def _center_of(communities: gpd.GeoDataFrame) -> tuple[float, float]:
    x0, y0, x1, y1 = communities.total_bounds
    return (x0 + x1) / 2.0, (y0 + y1) / 2.0


def _n_roots() -> int:
    first, second = dict.fromkeys(_NAME_FIRST), dict.fromkeys(_NAME_SECOND)
    return sum(1 for a in first for b in second if a != b)


def _unique_names(rng: np.random.Generator, n: int, suffixes: Sequence[str]) -> list[str]:
    """Return ``n`` distinct names (two-character root plus a suffix) in random order."""
    first = list(dict.fromkeys(_NAME_FIRST))
    second = list(dict.fromkeys(_NAME_SECOND))
    pool = [a + b + s for s in dict.fromkeys(suffixes) for a in first for b in second if a != b]
    order = rng.permutation(len(pool))
    used: set[str] = set()
    out: list[str] = []
    for i in order:
        name = pool[int(i)]
        if name in used:
            continue
        used.add(name)
        out.append(name)
        if len(out) == n:
            return out
    raise ValueError(f"cannot make {n} distinct names (only {len(out)} available)")


# --- boundaries: layout and fine cells -------------------------------------------------------


@dataclass(frozen=True)
class _Layout:
    """City outline and density, in metric coordinates around ``center``."""

    center: tuple[float, float]
    radius_m: float
    harmonics: FloatArray  # rows: order, amplitude (relative), phase
    bumps: FloatArray  # rows: x, y, weight, sigma_m

    def outline_radius(self, theta: FloatArray) -> FloatArray:
        k, a, phi = self.harmonics.T
        return self.radius_m * (1.0 + np.cos(np.outer(theta, k) - phi) @ a)

    @property
    def max_radius_m(self) -> float:
        return self.radius_m * (1.0 + float(self.harmonics[:, 1].sum()))

    def inside(self, xy: FloatArray) -> NDArray[np.bool_]:
        dx, dy = xy[:, 0] - self.center[0], xy[:, 1] - self.center[1]
        return np.hypot(dx, dy) < self.outline_radius(np.arctan2(dy, dx))

    def density(self, xy: FloatArray) -> FloatArray:
        rho = np.ones(len(xy))
        for bx, by, w, s in self.bumps:
            d2 = (xy[:, 0] - bx) ** 2 + (xy[:, 1] - by) ** 2
            rho += w * np.exp(-d2 / (2.0 * s * s))
        return rho

    @property
    def max_density(self) -> float:
        return 1.0 + float(self.bumps[:, 2].sum())


def _layout(rng: np.random.Generator, n: int, center: tuple[float, float]) -> _Layout:
    orders = np.arange(2.0, 6.0)
    amps = rng.uniform(0.05, 0.14, len(orders)) / np.sqrt(orders - 1.0)
    phases = rng.uniform(0.0, 2.0 * np.pi, len(orders))
    harmonics = np.column_stack([orders, amps, phases])
    # Area of r(theta) = R (1 + sum a_k cos(...)) is pi R^2 (1 + sum a_k^2 / 2).
    radius = math.sqrt(n * _MEAN_COMMUNITY_AREA_M2 / (math.pi * (1.0 + float((amps ** 2).sum())
                                                                 / 2.0)))
    cx, cy = center
    angles = rng.uniform(0.0, 2.0 * np.pi, 2)
    dists = rng.uniform(0.35, 0.65, 2) * radius
    bumps = [(cx, cy, 2.2, 0.45 * radius)]
    bumps += [(cx + d * math.cos(a), cy + d * math.sin(a), 0.9, 0.2 * radius)
              for a, d in zip(angles, dists, strict=True)]
    return _Layout(center, radius, harmonics, np.array(bumps, dtype=float))


def _sample_density(rng: np.random.Generator, layout: _Layout, n: int,
                    radius_m: float) -> FloatArray:
    """``n`` points in the disk of ``radius_m`` with probability proportional to the density."""
    chunks: list[FloatArray] = []
    got = 0
    while got < n:
        m = 3 * (n - got) + 64
        r = radius_m * np.sqrt(rng.random(m))
        t = rng.uniform(0.0, 2.0 * np.pi, m)
        xy = np.column_stack([layout.center[0] + r * np.cos(t), layout.center[1] + r * np.sin(t)])
        keep = rng.random(m) * layout.max_density < layout.density(xy)
        chunks.append(xy[keep])
        got += int(keep.sum())
    return np.concatenate(chunks)[:n]


def _lloyd(points: FloatArray, samples: FloatArray, n_iter: int) -> FloatArray:
    """Move each point to the mean of the samples nearest to it (density-weighted Lloyd)."""
    p = points.copy()
    for _ in range(n_iter):
        _, nearest = cKDTree(p).query(samples)
        counts = np.bincount(nearest, minlength=len(p))
        sx = np.bincount(nearest, weights=samples[:, 0], minlength=len(p))
        sy = np.bincount(nearest, weights=samples[:, 1], minlength=len(p))
        has = counts > 0
        p[has, 0] = sx[has] / counts[has]
        p[has, 1] = sy[has] / counts[has]
    return p


@dataclass(frozen=True)
class _Cells:
    """The fine Voronoi cells: seeds, the diagram, and which cells form the city."""

    seeds: FloatArray  # (m, 2) metric; the first m_region are region points, then a far ring
    inside: NDArray[np.bool_]  # (m,)
    ridge_points: IntArray  # (r, 2)
    ridge_vertices: IntArray  # (r, 2), -1 for a vertex at infinity
    vertices: FloatArray


def _fine_cells(rng: np.random.Generator, layout: _Layout, n: int) -> _Cells:
    target_inside = _FINE_CELLS_PER_COMMUNITY * n
    # Mean spacing of fine cells where the density is 1, to size the band outside the outline.
    spacing = math.sqrt(_MEAN_COMMUNITY_AREA_M2 * 1.8 / _FINE_CELLS_PER_COMMUNITY)
    region = layout.max_radius_m + 6.0 * spacing
    chunks: list[FloatArray] = []
    n_inside = 0
    while n_inside < target_inside:
        pts = _sample_density(rng, layout, 2 * (target_inside - n_inside) + 64, region)
        inside = layout.inside(pts)
        need = target_inside - n_inside
        if inside.sum() >= need:
            cut = int(np.flatnonzero(inside)[need - 1]) + 1
            pts = pts[:cut]
            inside = inside[:cut]
        chunks.append(pts)
        n_inside += int(inside.sum())
    seeds = np.concatenate(chunks)
    samples = _sample_density(rng, layout, 12 * len(seeds), region)
    seeds = _lloyd(seeds, samples, _LLOYD_ITERATIONS)
    ring_t = np.linspace(0.0, 2.0 * np.pi, 64, endpoint=False)
    ring = np.column_stack([layout.center[0] + 2.0 * region * np.cos(ring_t),
                            layout.center[1] + 2.0 * region * np.sin(ring_t)])
    all_seeds = np.vstack([seeds, ring])
    vor = Voronoi(all_seeds)
    pairs = np.asarray(vor.ridge_points, dtype=np.int64)
    inside = np.concatenate([layout.inside(seeds), np.zeros(len(ring), dtype=bool)])
    inside = _fill_holes(inside, pairs, ring_node=len(seeds))
    return _Cells(all_seeds, inside, pairs,
                  np.asarray(vor.ridge_vertices, dtype=np.int64), vor.vertices)


def _components(mask: NDArray[np.bool_], pairs: IntArray) -> IntArray:
    """Connected-component label of each masked node over edges between masked nodes (-1 else)."""
    n = len(mask)
    both = mask[pairs[:, 0]] & mask[pairs[:, 1]]
    e = pairs[both]
    g = sparse.coo_matrix((np.ones(len(e)), (e[:, 0], e[:, 1])), shape=(n, n))
    _, comp = csgraph.connected_components(g, directed=False)
    return np.where(mask, comp, -1)


def _fill_holes(inside: NDArray[np.bool_], pairs: IntArray, ring_node: int) -> NDArray[np.bool_]:
    """Make the city one piece without holes: fill enclosed outside cells, drop inside islands."""
    out_comp = _components(~inside, pairs)
    filled = inside | (out_comp != out_comp[ring_node])
    in_comp = _components(filled, pairs)
    sizes = np.bincount(in_comp[filled])
    return filled & (in_comp == int(np.argmax(sizes)))


# --- boundaries: grouping cells into communities, subdistricts, districts ---------------------


def _pick_spread(rng: np.random.Generator, points: FloatArray, k: int) -> IntArray:
    """Pick ``k`` distinct points spread like the points themselves (nearest to k-means centres)."""
    centres = points[np.sort(rng.choice(len(points), k, replace=False))]
    centres = _lloyd(centres, points, 10)
    tree = cKDTree(points)
    used = np.zeros(len(points), dtype=bool)
    chosen = np.empty(k, dtype=np.int64)
    for i, c in enumerate(centres):
        kk = min(len(points), 8)
        while True:
            _, idx = tree.query(c, k=kk)
            free = [int(j) for j in np.atleast_1d(idx) if not used[int(j)]]
            if free:
                break
            kk = min(len(points), kk * 4)
        chosen[i] = free[0]
        used[free[0]] = True
    return chosen


def _grow(n_nodes: int, edges: IntArray, weights: FloatArray, seeds: IntArray) -> IntArray:
    """Label each node with the index of its nearest seed along the weighted graph."""
    g = sparse.coo_matrix((weights, (edges[:, 0], edges[:, 1])), shape=(n_nodes, n_nodes)).tocsr()
    _, _, sources = csgraph.dijkstra(g, directed=False, indices=seeds, min_only=True,
                                     return_predecessors=True)
    lookup = np.full(n_nodes, -1, dtype=np.int64)
    lookup[seeds] = np.arange(len(seeds))
    labels = lookup[np.asarray(sources, dtype=np.int64)]
    if (labels < 0).any():
        raise RuntimeError("internal error: a region is not connected to any seed")
    return labels


def _communities_from_cells(rng: np.random.Generator, cells: _Cells, n: int) -> IntArray:
    """Community index of every fine cell (-1 outside the city)."""
    idx = np.flatnonzero(cells.inside)
    local = np.full(len(cells.seeds), -1, dtype=np.int64)
    local[idx] = np.arange(len(idx))
    p = cells.ridge_points
    both = cells.inside[p[:, 0]] & cells.inside[p[:, 1]]
    e = local[p[both]]
    length = np.hypot(*(cells.seeds[p[both, 0]] - cells.seeds[p[both, 1]]).T)
    weights = length * rng.uniform(0.5, 1.8, len(e))
    seeds = _pick_spread(rng, cells.seeds[idx], n)
    labels = np.full(len(cells.seeds), -1, dtype=np.int64)
    labels[idx] = _grow(len(idx), e, weights, seeds)
    return labels


def _region_graph(labels: IntArray, pairs: IntArray) -> IntArray:
    """Return the unique pairs (a < b) of labels that share an edge."""
    a, b = labels[pairs[:, 0]], labels[pairs[:, 1]]
    keep = (a >= 0) & (b >= 0) & (a != b)
    e = np.sort(np.column_stack([a[keep], b[keep]]), axis=1)
    return np.unique(e, axis=0)


def _group(rng: np.random.Generator, centres: FloatArray, edges: IntArray, k: int, *,
           west_to_east: bool = False) -> IntArray:
    """Group nodes (with centres) into ``k`` connected regions.

    With ``west_to_east`` the regions grow from nodes evenly spaced in west-east order (the
    westernmost and easternmost for two), so they come out as west-east strips.
    """
    if west_to_east:
        by_x = np.argsort(centres[:, 0], kind="stable")
        seeds = by_x[np.round(np.linspace(0, len(centres) - 1, k)).astype(np.int64)]
    else:
        seeds = _pick_spread(rng, centres, k)
    length = np.hypot(*(centres[edges[:, 0]] - centres[edges[:, 1]]).T)
    return _grow(len(centres), edges, length * rng.uniform(0.7, 1.4, len(edges)), seeds)


@dataclass(frozen=True)
class _Hierarchy:
    """Codes of each community index, and its subdistrict and district."""

    community_code: list[str]
    subdistrict_code: list[str]
    district_code: list[str]
    subdistrict_of: IntArray
    district_of: IntArray
    district_names: list[str]
    centres: FloatArray  # community centres (mean of their fine seeds), metric


def _hierarchy(rng: np.random.Generator, cells: _Cells, labels: IntArray, n: int,
               n_sub: int, n_dist: int) -> _Hierarchy:
    inside = labels >= 0
    counts = np.bincount(labels[inside], minlength=n)
    centres = np.column_stack([
        np.bincount(labels[inside], weights=cells.seeds[inside, 0], minlength=n) / counts,
        np.bincount(labels[inside], weights=cells.seeds[inside, 1], minlength=n) / counts,
    ])
    comm_edges = _region_graph(labels, cells.ridge_points)
    sub_of = _group(rng, centres, comm_edges, n_sub)
    sub_centres = _mean_by(centres, sub_of, n_sub)
    sub_edges = _region_graph(sub_of, comm_edges)
    dist_of_sub = (_group(rng, sub_centres, sub_edges, n_dist, west_to_east=True) if n_dist > 1
                   else np.zeros(n_sub, dtype=np.int64))
    dist_centres = _mean_by(sub_centres, dist_of_sub, n_dist)
    # Districts west to east; subdistricts and communities north to south, then west to east.
    dist_rank = _rank(dist_centres[:, 0])
    dist_codes = [str(_DISTRICT_CODE_FIRST + r) for r in dist_rank]
    sub_codes = [""] * n_sub
    for d in range(n_dist):
        members = np.flatnonzero(dist_of_sub == d)
        order = members[np.lexsort((sub_centres[members, 0], -sub_centres[members, 1]))]
        for j, s in enumerate(order):
            sub_codes[s] = f"{dist_codes[d]}{j + 1:03d}"
    comm_codes = [""] * n
    for s in range(n_sub):
        members = np.flatnonzero(sub_of == s)
        order = members[np.lexsort((centres[members, 0], -centres[members, 1]))]
        for j, c in enumerate(order):
            comm_codes[c] = f"{sub_codes[s]}{j + 1:03d}"
    district_of = dist_of_sub[sub_of]
    return _Hierarchy(comm_codes, [sub_codes[s] for s in sub_of],
                      [dist_codes[d] for d in district_of], sub_of, district_of,
                      [_DISTRICT_NAMES[r] for r in dist_rank], centres)


def _mean_by(xy: FloatArray, labels: IntArray, k: int) -> FloatArray:
    counts = np.bincount(labels, minlength=k)
    return np.column_stack([np.bincount(labels, weights=xy[:, 0], minlength=k) / counts,
                            np.bincount(labels, weights=xy[:, 1], minlength=k) / counts])


def _rank(values: FloatArray) -> list[int]:
    ranks = np.empty(len(values), dtype=np.int64)
    ranks[np.argsort(values, kind="stable")] = np.arange(len(values))
    return [int(r) for r in ranks]


# --- boundaries: the line network and the faces ----------------------------------------------


@dataclass(frozen=True)
class _Noise:
    """A smooth displacement field: per axis, a sum of plane sine waves."""

    amplitude_m: FloatArray  # (2, k)
    wavenumber: FloatArray  # (2, k), radians per metre
    direction: FloatArray  # (2, k, 2), unit vectors
    phase: FloatArray  # (2, k)

    def displace(self, xy: FloatArray) -> FloatArray:
        out = xy.copy()
        for axis in range(2):
            for j in range(self.amplitude_m.shape[1]):
                ux, uy = self.direction[axis, j]
                arg = (xy[:, 0] * ux + xy[:, 1] * uy) * self.wavenumber[axis, j]
                out[:, axis] += self.amplitude_m[axis, j] * np.sin(arg + self.phase[axis, j])
        return out


def _noise(rng: np.random.Generator) -> _Noise:
    k = len(_NOISE_COMPONENTS)
    amp = np.array([[a for a, _ in _NOISE_COMPONENTS]] * 2)
    wavelength = np.array([[w for _, w in _NOISE_COMPONENTS]] * 2) * rng.uniform(0.9, 1.0, (2, k))
    theta = rng.uniform(0.0, 2.0 * np.pi, (2, k))
    direction = np.stack([np.cos(theta), np.sin(theta)], axis=-1)
    phase = rng.uniform(0.0, 2.0 * np.pi, (2, k))
    return _Noise(amp, 2.0 * np.pi / wavelength, direction, phase)


def _snap_vertices(vertices: FloatArray, used: IntArray) -> IntArray:
    """Map each vertex to a representative, merging vertices closer than ``_SNAP_M``."""
    rep = np.arange(len(vertices))
    close = cKDTree(vertices[used]).query_pairs(_SNAP_M, output_type="ndarray")
    if len(close):
        n = len(used)
        g = sparse.coo_matrix((np.ones(len(close)), (close[:, 0], close[:, 1])), shape=(n, n))
        _, comp = csgraph.connected_components(g, directed=False)
        first = np.full(comp.max() + 1, -1, dtype=np.int64)
        for i in range(n - 1, -1, -1):  # smallest member of each component represents it
            first[comp[i]] = used[i]
        rep[used] = first[comp]
    return rep


def _community_geometries(rng: np.random.Generator, cells: _Cells, labels: IntArray,
                          metric: pyproj.CRS, spacing_m: float) -> list[BaseGeometry]:
    """Build the displaced community polygons (EPSG:4326), in community index order."""
    a, b = labels[cells.ridge_points[:, 0]], labels[cells.ridge_points[:, 1]]
    boundary = (a != b) & (np.maximum(a, b) >= 0)
    rv = cells.ridge_vertices[boundary]
    if (rv < 0).any():
        raise RuntimeError("internal error: a city boundary edge reaches infinity")
    rep = _snap_vertices(cells.vertices, np.unique(rv))
    rv = rep[rv]
    rv = rv[rv[:, 0] != rv[:, 1]]
    start, end = cells.vertices[rv[:, 0]], cells.vertices[rv[:, 1]]
    length = np.hypot(*(end - start).T)
    pieces = np.maximum(1, np.ceil(length / spacing_m)).astype(np.int64)
    n_pts = pieces + 1
    line_of = np.repeat(np.arange(len(rv)), n_pts)
    first = np.concatenate([[0], np.cumsum(n_pts)[:-1]])
    t = (np.arange(len(line_of)) - first[line_of]) / pieces[line_of]
    xy = start[line_of] + t[:, None] * (end - start)[line_of]
    xy[first + pieces] = end  # exact shared endpoints (start + 1 * (end - start) may differ)

    noise = _noise(rng)
    to_wgs = pyproj.Transformer.from_crs(metric, _WGS84, always_xy=True)

    def place(points: FloatArray) -> FloatArray:
        # Each distinct vertex is displaced, projected and rounded once, so identical input
        # vertices (shared by neighbours) give identical output vertices.
        uniq, inverse = np.unique(points, axis=0, return_inverse=True)
        moved = noise.displace(uniq)
        lon, lat = to_wgs.transform(moved[:, 0], moved[:, 1])
        return np.round(np.column_stack([lon, lat]), _COORD_DECIMALS)[inverse.ravel()]

    lines = cast("NDArray[np.object_]", shapely.linestrings(place(xy), indices=line_of))
    faces, cuts, dangles, invalid = shapely.polygonize_full(lines)
    if not (shapely.is_empty(cuts) and shapely.is_empty(dangles) and shapely.is_empty(invalid)):
        raise RuntimeError("internal error: the boundary network does not polygonize cleanly")
    face_arr = shapely.get_parts(faces)
    inside = np.flatnonzero(labels >= 0)
    seed_pts = shapely.points(place(cells.seeds[inside]))
    pt_idx, face_idx = shapely.STRtree(face_arr).query(seed_pts, predicate="within")
    face_label = np.full(len(face_arr), -1, dtype=np.int64)
    seed_label = labels[inside][pt_idx]
    face_label[face_idx] = seed_label
    if (face_label < 0).any() or (face_label[face_idx] != seed_label).any():
        raise RuntimeError("internal error: faces and communities do not match one to one")
    n = int(labels.max()) + 1
    geoms: list[BaseGeometry] = []
    for c in range(n):
        parts = face_arr[face_label == c]
        if len(parts) == 0:
            raise RuntimeError(f"internal error: community {c} has no face")
        geom = parts[0] if len(parts) == 1 else shapely.multipolygons(list(parts))
        geoms.append(shapely.orient_polygons(geom))
    return geoms


def _community_frame(rng: np.random.Generator, geoms: list[BaseGeometry], h: _Hierarchy,
                     n: int) -> gpd.GeoDataFrame:
    names = _unique_names(rng, n, _COMMUNITY_SUFFIXES)
    n_sub = int(h.subdistrict_of.max()) + 1
    sub_names = _unique_names(rng, n_sub, _SUBDISTRICT_SUFFIXES)
    pop = np.exp(rng.normal(math.log(8500.0), 0.42, n))
    small = rng.choice(n, max(3, n // 40), replace=False)
    pop[small] = rng.uniform(2000.0, 2600.0, len(small))
    pop = np.clip(np.round(pop), 2000.0, 20000.0)
    households = np.round(pop / 2.6 * rng.uniform(0.95, 1.05, n))
    frame = pd.DataFrame({
        "code": h.community_code,
        "name": [f"{x}社区" for x in names],
        "subdistrict_code": h.subdistrict_code,
        "subdistrict": [f"{sub_names[s]}街道" for s in h.subdistrict_of],
        "district_code": h.district_code,
        "district": [h.district_names[d] for d in h.district_of],
        "population": pop,
        "households": households,
    })
    gdf = _canonical(frame, "communities", geoms)
    return gdf.sort_values("code", kind="stable").reset_index(drop=True)


def _canonical(frame: pd.DataFrame, layer: str, geometry: Any,
               crs: Any = _WGS84) -> gpd.GeoDataFrame:
    """Cast ``frame`` to the layer's canonical columns and dtypes, plus ``geometry``."""
    return gpd.GeoDataFrame(_cast(frame, layer), geometry=gpd.GeoSeries(list(geometry)), crs=crs)


def _cast(frame: pd.DataFrame, layer: str) -> dict[str, pd.Series]:
    """Return the layer's canonical columns of ``frame``, in order, with canonical dtypes."""
    spec = layer_spec(layer)
    cols: dict[str, pd.Series] = {}
    for f in spec.fields:
        s = frame[f.name] if f.name in frame else pd.Series([None] * len(frame))
        if f.type in ("str", "measures"):
            cols[f.name] = pd.Series(np.asarray(s, dtype=object)).astype("string")
            continue
        s = pd.Series(s.to_numpy())
        if f.type == "float":
            cols[f.name] = s.astype("float64")
        elif f.type == "int":
            cols[f.name] = s.astype("Int64")
        elif f.type == "datetime":
            cols[f.name] = pd.Series(pd.to_datetime(s, utc=True)).astype("datetime64[ns, UTC]")
        else:
            cols[f.name] = pd.Series(pd.to_datetime(s)).astype("datetime64[ns]")
    return cols


def _to_wgs84(frame_m: gpd.GeoDataFrame, layer: str) -> gpd.GeoDataFrame:
    """Project a metric frame to EPSG:4326, round coordinates to 1e-7 degrees, cast."""
    geoms = np.asarray(frame_m.to_crs(_WGS84).geometry.array, dtype=object)
    present = ~shapely.is_missing(geoms)
    rounded = geoms.copy()
    rounded[present] = shapely.set_precision(geoms[present], 10.0 ** -_COORD_DECIMALS)
    return _canonical(pd.DataFrame(frame_m.drop(columns="geometry")), layer, rounded)


# --- the other layers --------------------------------------------------------------------------


def _quality(rng: np.random.Generator, comm_m: gpd.GeoDataFrame) -> FloatArray:
    """Latent quality per community: a smooth spatial trend plus local noise, standardised."""
    centre = shapely.get_coordinates(comm_m.geometry.representative_point())
    span = float(np.ptp(centre[:, 0]) + np.ptp(centre[:, 1])) / 2.0
    trend = np.zeros(len(centre))
    for _ in range(4):
        c = centre[rng.integers(len(centre))]
        d2 = ((centre - c) ** 2).sum(axis=1)
        trend += rng.choice([-1.0, 1.0]) * np.exp(-d2 / (2.0 * (0.25 * span) ** 2))
    q = 0.8 * trend / (trend.std() or 1.0) + rng.normal(0.0, 0.7, len(centre))
    return (q - q.mean()) / q.std()


def _population_by_year(rng: np.random.Generator,
                        communities: gpd.GeoDataFrame) -> pd.DataFrame:
    pop_2025 = communities["population"].to_numpy()
    pop_2024 = np.round(pop_2025 * (1.0 + rng.normal(-0.015, 0.025, len(pop_2025))))
    codes = communities["code"].astype(str).to_list()
    frame = pd.DataFrame({
        "code": codes + codes,
        "year": [2024] * len(codes) + [2025] * len(codes),
        "population": np.concatenate([pop_2024, pop_2025]),
    }).sort_values(["code", "year"], kind="stable").reset_index(drop=True)
    return pd.DataFrame(_cast(frame, "population"))


def _points_in(rng: np.random.Generator, polygon: BaseGeometry, n: int) -> FloatArray:
    """``n`` uniform random points inside ``polygon`` (rejection sampling in its bounds)."""
    if n <= 0:
        return np.empty((0, 2))
    x0, y0, x1, y1 = polygon.bounds
    ratio = (x1 - x0) * (y1 - y0) / max(polygon.area, 1e-9)
    shapely.prepare(polygon)
    chunks: list[FloatArray] = []
    got = 0
    while got < n:
        m = int((n - got) * ratio * 1.3) + 16
        x, y = rng.uniform(x0, x1, m), rng.uniform(y0, y1, m)
        ok = shapely.contains_xy(polygon, x, y)
        chunks.append(np.column_stack([x[ok], y[ok]]))
        got += int(ok.sum())
    return np.concatenate(chunks)[:n]


def _dates(rng: np.random.Generator, start: str, end: str, n: int) -> pd.Series:
    """``n`` uniform random calendar dates in [start, end]."""
    d0, d1 = np.datetime64(start, "D"), np.datetime64(end, "D")
    days = rng.integers(0, int((d1 - d0).astype(int)) + 1, n)
    return pd.Series((d0 + days).astype("datetime64[ns]"))


def _sigmoid(x: FloatArray) -> FloatArray:
    return 1.0 / (1.0 + np.exp(-x))


def _roots(names: pd.Series) -> list[str]:
    return [str(s).removesuffix("社区") for s in names]


def _compounds(rng: np.random.Generator, comm_m: gpd.GeoDataFrame,
               quality: FloatArray) -> gpd.GeoDataFrame:
    """Residential compounds, units, schools… inside the communities, with their measures."""
    n = len(comm_m)
    mean_area = float(comm_m.area.mean())
    rows: list[dict[str, Any]] = []
    geoms: list[BaseGeometry] = []
    taken_names: set[str] = set()
    roots = _unique_names(rng, _n_roots(), ("",))
    for c in range(n):
        poly = comm_m.geometry.iloc[c]
        inner = poly.buffer(-8.0)
        core = poly.buffer(-40.0)
        if core.is_empty:
            continue
        scale = math.sqrt(poly.area / mean_area)
        k = 2 + int(rng.poisson(2.3))
        placed: list[BaseGeometry] = []
        kinds = rng.choice(len(_COMPOUND_KINDS), k, p=_COMPOUND_KIND_SHARE)
        for kind_i in kinds:
            kind = _COMPOUND_KINDS[int(kind_i)]
            for _ in range(30):
                cx, cy = _points_in(rng, core, 1)[0]
                w, h = rng.uniform(70.0, 230.0) * scale, rng.uniform(50.0, 170.0) * scale
                rect = shapely.box(cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2)
                if rng.random() < 0.4:  # cut a corner: not every compound is a rectangle
                    cut = rng.uniform(0.2, 0.5)
                    rect = rect.difference(shapely.Polygon([
                        (cx + w / 2 - cut * w, cy + h / 2), (cx + w / 2, cy + h / 2),
                        (cx + w / 2, cy + h / 2 - cut * h)]))
                shape = affinity.rotate(rect, float(rng.uniform(-40.0, 40.0)))
                shape = shape.intersection(inner)
                if (shape.geom_type != "Polygon" or shape.area < 2500.0
                        or any(shape.distance(o) < 10.0 for o in placed)):
                    continue
                placed.append(shape)
                as_point = rng.random() < (0.06 if kind == "residential" else 0.5)
                geoms.append(shape.representative_point() if as_point else shape)
                root = roots[len(rows) % len(roots)]
                rows.append({"community": c, "kind": kind, "area": shape.area,
                             "name": _compound_name(rng, root, kind, taken_names)})
                break
    frame = pd.DataFrame(rows)
    frame["population"] = 0.0
    frame["households"] = 0.0
    pop = comm_m["population"].to_numpy()
    residential = frame.index[frame["kind"] == "residential"]
    owners = frame.loc[residential, "community"].to_numpy()
    for owner in np.unique(owners):
        idx = residential[owners == owner]
        share = frame.loc[idx, "area"].to_numpy() * rng.uniform(0.7, 1.3, len(idx))
        share = share / share.sum() * rng.uniform(0.45, 0.9)
        people = np.floor(share * pop[int(owner)])
        frame.loc[idx, "population"] = people
        frame.loc[idx, "households"] = np.round(people / 2.6 * rng.uniform(0.95, 1.05, len(idx)))
    q = quality[frame["community"].to_numpy()]
    eps = rng.normal(0.0, 0.5, len(frame))
    present = np.column_stack([
        rng.random(len(frame)) < _sigmoid(_MEASURE_LOGIT[m] + 1.5 * q + eps) for m in _MEASURES])
    frame["measures"] = [",".join(sorted(m for m, p in zip(_MEASURES, row, strict=True) if p))
                         for row in present]
    frame["id"] = [f"C{i + 1:05d}" for i in range(len(frame))]
    frame["removed_on"] = pd.Series([pd.NaT] * len(frame), dtype="datetime64[ns]")
    removed = rng.choice(len(frame), 2, replace=False)
    frame.loc[removed, "removed_on"] = _dates(rng, "2025-03-01", "2025-10-31", 2).to_numpy()
    out = _canonical(frame, "compounds", geoms, crs=comm_m.crs)
    out["community"] = frame["community"].to_numpy()
    return out


def _compound_name(rng: np.random.Generator, root: str, kind: str, taken: set[str]) -> str:
    suffixes = {
        "residential": ("小区", "家园", "花园", "苑", "公寓", "新村", "嘉园", "北里", "西里"),
        "unit": ("大厦", "科技有限公司", "商务中心", "物流园"),
        "school": ("小学", "中学", "幼儿园"),
        "hospital": ("医院", "中医医院"),
        "market": ("市场", "农贸市场", "商城"),
    }[kind]
    base = root + suffixes[int(rng.integers(len(suffixes)))]
    name, k = base, 1
    while name in taken:  # one name per compound: further phases of a name get a number
        k += 1
        name = f"{base}{_CHINESE_ORDINALS[k] if k < len(_CHINESE_ORDINALS) else k}期"
    taken.add(name)
    return name


def _devices(rng: np.random.Generator, comm_m: gpd.GeoDataFrame,
             compounds_m: gpd.GeoDataFrame, quality: FloatArray) -> gpd.GeoDataFrame:
    """Cameras and other devices; density follows quality, some near compound edges."""
    n = len(comm_m)
    area = comm_m.area.to_numpy()
    weight = np.exp(0.9 * quality) * np.sqrt(area / area.mean())
    counts = rng.poisson(_DEVICES_PER_COMMUNITY * weight / weight.mean())
    kinds = list(_DEVICE_KIND_SHARE)
    comp_of = compounds_m["community"].to_numpy()
    xs: list[FloatArray] = []
    owner: list[IntArray] = []
    for c in range(n):
        k = int(counts[c])
        pts = _points_in(rng, comm_m.geometry.iloc[c], k)
        mine = compounds_m.geometry.to_numpy()[comp_of == c]
        polys = [g for g in mine if g.geom_type == "Polygon"]
        if polys:  # about a third of the devices sit on compound edges (entrances, walls)
            near = rng.random(k) < 0.35
            for i in np.flatnonzero(near):
                ring = polys[int(rng.integers(len(polys)))].exterior
                p = ring.interpolate(float(rng.random()), normalized=True)
                pts[i] = (p.x, p.y)
        xs.append(pts)
        owner.append(np.full(k, c, dtype=np.int64))
    xy = np.concatenate(xs)
    comm = np.concatenate(owner)
    m = len(xy)
    kind = np.array(kinds, dtype=object)[rng.choice(len(kinds), m,
                                                    p=list(_DEVICE_KIND_SHARE.values()))]
    directional = np.isin(kind, ["camera", "face", "plate"])
    circular = np.isin(kind, ["dome", "ptz"])
    azimuth = np.where(directional, np.round(rng.uniform(0.0, 360.0, m)) % 360.0, np.nan)
    fov = np.where(kind == "camera", np.round(rng.uniform(60.0, 100.0, m)),
                   np.where(directional, np.round(rng.uniform(40.0, 60.0, m)), np.nan))
    range_m = np.where(directional | circular, np.round(rng.uniform(30.0, 80.0, m)), np.nan)
    range_m[(directional | circular) & (rng.random(m) < 0.1)] = np.nan  # default by kind
    faulty = rng.random(m) < _sigmoid(-2.6 - 0.6 * quality[comm])
    installed = _dates(rng, "2012-01-01", "2023-12-31", m)
    when = rng.random(m)
    installed[when < 0.07] = _dates(rng, "2024-01-01", "2024-12-31", m)[when < 0.07]
    new_2025 = when > 0.92
    installed[new_2025] = _dates(rng, "2025-01-01", "2025-11-30", m)[new_2025]
    removed = pd.Series([pd.NaT] * m, dtype="datetime64[ns]")
    gone = (rng.random(m) < 0.015) & (installed < pd.Timestamp("2024-01-01")).to_numpy()
    removed[gone] = _dates(rng, "2024-02-01", "2025-11-30", m)[gone]
    frame = pd.DataFrame({
        "id": [f"D{i + 1:06d}" for i in range(m)],
        "kind": kind,
        "azimuth_deg": azimuth,
        "fov_deg": fov,
        "range_m": range_m,
        "status": np.where(faulty, "faulty", "working"),
        "installed_on": installed,
        "removed_on": removed,
    })
    return _canonical(frame, "devices", shapely.points(xy), crs=comm_m.crs)


def _facilities(rng: np.random.Generator, comm_m: gpd.GeoDataFrame,
                quality: FloatArray) -> tuple[gpd.GeoDataFrame, NDArray[np.bool_]]:
    """Facilities by type, with a few communities left uncovered on purpose."""
    n = len(comm_m)
    geoms = comm_m.geometry.to_numpy()
    centres = shapely.get_coordinates(comm_m.geometry.representative_point())
    # Gap communities: among the lowest quality, not touching each other.
    n_gap = max(2, round(0.04 * n))
    gap = np.zeros(n, dtype=bool)
    for c in np.argsort(quality + rng.normal(0.0, 0.3, n), kind="stable"):
        if gap.sum() == n_gap:
            break
        if not any(geoms[int(c)].distance(geoms[g]) < 300.0 for g in np.flatnonzero(gap)):
            gap[c] = True
    exclusion = shapely.union_all(shapely.buffer(geoms[gap], _GAP_BUFFER_M))
    allowed = [g.difference(exclusion) for g in geoms]
    roots = _roots(comm_m["name"])
    sub_roots = [str(s).removesuffix("街道") for s in comm_m["subdistrict"]]
    rows: list[tuple[str, str, int]] = []  # type, name, community

    def place(kind: str, c: int, name: str) -> None:
        if not allowed[c].is_empty and allowed[c].area > 100.0:
            rows.append((kind, name, c))

    for c in range(n):
        if gap[c]:
            continue
        if rng.random() < _sigmoid(1.7 + 1.4 * quality[c]):
            place("police_office", c, f"{roots[c]}社区警务室")
        if rng.random() < _sigmoid(2.0 + 1.2 * quality[c]):
            place("service_station", c, f"{roots[c]}社区服务站")
        if rng.random() < _sigmoid(-0.3 + 1.0 * quality[c]):
            place("health_station", c, f"{roots[c]}社区卫生服务站")
    sub_codes = comm_m["subdistrict_code"].astype(str).to_numpy()
    for s in sorted(set(sub_codes)):
        members = np.flatnonzero((sub_codes == s) & ~gap)
        if len(members) == 0:
            continue
        c = int(members[np.argmax(quality[members] + rng.normal(0.0, 0.5, len(members)))])
        place("health_center", c, f"{sub_roots[c]}社区卫生服务中心")
    stations: set[str] = set()
    for c in _pick_spread(rng, centres, max(1, len(set(sub_codes)) // 2)):
        # Named after its subdistrict, or its community when the subdistrict has one already.
        name = f"{sub_roots[int(c)]}派出所"
        name = f"{roots[int(c)]}派出所" if name in stations else name
        stations.add(name)
        place("police_station", int(c), name)
    fire_names = _unique_names(rng, 2, ("",))
    for c, name in zip(_pick_spread(rng, centres, 2), fire_names, strict=True):
        rows.append(("fire_station", f"{name}消防救援站", int(c)))
    pts = [_points_in(rng, allowed[c] if t != "fire_station" else geoms[c], 1)[0]
           for t, _, c in rows]
    m = len(rows)
    opened = _dates(rng, "2003-01-01", "2023-12-31", m)
    late = np.flatnonzero([t == "service_station" for t, _, _ in rows])
    newest = rng.choice(late, min(3, len(late)), replace=False)
    opened[newest] = _dates(rng, "2025-02-01", "2025-09-30", len(newest)).to_numpy()
    closed = pd.Series([pd.NaT] * m, dtype="datetime64[ns]")
    offices = np.flatnonzero([t in ("police_office", "health_station") for t, _, _ in rows])
    shut = rng.choice(offices, min(2, len(offices)), replace=False)
    closed[shut] = _dates(rng, "2024-06-01", "2025-06-30", len(shut)).to_numpy()
    frame = pd.DataFrame({
        "id": [f"F{i + 1:04d}" for i in range(m)],
        "type": [t for t, _, _ in rows],
        "name": [nm for _, nm, _ in rows],
        "opened_on": opened,
        "closed_on": closed,
    })
    return _canonical(frame, "facilities", shapely.points(np.array(pts)), crs=comm_m.crs), gap


def _hour_profile(category: str) -> FloatArray:
    h = np.arange(24.0)
    day = np.exp(-((h - 15.0) ** 2) / (2 * 4.0 ** 2))
    evening = np.exp(-((h - 21.0) ** 2) / (2 * 2.5 ** 2))
    night = np.exp(-(((h + 3.0) % 24.0 - 4.0) ** 2) / (2 * 2.5 ** 2))
    mix = {
        "theft": (1.0, 0.6, 0.1), "fraud": (1.2, 0.3, 0.05), "burglary": (0.8, 0.2, 0.6),
        "vehicle_theft": (0.2, 0.3, 1.0), "assault": (0.2, 1.0, 0.6),
        "vandalism": (0.2, 0.6, 0.8), "robbery": (0.2, 0.8, 0.7),
    }[category]
    w = 0.04 + mix[0] * day + mix[1] * evening + mix[2] * night
    return w / w.sum()


def _day_weights(category: str, days: pd.DatetimeIndex) -> FloatArray:
    month = days.month.to_numpy()
    season = 1.0 + 0.18 * np.cos(2.0 * np.pi * (month - 7) / 12.0)
    if category == "burglary":  # empty homes over the Spring Festival holiday
        season = season + 0.45 * (month == 2)
    if category == "fraud":
        season = 1.0 + 0.15 * np.cos(2.0 * np.pi * (month - 12) / 12.0)
    weekend = days.day_of_week.to_numpy() >= 5
    if category == "fraud":
        week = np.where(weekend, 0.7, 1.1)
    elif category in ("assault", "theft", "vandalism"):
        week = np.where(weekend, 1.25, 0.95)
    else:
        week = np.ones(len(days))
    w = season * week
    return w / w.sum()


def _incidents(rng: np.random.Generator, comm_m: gpd.GeoDataFrame,
               quality: FloatArray) -> tuple[gpd.GeoDataFrame, FloatArray, NDArray[np.bool_]]:
    """Incidents of 2024-2025 with trends, hot spots and the usual imperfections."""
    n = len(comm_m)
    polys = comm_m.geometry.to_numpy()
    pop = comm_m["population"].to_numpy()
    # The representative point of each WGS84 polygon (what a reader of the files would compute),
    # in metric coordinates: after the round trip it rounds back to the same point.
    reps = shapely.get_coordinates(
        comm_m.to_crs(_WGS84).geometry.representative_point().to_crs(comm_m.crs).to_numpy())
    city = shapely.union_all(polys)
    shapely.prepare(city)
    level = np.exp(-0.45 * quality + rng.normal(0.0, 0.25, n))
    level /= level.mean()
    # Planted trends: a few communities double, two halve, the rest drift a little.
    factor = np.clip(rng.normal(0.98, 0.03, n), 0.9, 1.06)
    n_rising, n_falling = max(3, n // 25), max(2, n // 60)
    big = np.flatnonzero(pop >= 6000)  # large enough for a doubling to be significant
    candidates = big if len(big) >= n_rising + n_falling else np.arange(n)
    picks = rng.choice(candidates, n_rising + n_falling, replace=False)
    rising, falling = picks[:n_rising], picks[n_rising:]
    factor[rising] = rng.uniform(2.0, 2.4, len(rising))
    factor[falling] = rng.uniform(0.45, 0.55, len(falling))
    # Hot spots: Gaussian clusters centred in low-quality communities far apart.
    n_hot = 4
    order = np.argsort(quality, kind="stable")
    hot_centres: list[FloatArray] = []
    for c in order:
        if len(hot_centres) == n_hot:
            break
        if c in rising or c in falling:
            continue
        if all(np.hypot(*(reps[c] - h)) > 2500.0 for h in hot_centres):
            hot_centres.append(reps[c])
    hot_sigma = rng.uniform(220.0, 380.0, len(hot_centres))
    hot_count = rng.integers(1500, 2300, len(hot_centres))

    xs: list[FloatArray] = []
    owner: list[IntArray] = []
    years: list[IntArray] = []
    source: list[IntArray] = []  # 0 background, 1 hot spot
    for year, yf in ((2024, np.ones(n)), (2025, factor)):
        lam = pop / 1e4 * _BASE_RATE_PER_10K_YEAR * level * yf
        counts = rng.poisson(lam)
        for c in range(n):
            xs.append(_points_in(rng, polys[c], int(counts[c])))
            owner.append(np.full(int(counts[c]), c, dtype=np.int64))
            years.append(np.full(int(counts[c]), year, dtype=np.int64))
            source.append(np.zeros(int(counts[c]), dtype=np.int64))
        for centre, sigma, total in zip(hot_centres, hot_sigma, hot_count, strict=True):
            k = int(total) // 2
            pts = centre + rng.normal(0.0, sigma, (3 * k, 2))
            pts = pts[shapely.contains_xy(city, pts[:, 0], pts[:, 1])][:k]
            xs.append(pts)
            owner.append(np.full(len(pts), -1, dtype=np.int64))
            years.append(np.full(len(pts), year, dtype=np.int64))
            source.append(np.ones(len(pts), dtype=np.int64))
    xy = np.concatenate(xs)
    comm = np.concatenate(owner)
    year_of = np.concatenate(years)
    hot_src = np.concatenate(source) == 1
    # Hot-spot points lie inside the city: the nearest community is the one containing them.
    pt_idx, poly_idx = shapely.STRtree(polys).query_nearest(shapely.points(xy[hot_src]))
    comm[np.flatnonzero(hot_src)[pt_idx]] = poly_idx

    # Points beyond the city outline (a mistyped coordinate, a neighbouring town).
    n_out = int(rng.integers(8, 16))
    out_pts: list[FloatArray] = []
    x0, y0, x1, y1 = city.bounds
    while len(out_pts) < n_out:
        p = rng.uniform([x0 - 3000.0, y0 - 3000.0], [x1 + 3000.0, y1 + 3000.0])
        if 300.0 < city.distance(shapely.Point(p)) < 3000.0:
            out_pts.append(p)
    xy = np.vstack([xy, np.array(out_pts)])
    comm = np.concatenate([comm, np.full(n_out, -1)])
    year_of = np.concatenate([year_of, rng.choice([2024, 2025], n_out)])
    hot_src = np.concatenate([hot_src, np.zeros(n_out, dtype=bool)])
    m = len(xy)

    category = np.empty(m, dtype=object)
    cat_idx = np.where(hot_src, rng.choice(len(_CATEGORIES), m, p=_HOTSPOT_CATEGORY_SHARE),
                       rng.choice(len(_CATEGORIES), m, p=_CATEGORY_SHARE))
    category[:] = np.array(_CATEGORIES, dtype=object)[cat_idx]
    local = np.empty(m, dtype="datetime64[s]")
    for year in (2024, 2025):
        days = pd.date_range(f"{year}-01-01", f"{year}-12-31", freq="D")
        for ci, cat in enumerate(_CATEGORIES):
            sel = np.flatnonzero((year_of == year) & (cat_idx == ci))
            day = rng.choice(len(days), len(sel), p=_day_weights(cat, days))
            hour = rng.choice(24, len(sel), p=_hour_profile(cat))
            sec = rng.integers(0, 3600, len(sel))
            local[sel] = (days.to_numpy().astype("datetime64[s]")[day]
                          + (hour * 3600 + sec).astype("timedelta64[s]"))
    solved_p = _sigmoid(-0.45 + 0.3 * quality[np.maximum(comm, 0)])
    u = rng.random(m)
    status = np.where(u < 0.04, "withdrawn", np.where(u < 0.07, "unfounded",
                      np.where(rng.random(m) < solved_p, "solved", "filed")))

    # Imperfect locations: geocoded addresses, community centroids, and no coordinates.
    u = rng.random(m)
    inside_rows = (comm >= 0) & ~hot_src
    precision = np.where(u < 0.075, "address", "exact").astype(object)
    snapped = np.round(xy / 60.0) * 60.0  # an address point: the building's, not the event's
    use_snap = (precision == "address") & shapely.contains_xy(city, snapped[:, 0],
                                                              snapped[:, 1])
    xy[use_snap] = snapped[use_snap]
    precision[(precision == "address") & ~use_snap] = "exact"
    centroid = inside_rows & (u > 0.985)
    precision[centroid] = "centroid"
    xy[centroid] = reps[comm[centroid]]
    no_xy = inside_rows & (u > 0.075) & (u < 0.08)
    precision[no_xy] = None
    community_code = np.full(m, None, dtype=object)
    codes = comm_m["code"].astype(str).to_numpy()
    community_code[no_xy] = codes[comm[no_xy]]

    address = _addresses(rng, comm_m, comm, precision)
    order = np.lexsort((np.arange(m), local))
    local, xy, no_xy = local[order], xy[order], no_xy[order]
    year_sorted = local.astype("datetime64[Y]").astype(int) + 1970
    seq = np.zeros(m, dtype=np.int64)
    for year in (2024, 2025):
        sel = year_sorted == year
        seq[sel] = np.arange(1, int(sel.sum()) + 1)
    occurred = (pd.DatetimeIndex(local).tz_localize(DEFAULT_TIMEZONE).tz_convert("UTC"))
    frame = pd.DataFrame({
        "id": [f"A{y}{s:06d}" for y, s in zip(year_sorted, seq, strict=True)],
        "occurred_at": occurred,
        "category": category[order],
        "status": status[order],
        "address": address[order],
        "location_precision": precision[order],
        "community_code": community_code[order],
    })
    geoms = np.full(m, None, dtype=object)
    geoms[~no_xy] = shapely.points(xy[~no_xy])
    hot_comm = np.zeros(n, dtype=bool)
    for centre, sigma in zip(hot_centres, hot_sigma, strict=True):
        hot_comm |= shapely.distance(shapely.points(centre), polys) <= sigma
    return _canonical(frame, "incidents", geoms, crs=comm_m.crs), factor, hot_comm


def _addresses(rng: np.random.Generator, comm_m: gpd.GeoDataFrame, comm: IntArray,
               precision: NDArray[Any]) -> NDArray[Any]:
    """Synthetic Chinese addresses: a road of the community and a house number."""
    roots = _roots(comm_m["name"])
    districts = comm_m["district"].astype(str).to_numpy()
    names = comm_m["name"].astype(str).to_numpy()
    m = len(comm)
    road = rng.integers(0, len(_ROAD_SUFFIXES), m)
    number = rng.integers(1, 220, m)
    building = rng.integers(1, 25, m)
    outer = _unique_names(rng, 6, ("村", "庄", "屯"))
    out = np.empty(m, dtype=object)
    for i in range(m):
        c = int(comm[i])
        if c < 0:
            out[i] = f"北京市{outer[i % len(outer)]}{int(number[i])}号"
        elif precision[i] == "centroid" or precision[i] is None:
            out[i] = f"北京市{districts[c]}{names[c]}"
        else:
            out[i] = (f"北京市{districts[c]}{roots[c]}{_ROAD_SUFFIXES[int(road[i])]}"
                      f"{int(number[i])}号院{int(building[i])}号楼")
    return out


# --- writing files -----------------------------------------------------------------------------


def _entry(layer: str, file: str, *, crs: str | None = None, encoding: str | None = None,
           gpkg_layer: str | None = None, fields: dict[str, str] | None = None,
           timezone: str | None = None) -> dict[str, Any]:
    return {"layer": layer, "file": file, "crs": crs, "encoding": encoding,
            "gpkg_layer": gpkg_layer, "timezone": timezone, "fields": fields or {}}


def _fmt_coord(values: FloatArray) -> list[str]:
    return ["" if np.isnan(v) else f"{v:.{_COORD_DECIMALS}f}" for v in values]


def _fmt_int(values: Any) -> list[str]:
    return ["" if pd.isna(v) else str(int(v)) for v in values]


def _fmt_date(values: pd.Series) -> list[str]:
    return ["" if pd.isna(v) else v.strftime("%Y-%m-%d") for v in values]


def _write_csv(frame: pd.DataFrame, path: Path, *, encoding: str = "utf-8") -> None:
    frame.to_csv(path, index=False, encoding=encoding, lineterminator="\n")


def _write_communities(communities: gpd.GeoDataFrame, path: Path) -> dict[str, Any]:
    """GeoJSON with Chinese field names, written by hand for byte-stable formatting."""
    features = []
    for row in communities.itertuples(index=False):
        props = {
            _COMMUNITY_FIELDS_ZH["code"]: row.code,
            _COMMUNITY_FIELDS_ZH["name"]: row.name,
            _COMMUNITY_FIELDS_ZH["subdistrict_code"]: row.subdistrict_code,
            _COMMUNITY_FIELDS_ZH["subdistrict"]: row.subdistrict,
            _COMMUNITY_FIELDS_ZH["district_code"]: row.district_code,
            _COMMUNITY_FIELDS_ZH["district"]: row.district,
            _COMMUNITY_FIELDS_ZH["population"]: int(row.population),
            _COMMUNITY_FIELDS_ZH["households"]: int(row.households),
        }
        geometry = shapely.geometry.mapping(row.geometry)
        features.append(json.dumps({"type": "Feature", "properties": props,
                                    "geometry": geometry},
                                   ensure_ascii=False, separators=(",", ":")))
    text = ('{"type":"FeatureCollection","name":"communities",'
            '"synthetic":true,"features":[\n' + ",\n".join(features) + "\n]}\n")
    path.write_text(text, encoding="utf-8")
    return _entry("communities", path.name, fields=dict(_COMMUNITY_FIELDS_ZH))


def _write_population(population: pd.DataFrame, path: Path) -> dict[str, Any]:
    _write_csv(pd.DataFrame({"code": population["code"].astype(str),
                             "year": _fmt_int(population["year"]),
                             "population": _fmt_int(population["population"])}), path)
    return _entry("population", path.name, encoding="utf-8")


def _write_facilities(facilities: gpd.GeoDataFrame, path: Path) -> dict[str, Any]:
    lon, lat = wgs84_to_gcj02(facilities.geometry.x.to_numpy(), facilities.geometry.y.to_numpy())
    zh = _FACILITY_FIELDS_ZH
    _write_csv(pd.DataFrame({
        zh["id"]: facilities["id"].astype(str),
        zh["type"]: [_FACILITY_TYPE_ZH[t] for t in facilities["type"]],
        zh["name"]: facilities["name"].astype(str),
        zh["opened_on"]: _fmt_date(facilities["opened_on"]),
        zh["closed_on"]: _fmt_date(facilities["closed_on"]),
        zh["lon"]: _fmt_coord(np.asarray(lon)),
        zh["lat"]: _fmt_coord(np.asarray(lat)),
    }), path)
    return _entry("facilities", path.name, crs="gcj02", encoding="utf-8", fields=dict(zh))


def _write_devices(devices: gpd.GeoDataFrame, path: Path) -> dict[str, Any]:
    devices.to_parquet(path, index=False)
    return _entry("devices", path.name)


def _write_compounds(compounds: gpd.GeoDataFrame, out: Path) -> list[dict[str, Any]]:
    """Polygons as a zipped GBK Shapefile without .cpg; points as a GeoPackage layer."""
    is_poly = (compounds.geom_type != "Point").to_numpy()
    polys = compounds[is_poly]
    flags = {
        _MEASURE_COLUMNS[m]: ["是" if m in str(s).split(",") else "否" for s in polys["measures"]]
        for m in _MEASURES
    }
    shp = gpd.GeoDataFrame({
        _COMPOUND_SHP_FIELDS["id"]: polys["id"].astype(str).to_numpy(),
        _COMPOUND_SHP_FIELDS["name"]: polys["name"].astype(str).to_numpy(),
        _COMPOUND_SHP_FIELDS["kind"]: polys["kind"].astype(str).to_numpy(),
        _COMPOUND_SHP_FIELDS["households"]: polys["households"].to_numpy(),
        _COMPOUND_SHP_FIELDS["population"]: polys["population"].to_numpy(),
        _COMPOUND_SHP_FIELDS["removed_on"]: _fmt_date(polys["removed_on"]),
        **flags,
    }, geometry=polys.geometry.to_numpy(), crs=compounds.crs)
    zip_path = out / "compounds.zip"
    with tempfile.TemporaryDirectory() as tmp:
        shp_path = Path(tmp) / "compounds.shp"
        pyogrio.write_dataframe(shp, shp_path, driver="ESRI Shapefile", encoding="GBK",
                                layer_options={"DBF_DATE_LAST_UPDATE": _FIXED_FILE_DATE})
        with zipfile.ZipFile(zip_path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            for ext in (".shp", ".shx", ".dbf", ".prj"):  # no .cpg: readers need --encoding
                data = _dbf_without_codepage(shp_path.with_suffix(ext).read_bytes()) \
                    if ext == ".dbf" else shp_path.with_suffix(ext).read_bytes()
                info = zipfile.ZipInfo(f"compounds{ext}", date_time=(2025, 12, 31, 0, 0, 0))
                info.compress_type = zipfile.ZIP_DEFLATED
                zf.writestr(info, data)
    fields = dict(_COMPOUND_SHP_FIELDS)
    fields.update({m: col for m, col in _MEASURE_COLUMNS.items() if m != col})
    entries = [_entry("compounds", zip_path.name, encoding="gbk", fields=fields)]
    points = compounds[~is_poly]
    gpkg = out / "compounds_points.gpkg"
    gpkg.unlink(missing_ok=True)
    if len(points):
        previous = pyogrio.get_gdal_config_option("OGR_CURRENT_DATE")
        pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": f"{_FIXED_FILE_DATE}T00:00:00Z"})
        try:
            points.to_file(gpkg, layer="compounds", driver="GPKG", engine="pyogrio")
        finally:
            pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": previous})
        entries.append(_entry("compounds", gpkg.name, gpkg_layer="compounds"))
    return entries


def _dbf_without_codepage(data: bytes) -> bytes:
    """Clear the DBF language-driver byte, so only ``--encoding`` tells readers it is GBK."""
    return data[:29] + b"\x00" + data[30:]


def _write_incidents(incidents: gpd.GeoDataFrame, path: Path) -> dict[str, Any]:
    geoms = np.asarray(incidents.geometry.array, dtype=object)
    present = ~shapely.is_missing(geoms)
    lon = np.full(len(geoms), np.nan)
    lat = np.full(len(geoms), np.nan)
    lon[present] = shapely.get_x(geoms[present])
    lat[present] = shapely.get_y(geoms[present])
    local = incidents["occurred_at"].dt.tz_convert(DEFAULT_TIMEZONE).dt.strftime(
        "%Y-%m-%d %H:%M:%S")
    _write_csv(pd.DataFrame({
        "id": incidents["id"].astype(str),
        "occurred_at": local.astype(str),
        "category": incidents["category"].astype(str),
        "status": incidents["status"].astype(str),
        "address": incidents["address"].fillna("").astype(str),
        "location_precision": incidents["location_precision"].fillna("").astype(str),
        "community_code": incidents["community_code"].fillna("").astype(str),
        "lon": _fmt_coord(lon),
        "lat": _fmt_coord(lat),
    }), path)
    return _entry("incidents", path.name, encoding="utf-8", timezone=DEFAULT_TIMEZONE)
