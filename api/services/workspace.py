"""The map workspace's configuration: what one caller's ``/map`` page may offer.

:func:`workspace_config` gathers, for the caller's world (:mod:`api.release`), the choices the
page's controls offer and the neutral background it draws; the map's layers themselves are
fetched by the page from the JSON API (``/api/v1/…``, ``format=geojson``), which releases each
one for the caller as it releases it to any client. Nothing here is an incident:

- the layers the caller may read (incidents and near-repeat risk zones only for raw readers);
- the districts and subdistricts wholly inside the caller's world (a liaison is never offered
  a place the API would refuse), and the caller's jurisdiction by name;
- the categories: a raw reader's stored categories inside their world, a protected caller's
  configured category groups (one at a time, as the release rules count them);
- the time controls: a raw reader steps by day, week or month and may filter hours and
  weekdays; a protected caller steps by whole months, quarters or years with no hour or weekday
  (:meth:`api.release.Visibility.check_period`);
- the outlines of the caller's world and of its districts (dissolved community boundaries,
  simplified), drawn under the layers with community labels;
- the basemap: the operator's tile URL as configured (``maps.tile_url``, none by default: the
  boundaries are the background) and the coordinates its tiles are drawn in
  (``maps.tiles_crs``): with GCJ-02 tiles the page shifts every vector layer to GCJ-02 for
  display (``api/static/workspace-crs.js``), since raster tiles cannot be shifted;
- whether the page offers site plans (``POST /api/v1/site-plans``, open to every role in the
  API): people's keys (admin, liaison, planner) plan from the page, a client through the API.

The configuration is cached per data version and world (:meth:`ServiceContext.cached`).
"""

from __future__ import annotations

from typing import Any

import geopandas as gpd
import shapely

from api import store
from api.release import Visibility
from api.services import ServiceContext
from api.services.alerts import latest_day
from api.services.categories import known_categories
from api.services.landing import jurisdiction_names

__all__ = ["LAYERS", "PLANNING_ROLES", "RAW_LAYERS", "workspace_config"]

#: The workspace's layers in the switcher's order.
LAYERS = ("incidents", "rates", "hotspots", "hotspots_grid", "emerging", "kde", "alerts",
          "zones", "protection", "coverage", "gaps", "standard")
#: Layers of raw incidents (points, risk zones): admin and liaison keys only.
RAW_LAYERS = frozenset({"incidents", "zones"})
#: Roles whose workspace offers site plans (a client plans through the API).
PLANNING_ROLES = frozenset({"admin", "liaison", "planner"})
#: Most new sites the page's plan asks for (the API takes up to 100).
_MAX_PLAN_SITES = 20
#: Simplification of the outlines, in degrees (about a metre).
_OUTLINE_TOLERANCE_DEG = 1e-5
_MAX_CATEGORIES = 200


def _whole_places(world: gpd.GeoDataFrame, city: gpd.GeoDataFrame, level: str
                  ) -> list[dict[str, str]]:
    """Places of ``level`` whose every community lies in the world (code, name, district)."""
    code_col = f"{level}_code"
    inside = set(world["code"].astype(str))
    out = []
    for code, group in city.groupby(city[code_col].astype(str), sort=True):
        if not set(group["code"].astype(str)) <= inside or code in ("", "<NA>", "None"):
            continue
        first = group.iloc[0]
        out.append({"code": str(code), "name": str(first[level]),
                    "district": str(first["district_code"])})
    return out


def _outline(geoms: gpd.GeoSeries) -> dict[str, Any] | None:
    """The dissolved, simplified outline of some polygons as a GeoJSON geometry."""
    if geoms.empty:
        return None
    merged = shapely.union_all(shapely.make_valid(geoms.to_numpy()))
    merged = shapely.set_precision(merged.simplify(_OUTLINE_TOLERANCE_DEG), 1e-6)
    result: dict[str, Any] = shapely.geometry.mapping(merged)
    return result


def _districts(world: gpd.GeoDataFrame) -> list[dict[str, Any]]:
    out = []
    for code, group in world.groupby(world["district_code"].astype(str), sort=True):
        out.append({"code": str(code), "name": str(group["district"].iloc[0]),
                    "geometry": _outline(group.geometry)})
    return out


def _time(ctx: ServiceContext, vis: Visibility) -> dict[str, Any]:
    # the first day of the caller's own incidents: nothing outside their world dates the slider
    with ctx.engine.connect() as conn:
        first, _ = store.incident_time_range(conn, community_codes=vis.community_filter())
    last = latest_day(ctx)
    start = last.replace(day=1) if first is None else min(
        last.replace(day=1), first.date().replace(day=1))
    steps = ["month", "quarter", "year"] if vis.protected else ["day", "week", "month"]
    return {"first": start.isoformat(), "last": last.isoformat(), "steps": steps,
            "default_step": "month", "hours": not vis.protected}


def _categories(ctx: ServiceContext, vis: Visibility) -> dict[str, Any]:
    if vis.protected:
        return {"names": [name for name, _ in vis.category_groups], "multiple": False}
    counts = known_categories(ctx, vis)
    names = [str(c) for c in counts.sort_values(ascending=False).index[:_MAX_CATEGORIES]]
    return {"names": sorted(names), "multiple": True}


def _basemap(ctx: ServiceContext) -> dict[str, Any]:
    maps = ctx.settings.maps
    return {"tile_url": maps.tile_url, "attribution": maps.tile_attribution,
            "tiles_crs": maps.tiles_crs,
            # only drawn tiles need the shift: without them the boundaries are the base
            "shift_gcj02": bool(maps.tile_url) and maps.tiles_crs == "gcj02"}


def workspace_config(ctx: ServiceContext, vis: Visibility) -> dict[str, Any]:
    """The map workspace's configuration for a caller (see the module docstring).

    Parameters
    ----------
    ctx
        Service context.
    vis
        The caller.

    Returns
    -------
    dict
        ``role``, ``raw``, ``protected``, ``layers``, ``jurisdiction``, ``districts``,
        ``subdistricts``, ``categories``, ``facility_types``, ``time``, ``outline`` (a GeoJSON
        geometry of the caller's world), ``district_outlines``, ``basemap`` (``tile_url``,
        ``attribution``, ``tiles_crs``, ``shift_gcj02``) and ``plan`` (``offered``,
        ``max_sites``); JSON-serialisable.
    """
    def build() -> dict[str, Any]:
        city = ctx.communities()
        world = city[vis.in_world(city["code"])]
        with ctx.engine.connect() as conn:
            types = store.facility_types(conn)
        return {
            "role": vis.role, "raw": vis.raw, "protected": vis.protected,
            "layers": [name for name in LAYERS if vis.raw or name not in RAW_LAYERS],
            "jurisdiction": jurisdiction_names(ctx, vis),
            "districts": _whole_places(world, city, "district"),
            "subdistricts": _whole_places(world, city, "subdistrict"),
            "categories": _categories(ctx, vis), "facility_types": list(types),
            "cell_sizes_m": [float(s) for s in vis.cell_sizes_m],
            "time": _time(ctx, vis), "outline": _outline(world.geometry),
            "district_outlines": _districts(world), "basemap": _basemap(ctx),
            "plan": {"offered": vis.role in PLANNING_ROLES, "max_sites": _MAX_PLAN_SITES},
        }
    # the role joins the key: planner and client share one world but not their name
    config: dict[str, Any] = ctx.cached("workspace_config", (vis.role, vis.raw), build, vis=vis)
    return config
