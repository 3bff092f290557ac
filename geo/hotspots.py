"""Hot spots: Getis-Ord Gi* over community rates and over a square grid of incident counts.

Both analyses run esda's local G in its star form (``esda.G_Local(..., transform="B",
star=True)``): binary contiguity weights with every unit its own neighbour, so a unit's Gi* is the
share of the total held by itself and its neighbours. Binary rather than row-standardised weights
because esda's analytic z of the row-standardised Gi* has been seen to disagree with the published
formula; the binary z is exactly Ord & Getis (1995)::

    z_i = (Σ_j w_ij x_j − x̄ W_i) / (s √((n W_i − W_i²) / (n − 1)))

with ``W_i = Σ_j w_ij`` (self included), ``x̄`` and ``s`` (population standard deviation) over
all ``n`` units. That z is ``hotspot_gi_z``. Inference is by conditional permutation (999 by
default, seeded), esda's algorithm run by :mod:`geo.gi_permutation` in kernels cached on disk
(identical numbers; esda's own kernel is compiled afresh in every process, 10–25 s before a
process's first hot spot). The ``p_sim`` is one-sided, folded toward the tail the observed value
lies in, so it is doubled (capped at 1) into a two-sided p before classing; optionally the
two-sided p values are adjusted with Benjamini–Hochberg (``scipy.stats.false_discovery_control``).
A unit is ``hot_99``/``hot_95``/``hot_90`` when that p is at most 0.01/0.05/0.10 and its Gi* lies
above the permutation mean (the sign of esda's ``z_sim``), ``cold_*`` below it.

Units without neighbours (islands) stay in the analysis, so the global mean and variance are
those of every unit, but their own Gi* would compare a unit with itself: they are reported with
NaN statistics and the class ``no_neighbours``. Communities without a value (no population, so
no smoothed rate) are left out of the weights and reported as ``no_value``. When every value is
equal Gi* is undefined (0 / 0): statistics NaN, class ``not_significant``.

The grid: square cells of ``cell_m`` metres in a metric CRS whose edges lie on multiples of
``cell_m`` (the same cell has the same id in every run), kept where a cell's interior meets the
union of the communities. Queen contiguity (the 3 × 3 window around a cell) by default; rook is
available. Incidents located only to their community's centroid are left out (they would pile up
on centroids and fake hot spots) and counted; ``address`` precision is kept, because a geocoded
address is typically good to tens of metres, well inside a 250 m cell.

Written here rather than taken from a library: the grid (a snapped lattice clipped to the
communities; libraries offer fishnets anchored at the data's corner) and the class rules. esda
seeds NumPy's global random generator; its state is saved and restored around each call so these
functions leave no trace in global state.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely
from esda.getisord import G_Local
from libpysal.weights import Queen, Rook, W
from scipy.stats import false_discovery_control

from geo.errors import ParameterError
from geo.gi_permutation import gi_star_permutations
from geo.grid import Grid
from geo.layers import LOCATION_PRECISIONS
from geo.projection import metric_crs_for

__all__ = [
    "DEFAULT_PERMUTATIONS",
    "DEFAULT_SEED",
    "HOTSPOT_CLASSES",
    "HotspotResult",
    "community_hotspots",
    "grid_count_hotspots",
    "grid_hotspots",
    "point_cells",
]

#: Every class label, hottest first.
HOTSPOT_CLASSES = (
    "hot_99",
    "hot_95",
    "hot_90",
    "not_significant",
    "cold_90",
    "cold_95",
    "cold_99",
    "no_neighbours",
    "no_value",
)
DEFAULT_PERMUTATIONS = 999
DEFAULT_SEED = 20250101
# Checked from the widest to the narrowest so the strictest level a unit meets wins.
_LEVELS = ((0.10, "90"), (0.05, "95"), (0.01, "99"))

Contiguity = Literal["queen", "rook"]


@dataclass(frozen=True, eq=False)
class HotspotResult:
    """Gi* hot spots of communities or grid cells.

    Attributes
    ----------
    frame
        One row per unit, indexed by community code or cell id (``"250m:ix:iy"``, see
        :func:`geo.grid.cell_ids`). Columns: ``value`` (the value
        analysed), ``neighbours`` (contiguous units, self not counted), ``hotspot_gi_z``
        (analytic Gi* z), ``gi_z_sim`` (z against the permutation distribution), ``p_sim``
        (esda's one-sided pseudo p), ``p_value`` (two-sided: ``min(1, 2 p_sim)``), ``q_value``
        (Benjamini–Hochberg adjusted ``p_value``; NaN unless ``fdr``) and ``hotspot_class``
        (one of :data:`HOTSPOT_CLASSES`). For a grid it is a GeoDataFrame of cell squares in
        the communities' CRS with ``ix``/``iy`` (the cell's column and row: its south-west
        corner is at ``(ix × cell_m, iy × cell_m)`` in ``metric_crs``) and ``value`` holding
        the cell's incident count.
    unit
        ``community`` or ``cell``.
    weights
        Description of the spatial weights.
    permutations, seed
        Conditional permutations and the seed that makes them reproducible.
    fdr
        Whether classes use Benjamini–Hochberg adjusted p values.
    islands
        Units without neighbours (class ``no_neighbours``).
    metric_crs
        The projected CRS of the grid; ``None`` for communities (contiguity needs none).
    cell_m
        Cell size of the grid in metres; ``None`` for communities.
    coarse_location
        Incidents left out of the grid for their location precision.
    no_location
        Incidents left out of the grid for having no point.
    outside_grid
        Incidents whose point lies in no cell of the grid (outside the communities).
    notes
        Method and provenance notes.
    """

    frame: pd.DataFrame
    unit: Literal["community", "cell"]
    weights: str
    permutations: int
    seed: int
    fdr: bool
    islands: tuple[str, ...]
    metric_crs: pyproj.CRS | None = None
    cell_m: float | None = None
    coarse_location: int = 0
    no_location: int = 0
    outside_grid: int = 0
    notes: tuple[str, ...] = ()


def community_hotspots(
    communities: gpd.GeoDataFrame,
    values: pd.Series,
    *,
    permutations: int = DEFAULT_PERMUTATIONS,
    seed: int = DEFAULT_SEED,
    fdr: bool = False,
    n_jobs: int = 1,
) -> HotspotResult:
    """Find hot and cold spots of a community value with Gi* over queen contiguity.

    Parameters
    ----------
    communities
        Community polygons with a unique ``code`` column.
    values
        The value per community, indexed by code, normally the smoothed rate
        ``RatesResult.frame["case_rate_eb_per_10k_annual"]``; values must be >= 0. Communities
        with a missing value are left out of the weights and classed ``no_value``.
    permutations
        Conditional permutations, at least 99 (999 resolves the 99 % class well).
    seed
        Seed of the permutations.
    fdr
        Class on Benjamini–Hochberg adjusted p values instead of the raw two-sided ones.
    n_jobs
        Processes esda may use for the permutations.

    Returns
    -------
    HotspotResult

    Raises
    ------
    TypeError
        If ``communities`` is not a GeoDataFrame or ``values`` not a numeric Series.
    ValueError
        If ``communities`` has no CRS or no unique ``code``, ``values`` has negative values,
        duplicate codes or codes that are not communities, or an option is out of range.
    """
    _check_options(permutations, seed, n_jobs)
    _check_frame(communities, "communities")
    if "code" not in communities.columns:
        raise ParameterError("communities must have a 'code' column")
    codes = communities["code"].astype("string")
    if codes.isna().any() or codes.duplicated().any():
        raise ParameterError(
            f"communities['code'] must be present and unique; got duplicates or missing: "
            f"{codes[codes.isna() | codes.duplicated()].head(5).tolist()}"
        )
    if not isinstance(values, pd.Series) or not pd.api.types.is_numeric_dtype(values):
        raise TypeError(
            f"values must be a numeric Series indexed by code; got {type(values).__name__} "
            f"of dtype {getattr(values, 'dtype', None)}"
        )
    value = pd.Series(values.to_numpy(dtype="float64", na_value=np.nan),
                      index=pd.Index(values.index.astype("string")))
    if value.index.duplicated().any():
        raise ParameterError(
            f"values must have one value per community; got duplicates "
            f"{value.index[value.index.duplicated()].unique().tolist()[:5]}"
        )
    unknown = value.index.difference(pd.Index(codes))
    if len(unknown):
        raise ParameterError(
            f"values has codes that are not communities: {unknown.tolist()[:5]}"
        )
    if (value < 0).any():
        raise ParameterError(
            f"values must be >= 0 (Gi* is a share of a total); got negative values for "
            f"{value.index[value < 0].tolist()[:5]}"
        )
    layer = gpd.GeoDataFrame(
        {"value": value.reindex(codes).to_numpy()},
        geometry=communities.geometry.to_numpy(),
        index=pd.Index(codes.to_numpy(), name="code"),
        crs=communities.crs,
    )
    present = layer["value"].notna()
    frame = pd.DataFrame({"value": layer["value"]}, index=layer.index)
    islands: tuple[str, ...] = ()
    if present.any():
        weights = Queen.from_dataframe(layer[present], use_index=True, silence_warnings=True)
        stats, islands = _gi_star(layer.loc[present, "value"].to_numpy(), weights,
                                  permutations=permutations, seed=seed, fdr=fdr, n_jobs=n_jobs)
        frame = frame.join(stats)
    frame = _fill_missing(frame, ~present)
    n_missing = int((~present).sum())
    notes = [
        f"Gi* of {int(present.sum())} communities over queen contiguity; {len(islands)} without "
        f"neighbours; {n_missing} without a value (no_value)"
    ]
    return HotspotResult(
        frame=frame,
        unit="community",
        weights="queen contiguity, binary, self-neighbour included (Gi*)",
        permutations=permutations,
        seed=seed,
        fdr=fdr,
        islands=islands,
        notes=tuple(notes),
    )


def grid_hotspots(
    incidents: gpd.GeoDataFrame,
    communities: gpd.GeoDataFrame,
    *,
    cell_m: float = 250.0,
    metric_crs: pyproj.CRS | str | int | None = None,
    contiguity: Contiguity = "queen",
    exclude_precisions: Sequence[str] = ("centroid",),
    permutations: int = DEFAULT_PERMUTATIONS,
    seed: int = DEFAULT_SEED,
    fdr: bool = False,
    n_jobs: int = 1,
) -> HotspotResult:
    """Find hot and cold spots of incident counts on a square grid over the communities.

    Parameters
    ----------
    incidents
        The incidents to map (normally the period's cases, :func:`geo.cases.select_cases`),
        points, with an optional ``location_precision`` column (missing means ``exact``).
    communities
        Community polygons; the grid covers their union.
    cell_m
        Cell side in metres.
    metric_crs
        Projected CRS in metres for the grid; by default
        :func:`geo.projection.metric_crs_for` of the communities.
    contiguity
        ``queen`` (8 neighbours) or ``rook`` (4 neighbours).
    exclude_precisions
        Location precisions left out of the grid (and counted in ``coarse_location``).
    permutations, seed, fdr, n_jobs
        As for :func:`community_hotspots`.

    Returns
    -------
    HotspotResult
        ``frame`` is a GeoDataFrame of the cells in the communities' CRS.

    Raises
    ------
    TypeError
        If an input is not a GeoDataFrame.
    ValueError
        If a frame has no CRS or the two CRSs differ, ``metric_crs`` is not a projected CRS in
        metres, an incident is not a point, ``communities`` covers no area, or an option is
        out of range.
    """
    _check_options(permutations, seed, n_jobs)
    _check_frame(incidents, "incidents")
    _check_frame(communities, "communities")
    if not incidents.crs.equals(communities.crs):
        raise ParameterError(
            f"incidents and communities must share a CRS; got {incidents.crs.to_string()} and "
            f"{communities.crs.to_string()}"
        )
    if isinstance(exclude_precisions, str):
        raise TypeError(
            f"exclude_precisions must be a list of precisions; got the string "
            f"{exclude_precisions!r}"
        )
    unknown = sorted(set(exclude_precisions) - set(LOCATION_PRECISIONS))
    if unknown:
        raise ParameterError(
            f"exclude_precisions must be among {', '.join(LOCATION_PRECISIONS)}; got {unknown}"
        )
    grid = Grid(cell_m, _metric_crs(communities, metric_crs))
    geometry = incidents.geometry
    no_point = geometry.isna().to_numpy() | geometry.is_empty.to_numpy()
    located = incidents[~no_point]
    if not (located.geometry.geom_type == "Point").all():
        raise ParameterError(
            f"incidents must be points; got {sorted(set(located.geometry.geom_type))}"
        )
    precision = (located["location_precision"].astype("string").fillna("exact")
                 if "location_precision" in located.columns
                 else pd.Series("exact", index=located.index, dtype="string"))
    coarse = precision.isin(list(exclude_precisions)).to_numpy()
    ix, iy = point_cells(located[~coarse].geometry, grid)
    counts = (pd.DataFrame({"ix": ix, "iy": iy, "count": 1})
              .groupby(["ix", "iy"], sort=True)["count"].sum().reset_index())
    return grid_count_hotspots(
        counts, communities, grid=grid, contiguity=contiguity,
        exclude_precisions=exclude_precisions, coarse_location=int(coarse.sum()),
        no_location=int(no_point.sum()), permutations=permutations, seed=seed, fdr=fdr,
        n_jobs=n_jobs)


def point_cells(points: gpd.GeoSeries, grid: Grid) -> tuple[np.ndarray, np.ndarray]:
    """Cell columns and rows of points (any CRS): projected to the grid's CRS, then binned.

    The one binning of incident points for Gi* on the grid, on one machine and in a batch.
    """
    # geopandas' to_crs transforms the same coordinates with the same transformer, then builds
    # new geometries; the coordinates alone are what a cell needs.
    geoms = np.asarray(points.array, dtype=object)
    to_grid = pyproj.Transformer.from_crs(points.crs, grid.crs, always_xy=True)
    x, y = to_grid.transform(shapely.get_x(geoms), shapely.get_y(geoms))
    return grid.bin_xy(x, y)


def grid_count_hotspots(
    counts: pd.DataFrame,
    communities: gpd.GeoDataFrame,
    *,
    grid: Grid,
    contiguity: Contiguity = "queen",
    exclude_precisions: Sequence[str] = ("centroid",),
    coarse_location: int = 0,
    no_location: int = 0,
    permutations: int = DEFAULT_PERMUTATIONS,
    seed: int = DEFAULT_SEED,
    fdr: bool = False,
    n_jobs: int = 1,
) -> HotspotResult:
    """Find hot and cold spots of incident counts per cell of a grid over the communities.

    What :func:`grid_hotspots` does once its points are binned; a batch run
    (:mod:`geo.batch`) calls it with the cell counts it reduced from an archive.

    Parameters
    ----------
    counts
        ``ix``, ``iy`` and ``count`` per cell holding incidents (any cell, inside the grid or
        not).
    communities
        Community polygons; the grid's cells are those meeting their union.
    grid
        The grid (:class:`geo.grid.Grid`).
    contiguity
        ``queen`` or ``rook``.
    exclude_precisions, coarse_location, no_location
        The precisions left out before binning and how many incidents that left out, and the
        incidents without a point (provenance).
    permutations, seed, fdr, n_jobs
        As for :func:`community_hotspots`.

    Returns
    -------
    HotspotResult

    Raises
    ------
    ValueError
        If ``communities`` covers no area, or an option is out of range.
    """
    _check_options(permutations, seed, n_jobs)
    if contiguity not in ("queen", "rook"):
        raise ParameterError(f"contiguity must be 'queen' or 'rook'; got {contiguity!r}",
                             parameter="contiguity")
    crs, cell = grid.crs, grid.cell_m
    union = shapely.union_all(communities.to_crs(crs).geometry.to_numpy())
    if union.is_empty or union.area == 0:
        raise ParameterError(
            "communities must cover some area (at least one non-empty polygon); got none")
    # Corners are integer multiples of cell_m, so neighbouring cells share bit-identical
    # vertices and contiguity is exact.
    ix, iy = grid.cells_meeting(union)
    cell_ids = pd.Index(grid.ids(ix, iy), name="cell_id")
    count_ids = pd.Index(grid.ids(counts["ix"], counts["iy"]))
    n = counts["count"].to_numpy(dtype=np.int64)
    in_grid = count_ids.isin(cell_ids)
    by_cell = pd.Series(n[in_grid], index=count_ids[in_grid]).groupby(level=0).sum()
    value = by_cell.reindex(cell_ids, fill_value=0)
    cells = gpd.GeoDataFrame(
        {"ix": ix, "iy": iy, "value": value.to_numpy(dtype="float64")},
        geometry=grid.boxes(ix, iy), index=cell_ids, crs=crs,
    )
    builder = Queen if contiguity == "queen" else Rook
    weights = builder.from_dataframe(cells, use_index=True, silence_warnings=True)
    stats, islands = _gi_star(cells["value"].to_numpy(), weights, permutations=permutations,
                              seed=seed, fdr=fdr, n_jobs=n_jobs)
    frame = cells.join(stats).to_crs(communities.crs)
    inside, outside = int(n[in_grid].sum()), int(n[~in_grid].sum())
    notes = (
        f"{len(cells)} cells of {cell:g} m in {crs.to_string()}, edges on multiples of "
        f"{cell:g} m, kept where they meet the communities; {contiguity} contiguity",
        f"incidents: {inside} in the grid, {coarse_location} left out for "
        f"precision {', '.join(exclude_precisions) or '(none)'}, {no_location} without "
        f"a point, {outside} outside the grid",
    )
    return HotspotResult(
        frame=frame,
        unit="cell",
        weights=f"{contiguity} contiguity of grid cells, binary, self-neighbour included (Gi*)",
        permutations=permutations,
        seed=seed,
        fdr=fdr,
        islands=islands,
        metric_crs=crs,
        cell_m=cell,
        coarse_location=coarse_location,
        no_location=no_location,
        outside_grid=outside,
        notes=notes,
    )


def _gi_star(y: np.ndarray, weights: W, *, permutations: int, seed: int, fdr: bool,
             n_jobs: int) -> tuple[pd.DataFrame, tuple[str, ...]]:
    """Gi* statistics and classes of ``y`` over binary ``weights`` (ids in weights.id_order)."""
    ids = list(weights.id_order)
    n = len(ids)
    neighbours = np.array([weights.cardinalities[i] for i in ids], dtype="int64")
    island = neighbours == 0
    z = np.full(n, np.nan)
    z_sim = np.full(n, np.nan)
    p_sim = np.full(n, np.nan)
    direction = np.zeros(n)
    if (~island).any() and np.ptp(y) > 0:
        state = np.random.get_state()
        try:
            with warnings.catch_warnings():
                # esda warns about islands (reported in the result instead) and about its
                # changing permutation API (the folded p is converted below).
                warnings.simplefilter("ignore")
                g = G_Local(y.astype("float64"), weights, transform="B", star=True,
                            permutations=permutations if n_jobs != 1 else 0, seed=seed,
                            n_jobs=n_jobs)
            observed = np.asarray(g.Gs, dtype="float64")
            if n_jobs != 1:
                # esda's own joblib-parallel permutations (compiled afresh in each process).
                p_raw, mean, z_sim = g.p_sim, g.EG_sim, np.asarray(g.z_sim, dtype="float64")
            else:
                # The same permutations in kernels compiled once and cached on disk.
                sims = gi_star_permutations(y, g.w.sparse, observed,
                                            permutations=permutations, seed=seed)
                p_raw, mean, z_sim = sims.p_sim, sims.mean, sims.z_sim(observed)
        finally:
            np.random.set_state(state)
        z = np.asarray(g.Zs, dtype="float64")
        # esda keeps p_sim in float32; (count + 1) / (permutations + 1) is restored exactly so
        # that a p of 0.01 is not read as 0.0100000002.
        p_sim = np.round(np.asarray(p_raw, dtype="float64") * (permutations + 1)) / (
            permutations + 1)
        direction = np.sign(observed - np.asarray(mean, dtype="float64"))
    for column in (z, z_sim, p_sim):
        column[island] = np.nan
    p_value = np.minimum(1.0, 2.0 * p_sim)
    q_value = np.full(n, np.nan)
    tested = ~np.isnan(p_value)
    if fdr and tested.any():
        q_value[tested] = false_discovery_control(p_value[tested], method="bh")
    decisive = q_value if fdr else p_value
    classes = np.full(n, "not_significant", dtype=object)
    for level, label in _LEVELS:
        significant = decisive <= level
        classes[significant & (direction > 0)] = f"hot_{label}"
        classes[significant & (direction < 0)] = f"cold_{label}"
    classes[island] = "no_neighbours"
    frame = pd.DataFrame(
        {
            "neighbours": neighbours,
            "hotspot_gi_z": z,
            "gi_z_sim": z_sim,
            "p_sim": p_sim,
            "p_value": p_value,
            "q_value": q_value,
            "hotspot_class": pd.array(classes, dtype="string"),
        },
        index=pd.Index(ids, name="code"),
    )
    return frame, tuple(str(i) for i in np.asarray(ids, dtype=object)[island])


def _fill_missing(frame: pd.DataFrame, missing: np.ndarray | pd.Series) -> pd.DataFrame:
    """Statistic columns for units left out of the weights: NaN, class ``no_value``."""
    out = frame.copy()
    for column in ("hotspot_gi_z", "gi_z_sim", "p_sim", "p_value", "q_value"):
        if column not in out.columns:
            out[column] = np.nan
    if "neighbours" not in out.columns:
        out["neighbours"] = 0
    out["neighbours"] = out["neighbours"].fillna(0).astype("int64")
    if "hotspot_class" not in out.columns:
        out["hotspot_class"] = pd.array([pd.NA] * len(out), dtype="string")
    out["hotspot_class"] = out["hotspot_class"].astype("string")
    out.loc[np.asarray(missing, dtype=bool), "hotspot_class"] = "no_value"
    return out


def _metric_crs(communities: gpd.GeoDataFrame,
                metric_crs: pyproj.CRS | str | int | None) -> pyproj.CRS:
    if metric_crs is None:
        points = communities.geometry.representative_point().to_crs(4326)
        return metric_crs_for(points.x.to_numpy(), points.y.to_numpy())
    try:
        crs = pyproj.CRS.from_user_input(metric_crs)
    except pyproj.exceptions.CRSError as exc:
        raise ParameterError(
            f"metric_crs is not a CRS pyproj knows: {metric_crs!r} ({exc})") from None
    units = {axis.unit_name for axis in crs.axis_info}
    if not crs.is_projected or units != {"metre"}:
        raise ParameterError(
            f"metric_crs must be a projected CRS in metres; got {crs.to_string()} "
            f"(units: {', '.join(sorted(units)) or 'none'})"
        )
    return crs


def _check_frame(frame: gpd.GeoDataFrame, name: str) -> None:
    if not isinstance(frame, gpd.GeoDataFrame):
        raise TypeError(f"{name} must be a GeoDataFrame; got {type(frame).__name__}")
    if frame.crs is None:
        raise ParameterError(f"{name} must carry a CRS; got none")


def _check_options(permutations: int, seed: int, n_jobs: int) -> None:
    if isinstance(permutations, bool) or not isinstance(permutations, int) or permutations < 99:
        raise ParameterError(f"permutations must be an integer >= 99; got {permutations!r}",
                             parameter="permutations")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ParameterError(f"seed must be an integer >= 0; got {seed!r}")
    if isinstance(n_jobs, bool) or not isinstance(n_jobs, int) or n_jobs == 0 or n_jobs < -1:
        raise ParameterError(f"n_jobs must be a positive integer or -1; got {n_jobs!r}")
