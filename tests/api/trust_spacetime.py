"""The trust matrix's checks of the space-time routes: emerging, kde, near-repeat and alerts.

:func:`problems` is called by :func:`tests.api.trust_matrix.check` for every answer of these
routes. It recomputes what the caller may see from the city's own rows (never from the
database) and compares:

- a protected caller (planner, client) gets no count per step and no statistic of a cell (the
  generic checks), and a density surface with a bandwidth of at least 500 m, cells of a
  published size and no cell under three expected incidents;
- an exact caller's (admin, liaison) density surface equals :func:`geo.density.kernel_density`
  of the incidents of their world alone (a liaison's surface built with one incident outside
  their jurisdiction differs), and their emerging hot spots count, per cell, exactly the
  incidents of their world;
- near repeats: a protected caller gets each band's class only (no pair count, expectation,
  ratio or p) and never a risk zone; an exact caller's Knox table counts exactly the pairs of
  the incidents of their world inside the selection, and their zones' incidents are theirs;
- alerts: a protected caller gets alerting units only, with no count or statistic; an exact
  caller's observed counts are those of their own world's incidents in the step.
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
from geo.nearrepeat import knox_table
from tests.api.appcity import COMMUNITIES, GRID_CRS, Y0, incident_rows

__all__ = ["ROUTES", "problems", "surface_of"]

ROUTES = ("/api/v1/emerging", "/api/v1/kde", "/api/v1/near-repeat", "/api/v1/near-repeat/zones",
          "/api/v1/alerts")
_KNOX_FIGURES = ("observed", "expected", "knox_ratio", "p_value", "space_pairs", "time_pairs",
                 "expected_analytic", "p_poisson")
_ALERT_FIGURES = ("observed", "expected", "threshold", "statistic", "p_value", "q_value",
                  "history_steps", "incidents_link")
_NAMED = {"district": {"D1": {"C1", "C2"}, "东城区": {"C1", "C2"}, "D2": {"C3", "C4"},
                       "西城区": {"C3", "C4"}},
          "subdistrict": {"S11": {"C1"}, "S12": {"C2"}, "S21": {"C3", "C4"}}}
_TEXT_COLUMNS = ("cell_id", "category", "space_band", "time_band", "near_repeat_class",
                 "unit", "name", "level", "resolution", "step", "last_day", "method",
                 "first_fired", "incidents_link", "incident_id", "community_code",
                 "occurred_on", "expires_on", "alert")
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
            if col not in _TEXT_COLUMNS:
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


def _code_of(row: Mapping[str, Any]) -> str:
    return str(row.get("community_code") or str(row["id"]).split("-")[0])


def _selected_rows(world: set[str] | None, prov: Mapping[str, Any],
                   params: tuple[tuple[str, Any], ...]) -> list[dict[str, Any]]:
    """The located incidents of the caller's selection, as the store reads them."""
    start = dt.datetime.fromisoformat(str(prov["period_start"])).replace(tzinfo=None)
    end = dt.datetime.fromisoformat(str(prov["period_end"])).replace(tzinfo=None)
    cats = _categories(params)
    named: set[str] | None = None
    for name, value in params:
        if value is None or name not in ("district", "subdistrict", "community"):
            continue
        codes = set(value) if name == "community" else _NAMED[name].get(str(value), set())
        named = codes if named is None else named & codes
    bbox = next((tuple(float(v) for v in str(v).split(",")) for k, v in params
                 if k == "bbox" and v is not None), None)
    rows = []
    for r in incident_rows():
        when = dt.datetime.fromisoformat(str(r["occurred_at"]))
        code = _code_of(r)
        if r["lon"] is None or not start <= when < end or (cats and r["category"] not in cats):
            continue
        if (world is not None and code not in world) or (named is not None and code not in
                                                          named):
            continue
        if bbox is not None and not (bbox[0] <= float(r["lon"]) <= bbox[2]  # type: ignore[arg-type]
                                     and bbox[1] <= float(r["lat"]) <= bbox[3]):  # type: ignore[arg-type]
            continue
        rows.append(r)
    return sorted(rows, key=lambda r: (str(r["occurred_at"]), str(r["id"])))


def _knox_problems(prov: Mapping[str, Any], frame: pd.DataFrame, world: set[str] | None,
                   protected: bool, params: tuple[tuple[str, Any], ...]) -> list[str]:
    if protected:
        out = [f"Knox figure {c!r} released" for c in _KNOX_FIGURES if c in frame]
        if "near_repeat_class" in frame:
            odd = set(frame["near_repeat_class"]) - {"raised", "not raised", "<3"}
            out += [f"near-repeat classes {sorted(odd)} released"] if odd else []
        return out + [f"exact figure {k!r} in protected near repeats" for k in
                      ("incidents", "notes", "left_out") if k in prov]
    rows = _selected_rows(world, prov, params)
    if len(rows) < 2 or "observed" not in frame:
        return []
    incidents = gpd.GeoDataFrame(
        {"occurred_at": pd.to_datetime([r["occurred_at"] for r in rows]).tz_localize(
            "Asia/Shanghai").tz_convert("UTC")},
        geometry=gpd.points_from_xy([r["lon"] for r in rows], [r["lat"] for r in rows]),
        crs="EPSG:4326")
    want = knox_table(incidents, space_m=[float(v) for v in prov["space_m"]],
                      time_days=[int(v) for v in prov["time_days"]],
                      cumulative=bool(prov["cumulative"]), permutations=0,
                      metric_crs=GRID_CRS).frame["observed"].tolist()
    got = pd.to_numeric(frame["observed"]).astype(int).tolist()
    return [] if got == want else [f"Knox pairs {got} are not those of the caller's own "
                                   f"incidents {want}"]


def _alert_problems(frame: pd.DataFrame, world: set[str] | None, protected: bool,
                    params: tuple[tuple[str, Any], ...]) -> list[str]:
    if not len(frame):
        return []
    if protected:
        out = [f"alert figure {c!r} released" for c in _ALERT_FIGURES if c in frame]
        quiet = frame["alert"].astype(str).str.lower() != "true"
        return out + (["a unit without an alert released"] if quiet.any() else [])
    cats = _categories(params)
    out = []
    for row in frame.to_dict("records"):
        first, last = str(row["step"]), str(row["last_day"])
        units = ({"D1": {"C1", "C2"}, "D2": {"C3", "C4"}}.get(str(row["unit"]), set())
                 if row["level"] == "district" else {str(row["unit"])})
        want = sum(1 for r in incident_rows()
                   if first <= str(r["occurred_at"])[:10] <= last and _code_of(r) in units
                   and _code_of(r) != "OUT" and (world is None or _code_of(r) in world)
                   and (not cats or r["category"] in cats))
        if int(float(row["observed"])) != want:
            out.append(f"alert of {row['unit']} observes {row['observed']}; the caller's world "
                       f"has {want} in {first}..{last}")
    return out


def problems(route: str, params: tuple[tuple[str, Any], ...], credential: str,
             world: set[str] | None, protected: bool, response: Any,
             described: Any = None) -> list[str]:
    """Everything wrong with a 200 answer of a space-time route for ``credential``.

    ``described`` is the provenance answer a CSV links to (a CSV holds no provenance lines
    unless asked for them).
    """
    if route == "/api/v1/near-repeat/zones" and protected:
        return ["risk zones released to a protected caller"]
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
    if route == "/api/v1/near-repeat":
        return _knox_problems(prov, frame, world, protected, params)
    if route == "/api/v1/near-repeat/zones" and world is not None and "incident_id" in frame:
        outside = [i for i in frame["incident_id"] if str(i).split("-")[0] not in world]
        return [f"risk zones of incidents outside the world: {outside[:3]}"] if outside else []
    if route == "/api/v1/alerts":
        return _alert_problems(frame, world, protected, params)
    return []
