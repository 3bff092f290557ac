"""The trust matrix's checks of the space-time surfaces: ``/api/v1/emerging`` and ``/api/v1/kde``.

:func:`problems` is called by :func:`tests.api.trust_matrix.check` for every answer of these
routes. It recomputes what the caller may see from the city's own rows (never from the
database) and compares:

- a protected caller (planner, client) gets no count per step and no statistic of a cell (the
  generic checks), and a density surface with a bandwidth of at least 500 m, cells of a
  published size and no cell under three expected incidents;
- an exact caller's (admin, liaison) density surface equals :func:`geo.density.kernel_density`
  of the incidents of their world alone (a liaison's surface built with one incident outside
  their jurisdiction differs), and their emerging hot spots count, per cell, exactly the
  incidents of their world.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from collections.abc import Mapping
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
from shapely.geometry import box

from geo.density import kernel_density
from geo.grid import PUBLISHED_CELL_M, Grid
from tests.api.appcity import COMMUNITIES, GRID_CRS, Y0, incident_rows

__all__ = ["ROUTES", "problems", "surface_of"]

ROUTES = ("/api/v1/emerging", "/api/v1/kde")
_MIN_BANDWIDTH_M = 500.0
_MIN_EXPECTED = 3.0


def surface_of(response: Any) -> tuple[dict[str, Any], pd.DataFrame] | None:
    """The provenance and the cell rows of an answer (JSON, GeoJSON, CSV or GeoTIFF)."""
    kind = response.headers.get("content-type", "")
    if kind.startswith("image/tiff"):
        return _tif_cells(response.content)
    text = response.content.decode("utf-8-sig", errors="replace")
    if kind.startswith("text/csv"):
        lines = text.splitlines()
        prov = {}
        for line in lines:
            if line.startswith("# "):
                key, _, value = line[2:].partition(": ")
                prov[key] = _json_or_text(value)
        body = "\n".join(ln for ln in lines if not ln.startswith("# "))
        rows = list(csv.DictReader(io.StringIO(body)))
        frame = pd.DataFrame(rows)
        for col in frame.columns:
            if col not in ("cell_id", "category"):
                frame[col] = pd.to_numeric(frame[col], errors="coerce")
        return prov, frame
    try:
        doc = json.loads(text)
    except json.JSONDecodeError:
        return None
    if "features" in doc:
        return doc.get("pingan", {}), pd.DataFrame([f["properties"] for f in doc["features"]])
    if "describes" in doc:  # format=provenance: no cells, the provenance is checked
        return doc.get("provenance", {}), pd.DataFrame()
    return doc.get("provenance", {}), pd.DataFrame(doc.get("items", []))


def _json_or_text(value: str) -> Any:
    try:
        return json.loads(value)
    except json.JSONDecodeError:
        return value


def _tif_cells(data: bytes) -> tuple[dict[str, Any], pd.DataFrame]:
    from api.raster import describe_cog

    info = describe_cog(data)
    prov = {k: _json_or_text(v) for k, v in info.tags.items()}
    a, _, c, _, _, f = info.profile["transform"]
    density, expected = info.bands
    rows, cols = np.nonzero(np.isfinite(density))
    ix = round(c / a) + cols
    iy = round(f / a) - 1 - rows
    frame = pd.DataFrame({"cell_id": Grid(a, GRID_CRS).ids(ix, iy), "ix": ix, "iy": iy,
                          "density_per_km2": density[rows, cols],
                          "expected": expected[rows, cols]})
    prov.setdefault("cell_m", a)
    return prov, frame


def _world_incidents(world: set[str] | None, prov: Mapping[str, Any],
                     categories: tuple[str, ...]) -> gpd.GeoDataFrame:
    start = dt.datetime.fromisoformat(str(prov["period_start"])).replace(tzinfo=None)
    end = dt.datetime.fromisoformat(str(prov["period_end"])).replace(tzinfo=None)
    rows = []
    for r in incident_rows():
        code = str(r["id"]).split("-")[0]
        when = dt.datetime.fromisoformat(str(r["occurred_at"]))
        if r["lon"] is None or not start <= when < end:
            continue
        if world is not None and code not in world:
            continue
        if categories and r["category"] not in categories:
            continue
        rows.append(r)
    frame = pd.DataFrame(rows, columns=["id", "lon", "lat"])
    return gpd.GeoDataFrame(frame, geometry=gpd.points_from_xy(frame["lon"], frame["lat"]),
                            crs="EPSG:4326")


def _world_area(world: set[str] | None) -> gpd.GeoDataFrame:
    shapes = [(c[0], box(c[7], Y0, c[7] + 0.01, Y0 + 0.01)) for c in COMMUNITIES
              if world is None or c[0] in world]
    return gpd.GeoDataFrame({"code": [s[0] for s in shapes]},
                            geometry=[s[1] for s in shapes], crs="EPSG:4326")


def _categories(params: tuple[tuple[str, Any], ...]) -> tuple[str, ...]:
    out: list[str] = []
    for name, value in params:
        if name == "category" and value is not None:
            out += list(value) if isinstance(value, tuple) else [value]
    return tuple(out)


def _protected_surface(prov: Mapping[str, Any], frame: pd.DataFrame) -> list[str]:
    out = []
    bandwidth = float(prov.get("bandwidth_m", 0))
    if bandwidth < _MIN_BANDWIDTH_M:
        out.append(f"density bandwidth {bandwidth:g} m under {_MIN_BANDWIDTH_M:g} m released")
    cell = float(prov.get("cell_m", 0))
    if not any(abs(cell - s) < 1e-9 for s in PUBLISHED_CELL_M):
        out.append(f"density on {cell:g} m cells released (not a published size)")
    if "expected" in frame and len(frame):
        low = pd.to_numeric(frame["expected"], errors="coerce")
        low = low[low.notna() & (low < _MIN_EXPECTED)]
        if len(low):
            out.append(f"{len(low)} density cells under {_MIN_EXPECTED:g} expected incidents")
    for key in ("incidents", "notes", "left_out"):
        if key in prov:
            out.append(f"exact figure {key!r} in a protected surface's provenance")
    return out


def _exact_surface(prov: Mapping[str, Any], frame: pd.DataFrame, world: set[str] | None,
                   categories: tuple[str, ...]) -> list[str]:
    if not len(frame):
        return []
    incidents = _world_incidents(world, prov, categories)
    expected = kernel_density(incidents, _world_area(world), cell_m=float(prov["cell_m"]),
                              kernel=str(prov["kernel"]), bandwidth_m=float(prov["bandwidth_m"]),
                              mode=str(prov["mode"]), metric_crs=GRID_CRS).frame
    merged = frame[["cell_id", "density_per_km2"]].merge(
        expected[["cell", "density_per_km2"]], left_on="cell_id", right_on="cell", how="left",
        suffixes=("", "_world"))
    outside = merged["density_per_km2_world"].isna()
    if outside.any():
        return [f"density cells outside the caller's world: {list(merged['cell_id'][outside])[:3]}"]
    got = merged["density_per_km2"].to_numpy(dtype=float)
    want = merged["density_per_km2_world"].to_numpy(dtype=float)
    if not np.allclose(got, want, rtol=1e-9, atol=1e-12):
        worst = int(np.argmax(np.abs(got - want)))
        return [f"density differs from the surface of the caller's own incidents "
                f"({merged['cell_id'].iloc[worst]}: {got[worst]:.6g} != {want[worst]:.6g})"]
    return []


def _emerging_counts(prov: Mapping[str, Any], frame: pd.DataFrame, world: set[str] | None,
                     categories: tuple[str, ...]) -> list[str]:
    if "incidents" not in frame or not len(frame):
        return []
    incidents = _world_incidents(world, prov, categories)
    grid = Grid(float(prov["cell_m"]), GRID_CRS)
    ix, iy = grid.bin_lonlat(incidents["lon"].to_numpy(), incidents["lat"].to_numpy())
    counts = pd.Series(grid.ids(ix, iy)).value_counts()
    got = pd.to_numeric(frame["incidents"], errors="coerce").to_numpy()
    want = frame["cell_id"].map(counts).fillna(0).to_numpy()
    wrong = np.flatnonzero(got != want)
    if len(wrong):
        i = int(wrong[0])
        return [f"emerging cell {frame['cell_id'].iloc[i]} counts {got[i]:g} incidents; the "
                f"caller's world has {want[i]:g} there"]
    return []


def problems(route: str, params: tuple[tuple[str, Any], ...], credential: str,
             world: set[str] | None, protected: bool, response: Any,
             described: Any = None) -> list[str]:
    """Everything wrong with a 200 answer of a space-time route for ``credential``.

    ``described`` is the provenance answer a CSV links to (a CSV holds no provenance lines
    unless asked for them).
    """
    parsed = surface_of(response)
    if parsed is None:
        return []
    prov, frame = parsed
    if not prov and described is not None:
        prov = json.loads(described.content).get("provenance", {})
    cats = _categories(params)
    if route == "/api/v1/kde":
        if protected:
            return _protected_surface(prov, frame)
        return _exact_surface(prov, frame, world, cats)
    if route == "/api/v1/emerging" and not protected:
        return _emerging_counts(prov, frame, world, cats)
    return []
