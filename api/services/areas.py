"""Drawn areas of the map workspace: an area, and what happened inside it in a period.

An area is asked for in one of five ways (:func:`resolve_area`): a drawn GeoJSON Polygon or
MultiPolygon (WGS84 longitude/latitude), a circle (centre and radius in metres), or a
community, a facility (a circle around it) or a road (a buffer along every edge of that name)
picked by name. Each is checked before anything is counted: a clear error names the field.

What the answer holds depends on the caller (:mod:`api.release`), and one rule decides it
(:func:`area_report`):

- **admin**: every located incident inside the area, exactly; the incident list on request.
- **liaison**: the area is clipped to the communities of their jurisdiction first; an area
  wholly outside it is refused (403), one reaching outside is answered for the part inside and
  says so (``clipped``, ``outside_share``). Incidents outside are never read.
- **planner** and **client**: no new unit is made. The answer is the sum of the communities
  whose representative point lies inside the area (the rule a bounding box selects released
  units by), each as the release rules publish it for the same whole month, quarter or year
  (:func:`api.services.aggregates.community_counts_report`); a community whose count is hidden
  (``"<3"``) is left out of the sum and counted (``protected_units``). The sum is thus a sum of
  published figures: two overlapping areas differ by published figures only, and nothing the
  release rules hide can be recovered by drawing. Hours, weekdays and the incident list are
  refused (422 and 403), as everywhere else.

Exact callers count incidents located by point (``exact`` or ``address`` precision): a
record placed at its community's centroid, or without coordinates, has no place inside a
drawn area and is left out (``left_out_imprecise``). Their rate is per 10,000 residents of the
area, each community's residents weighted by the share of its area inside (an estimate that
assumes residents spread evenly over a community; ``population_basis`` says so).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from shapely.geometry.base import BaseGeometry

from api import store
from api.errors import FieldError, ForbiddenError
from api.release import Visibility, release_provenance
from api.services import ServiceContext, generated_at, period_provenance
from api.services.aggregates import community_counts_report
from api.services.categories import resolve_categories
from api.services.streets import street_lines
from api.services.units import communities_in_period, world_communities
from geo.errors import NotFoundError, ParameterError
from geo.period import Period, parse_period

__all__ = ["MAX_RADIUS_M", "MAX_VERTICES", "DrawnArea", "area_report", "clip_to_world",
           "resolve_area", "world_outline"]

#: Vertices a drawn polygon may have (a hand-drawn area has tens; a pasted boundary hundreds).
MAX_VERTICES = 2000
#: Radius limits of a circle, a facility's circle and a road's buffer, in metres.
MIN_RADIUS_M = 10.0
MAX_RADIUS_M = 20_000.0
#: A facility's circle and a road's buffer when none is given, in metres.
DEFAULT_FACILITY_RADIUS_M = 500.0
DEFAULT_ROAD_BUFFER_M = 50.0
#: Incidents the list holds at most.
MAX_LIST = 1000
_CIRCLE_SEGMENTS = 64
_WGS84 = {"EPSG:4326", "urn:ogc:def:crs:OGC:1.3:CRS84", "urn:ogc:def:crs:EPSG::4326",
          "OGC:CRS84", "CRS84"}
_FIELD = "body.area"


@dataclass(frozen=True)
class DrawnArea:
    """An area resolved from its request.

    Attributes
    ----------
    geometry
        (Multi)polygon in EPSG:4326; for a liaison after :func:`clip_to_world`, the part
        inside their jurisdiction.
    kind
        ``polygon``, ``circle``, ``community``, ``facility`` or ``road``.
    label
        What was picked (a name or code), or the kind for a drawn area.
    clipped
        The area reached outside the caller's jurisdiction and was cut to it.
    outside_share
        Share of the asked area's ground area that lay outside (0 when not clipped).
    """

    geometry: BaseGeometry
    kind: str
    label: str
    clipped: bool = False
    outside_share: float = 0.0


def _bad(field: str, message: str) -> ParameterError:
    return ParameterError(f"{field}: {message}", parameter=field)


def _check_crs(spec: Mapping[str, Any]) -> None:
    crs = spec.get("crs")
    if crs is None:
        return
    name = crs
    if isinstance(crs, Mapping):
        properties = crs.get("properties")
        name = properties.get("name") if isinstance(properties, Mapping) else None
    if str(name) not in _WGS84:
        raise _bad(f"{_FIELD}.crs", f"areas are WGS84 longitude/latitude (EPSG:4326 or "
                                    f"OGC:CRS84); got {name!r}: transform the coordinates first")


def _drawn_polygon(geojson: Mapping[str, Any]) -> BaseGeometry:
    field = f"{_FIELD}.geometry"
    kind = geojson.get("type")
    if kind not in ("Polygon", "MultiPolygon"):
        raise _bad(f"{field}.type", f"expected a GeoJSON Polygon or MultiPolygon; got {kind!r}")
    if "crs" in geojson:
        _check_crs({"crs": geojson["crs"]})
    try:
        geom = shapely.geometry.shape(dict(geojson))
    except (ValueError, TypeError, IndexError, AttributeError, KeyError,
            shapely.errors.ShapelyError) as exc:
        raise _bad(f"{field}.coordinates", f"not a valid {kind}: {exc}") from None
    coords = shapely.get_coordinates(geom)
    if len(coords) > MAX_VERTICES:
        raise _bad(f"{field}.coordinates", f"at most {MAX_VERTICES} vertices; got {len(coords)}")
    if len(coords) == 0 or not np.isfinite(coords).all():
        raise _bad(f"{field}.coordinates", "expected finite longitude/latitude pairs")
    lon, lat = coords[:, 0], coords[:, 1]
    if (np.abs(lon) > 180).any() or (np.abs(lat) > 90).any():
        raise _bad(f"{field}.coordinates",
                   f"coordinates must be WGS84 longitude/latitude degrees (-180..180, -90..90); "
                   f"got ({lon[0]:g}, {lat[0]:g}): a projected CRS? transform them first")
    if not shapely.is_valid(geom):
        reason = shapely.is_valid_reason(geom)
        raise _bad(field, f"the polygon is not valid ({reason}); draw it without crossing "
                          f"its own edges")
    if geom.is_empty or geom.area <= 0:
        raise _bad(field, "the polygon has no area")
    return geom


def _metric(ctx: ServiceContext, geom: BaseGeometry) -> gpd.GeoSeries:
    return gpd.GeoSeries([geom], crs="EPSG:4326").to_crs(ctx.metric_crs())


def _to_wgs84(series: gpd.GeoSeries) -> BaseGeometry:
    out: BaseGeometry = series.to_crs("EPSG:4326").iloc[0]
    return out


def _radius(value: Any, default: float, field: str) -> float:
    r = default if value is None else float(value)
    if not math.isfinite(r) or not MIN_RADIUS_M <= r <= MAX_RADIUS_M:
        raise _bad(field, f"expected {MIN_RADIUS_M:g}..{MAX_RADIUS_M:g} metres; got {value!r}")
    return r


def _circle(ctx: ServiceContext, lon: float, lat: float, radius_m: float) -> BaseGeometry:
    centre = _metric(ctx, shapely.Point(lon, lat))
    return _to_wgs84(centre.buffer(radius_m, quad_segs=_CIRCLE_SEGMENTS // 4))


def _pick(frame: gpd.GeoDataFrame, id_col: str, value: str, what: str) -> gpd.GeoDataFrame:
    """The one row whose id (else whose name) is ``value``: 404 unknown, 422 ambiguous."""
    field = f"{_FIELD}.{what}"
    v = value.strip()
    hit = frame[frame[id_col].astype(str) == v]
    if hit.empty:
        hit = frame[frame["name"].astype(str) == v]
    if hit.empty:
        raise NotFoundError(f"{field}: no {what} with {id_col} or name {value!r}",
                            parameter=field)
    if len(hit) > 1:
        raise _bad(field, f"the name {value!r} matches {len(hit)} places "
                          f"({', '.join(hit[id_col].astype(str))}); give the {id_col}")
    return hit


def _community(ctx: ServiceContext, vis: Visibility, value: str) -> tuple[BaseGeometry, str]:
    hit = _pick(ctx.communities(), "code", value, "community")
    if not vis.in_world(hit["code"]).all():
        raise ForbiddenError("the community lies outside this key's jurisdiction",
                             errors=[FieldError(f"{_FIELD}.community",
                                                "outside the key's jurisdiction")])
    return hit.geometry.iloc[0], str(hit["code"].iloc[0])


def _facility(ctx: ServiceContext, vis: Visibility, value: str, radius_m: float
              ) -> tuple[BaseGeometry, str]:
    with ctx.engine.connect() as conn:
        facilities = store.read_facilities(conn)
    # only open facilities with a position can be picked
    facilities = facilities[facilities["closed_on"].isna() & ~facilities.geometry.isna()]
    hit = _pick(facilities, "id", value, "facility")
    point = hit.geometry.iloc[0]
    world = world_outline(ctx, vis)
    if world is not None and not world.covers(point):
        # as the search: a liaison picks the facilities of their own jurisdiction only
        raise ForbiddenError("the facility lies outside this key's jurisdiction",
                             errors=[FieldError(f"{_FIELD}.facility",
                                                "outside the key's jurisdiction")])
    return _circle(ctx, point.x, point.y, radius_m), str(hit["id"].iloc[0])


def _road(ctx: ServiceContext, value: str, buffer_m: float) -> BaseGeometry:
    lines = street_lines(ctx)
    hit = lines[lines["name"].astype("string").fillna("") == value.strip()]
    if hit.empty:
        raise NotFoundError(f"{_FIELD}.road: no road named {value!r}",
                            parameter=f"{_FIELD}.road")
    metric = hit.to_crs(ctx.metric_crs()).geometry.union_all()
    return _to_wgs84(gpd.GeoSeries([metric], crs=ctx.metric_crs()).buffer(buffer_m))


def resolve_area(ctx: ServiceContext, vis: Visibility, spec: Mapping[str, Any]) -> DrawnArea:
    """Resolve an area request (the ``area`` member of a query or a saved area).

    Parameters
    ----------
    ctx
        Service context.
    vis
        The caller: a community outside a liaison's world is refused here.
    spec
        Exactly one of ``geometry`` (GeoJSON Polygon/MultiPolygon), ``circle``
        (``lon``, ``lat``, ``radius_m``), ``community`` (code or name), ``facility`` (id or
        name; with ``radius_m``) or ``road`` (name; with ``buffer_m``); optional ``crs``.

    Returns
    -------
    DrawnArea
        Not yet clipped (:func:`clip_to_world`).

    Raises
    ------
    geo.errors.ParameterError
        Naming the field: a wrong CRS, an invalid or self-intersecting polygon, too many
        vertices, a radius out of range, none or several ways at once.
    geo.errors.NotFoundError
        An unknown community, facility or road.
    api.errors.ForbiddenError
        A community outside a liaison's jurisdiction.
    """
    _check_crs(spec)
    ways = [k for k in ("geometry", "circle", "community", "facility", "road")
            if spec.get(k) is not None]
    if len(ways) != 1:
        raise _bad(_FIELD, f"give exactly one of geometry, circle, community, facility or "
                           f"road; got {ways or 'none'}")
    way = ways[0]
    if way == "geometry":
        return DrawnArea(_drawn_polygon(spec["geometry"]), "polygon", "polygon")
    if way == "circle":
        c = spec["circle"]
        radius = _radius(c.get("radius_m"), math.nan, f"{_FIELD}.circle.radius_m")
        lon, lat = float(c["lon"]), float(c["lat"])
        if not (-180 <= lon <= 180 and -90 <= lat <= 90):
            raise _bad(f"{_FIELD}.circle", f"the centre must be WGS84 longitude/latitude; got "
                                           f"({lon:g}, {lat:g})")
        return DrawnArea(_circle(ctx, lon, lat, radius), "circle", f"{radius:g} m")
    if way == "community":
        geom, code = _community(ctx, vis, str(spec["community"]))
        return DrawnArea(geom, "community", code)
    if way == "facility":
        radius = _radius(spec.get("radius_m"), DEFAULT_FACILITY_RADIUS_M, f"{_FIELD}.radius_m")
        geom, ident = _facility(ctx, vis, str(spec["facility"]), radius)
        return DrawnArea(geom, "facility", ident)
    buffer = _radius(spec.get("buffer_m"), DEFAULT_ROAD_BUFFER_M, f"{_FIELD}.buffer_m")
    return DrawnArea(_road(ctx, str(spec["road"]), buffer), "road", str(spec["road"]).strip())


def world_outline(ctx: ServiceContext, vis: Visibility) -> BaseGeometry | None:
    """The union of the caller's communities (``None``: no restriction, admin and protected)."""
    if vis.communities is None:
        return None

    def build() -> BaseGeometry:
        comms = world_communities(ctx, vis)
        return shapely.union_all(shapely.make_valid(np.asarray(comms.geometry.array,
                                                               dtype=object)))
    outline: BaseGeometry = ctx.cached("world_outline", (), build, vis=vis)
    return outline


def clip_to_world(ctx: ServiceContext, vis: Visibility, area: DrawnArea, *,
                  refuse: bool = True) -> DrawnArea:
    """Cut an area to a liaison's jurisdiction (anyone else's is returned unchanged).

    Parameters
    ----------
    refuse
        Raise for an area wholly outside (a query, a save); false returns it with an empty
        geometry and ``outside_share`` 1 (a saved area read after a jurisdiction change).

    Raises
    ------
    api.errors.ForbiddenError
        When the area lies wholly outside the jurisdiction and ``refuse`` is set.
    """
    world = world_outline(ctx, vis)
    if world is None:
        return area
    inside = shapely.intersection(area.geometry, world)
    inside = shapely.make_valid(inside) if not inside.is_empty else inside
    polygons = shapely.get_parts(inside)
    inside = shapely.union_all([p for p in polygons if p.area > 0]) if len(polygons) else inside
    asked_m2 = float(_metric(ctx, area.geometry).area.iloc[0])
    kept_m2 = 0.0 if inside.is_empty else float(_metric(ctx, inside).area.iloc[0])
    share_out = 0.0 if asked_m2 <= 0 else max(0.0, 1.0 - kept_m2 / asked_m2)
    if kept_m2 <= 0 and refuse:
        raise ForbiddenError("the area lies wholly outside this key's jurisdiction",
                             errors=[FieldError(_FIELD, "outside the key's jurisdiction")])
    clipped = share_out > 1e-9
    return DrawnArea(inside if clipped else area.geometry, area.kind, area.label, clipped,
                     round(share_out, 6))


# --- what happened inside ---------------------------------------------------------------------


def _months(p: Period) -> list[Period]:
    out = []
    day = p.start.replace(day=1)
    while day < p.end:
        out.append(parse_period(f"{day.year:04d}-{day.month:02d}"))
        day = (day + dt.timedelta(days=32)).replace(day=1)
    return out


def _area_population(ctx: ServiceContext, vis: Visibility, p: Period,
                     geometry: BaseGeometry) -> float:
    """Residents of the area: each community's, weighted by the share of its area inside."""
    comms = communities_in_period(ctx, vis, p)
    geoms = np.asarray(comms.geometry.array, dtype=object)
    meets = shapely.intersects(geoms, geometry)
    if not meets.any():
        return 0.0
    chosen = comms[meets]
    metric = chosen.to_crs(ctx.metric_crs())
    area = _metric(ctx, geometry).iloc[0]
    whole = metric.geometry.area.to_numpy()
    inside = shapely.intersection(np.asarray(metric.geometry.array, dtype=object), area)
    share = np.where(whole > 0, shapely.area(inside) / np.where(whole > 0, whole, 1), 0.0)
    return float((chosen["population"].fillna(0).to_numpy(dtype=np.float64) * share).sum())


def _incidents_inside(ctx: ServiceContext, vis: Visibility, p: Period, cats: tuple[str, ...],
                      cases_only: bool, area: DrawnArea) -> tuple[gpd.GeoDataFrame, int]:
    """Incidents of the caller's world located inside the area; and those left out as imprecise."""
    bounds = tuple(float(b) for b in area.geometry.bounds)
    query = store.IncidentQuery(period=p, timezone=ctx.timezone, categories=cats,
                                communities=vis.community_filter(), bbox=bounds,  # type: ignore[arg-type]
                                case_definition=ctx.case_definition if cases_only else None)
    with ctx.engine.connect() as conn:
        frame = store.read_incidents(conn, query)
    shapely.prepare(area.geometry)
    inside = shapely.covers(area.geometry, np.asarray(frame.geometry.array, dtype=object))
    frame = frame[inside].reset_index(drop=True)
    imprecise = frame["location_precision"].astype("string").fillna("") == "centroid"
    return frame[~imprecise.to_numpy()].reset_index(drop=True), int(imprecise.sum())


def _hour_filter(frame: gpd.GeoDataFrame, hours: Sequence[int], weekdays: Sequence[int],
                 timezone: str) -> gpd.GeoDataFrame:
    if not hours and not weekdays:
        return frame
    local = frame["occurred_at"].dt.tz_convert(ZoneInfo(timezone))
    keep = np.ones(len(frame), dtype=bool)
    if hours:
        keep &= local.dt.hour.isin(list(hours)).to_numpy()
    if weekdays:
        keep &= local.dt.day_of_week.isin(list(weekdays)).to_numpy()
    return frame[keep].reset_index(drop=True)


def _incident_rows(frame: gpd.GeoDataFrame, timezone: str, limit: int) -> list[dict[str, Any]]:
    rows = []
    for rec in frame.head(limit).itertuples(index=False):
        geom = rec.geometry
        rows.append({"id": str(rec.id),
                     "occurred_at": rec.occurred_at.tz_convert(timezone).isoformat(),
                     "category": None if pd.isna(rec.category) else str(rec.category),
                     "status": None if pd.isna(rec.status) else str(rec.status),
                     "address": None if pd.isna(rec.address) else str(rec.address),
                     "community_code": None if pd.isna(rec.community_code)
                     else str(rec.community_code),
                     "longitude": float(geom.x), "latitude": float(geom.y)})
    return rows


def _exact(ctx: ServiceContext, vis: Visibility, p: Period, cats: tuple[str, ...],
           options: Mapping[str, Any], area: DrawnArea) -> dict[str, Any]:
    frame, imprecise = _incidents_inside(ctx, vis, p, cats, options["cases_only"], area)
    frame = _hour_filter(frame, options["hours"], options["weekdays"], ctx.timezone)
    n = len(frame)
    population = _area_population(ctx, vis, p, area.geometry)
    local_month = frame["occurred_at"].dt.tz_convert(ZoneInfo(ctx.timezone)).dt.strftime("%Y-%m")
    per_month = local_month.value_counts()
    trend = [{"month": m.label, "incidents": int(per_month.get(m.label, 0))} for m in _months(p)]
    by_cat = frame["category"].astype("string").fillna("").value_counts()
    out: dict[str, Any] = {
        "incidents": n, "population": round(population, 1),
        "incidents_per_10k": None if population <= 0 else n / population * 1e4,
        "trend": trend,
        "by_category": [{"category": str(c) or None, "incidents": int(k)}
                        for c, k in by_cat.sort_values(ascending=False).items()],
        "left_out_imprecise": imprecise, "population_basis": "area-weighted",
    }
    if options["list"]:
        out["items"] = _incident_rows(frame, ctx.timezone, options["limit"])
        out["count"] = len(out["items"])
    return out


def _released_sum(ctx: ServiceContext, vis: Visibility, p: Period, categories: Sequence[str],
                  cases_only: bool, codes: set[str]) -> tuple[int, int, float, int]:
    """Sum of the released counts of ``codes`` for ``p``: (sum, hidden units, population, units)."""
    rep = community_counts_report(ctx, vis, period=p, categories=categories,
                                  cases_only=cases_only)
    rows = rep.frame[rep.frame["code"].astype(str).isin(codes)]
    hidden = rows["suppressed"].to_numpy(dtype=bool)
    shown = rows["incidents"].to_numpy()[~hidden]
    population = float(rows["population"].to_numpy(dtype=np.float64)[~hidden].sum())
    return int(sum(int(v) for v in shown)), int(hidden.sum()), population, len(rows)


def _protected(ctx: ServiceContext, vis: Visibility, p: Period, categories: Sequence[str],
               options: Mapping[str, Any], area: DrawnArea) -> dict[str, Any]:
    comms = communities_in_period(ctx, vis, p)
    points = shapely.point_on_surface(np.asarray(comms.geometry.array, dtype=object))
    codes = set(comms["code"].astype(str)[shapely.covers(area.geometry, points)])
    total, hidden, population, units = _released_sum(ctx, vis, p, categories,
                                                     options["cases_only"], codes)
    trend = []
    for month in _months(p):
        n, h, _, _ = _released_sum(ctx, vis, month, categories, options["cases_only"], codes)
        trend.append({"month": month.label, "incidents": n, "protected_units": h})
    return {"incidents": total, "population": population,
            "incidents_per_10k": None if population <= 0 else total / population * 1e4,
            "trend": trend, "units": units, "units_summed": units - hidden,
            "protected_units": hidden, "unit_codes": sorted(codes),
            "population_basis": "released units"}


def area_report(ctx: ServiceContext, vis: Visibility, *, area: Mapping[str, Any],
                period: Period, categories: Sequence[str] = (), hours: Sequence[int] = (),
                weekdays: Sequence[int] = (), cases_only: bool = True,
                list_incidents: bool = False, limit: int = 200) -> dict[str, Any]:
    """Counts, rate, monthly trend and (on request) the incidents of an area for a period.

    Parameters
    ----------
    ctx
        Service context.
    vis
        The caller (see the module docstring for what each role gets).
    area
        The area request (:func:`resolve_area`).
    period
        The period (whole months, quarters or years for a protected caller).
    categories
        Only these categories (one configured group for a protected caller).
    hours, weekdays
        Local hours 0-23 and weekdays 0 (Monday)-6 to keep (exact callers only).
    cases_only
        Count only records the case definition counts.
    list_incidents
        Also list the incidents (raw readers only), at most ``limit``.
    limit
        Incidents listed at most (1..:data:`MAX_LIST`).

    Returns
    -------
    dict
        ``area`` (kind, label, geometry, area_km2, clipped, outside_share), ``incidents``,
        ``population``, ``incidents_per_10k`` (for the period, not annualised), ``trend`` (one
        row per month), role-specific members and ``provenance``.

    Raises
    ------
    api.errors.ForbiddenError
        An area wholly outside a liaison's jurisdiction; an incident list asked by a caller
        without raw access.
    geo.errors.ParameterError
        A bad area, a period that is not whole months for a protected caller, hours or
        weekdays asked by a protected caller (naming the field).
    """
    p = vis.check_period(period, parameter="body.period")
    vis.check_hour_filter(bool(hours), parameter="body.hours")
    vis.check_hour_filter(bool(weekdays), parameter="body.weekdays")
    if list_incidents:
        vis.check_raw("an incident list")
    if not 1 <= limit <= MAX_LIST:
        raise _bad("body.limit", f"expected 1..{MAX_LIST}; got {limit}")
    drawn = clip_to_world(ctx, vis, resolve_area(ctx, vis, area))
    options = {"cases_only": cases_only, "hours": tuple(hours), "weekdays": tuple(weekdays),
               "list": list_incidents, "limit": limit}
    if vis.protected:
        body = _protected(ctx, vis, p, categories, options, drawn)
        cats_prov: dict[str, Any] = {}
    else:
        selected = resolve_categories(ctx, vis, categories, parameter="body.category")
        body = _exact(ctx, vis, p, selected.raw, options, drawn)
        cats_prov = selected.provenance()
    area_km2 = float(_metric(ctx, drawn.geometry).area.iloc[0]) / 1e6
    prov = period_provenance(p, ctx.timezone)
    prov.update({"data_version": ctx.data_version(), "generated_at": generated_at(),
                 "categories": list(categories), "clipped": drawn.clipped,
                 "min_count_shown": vis.min_count, "metric_crs": ctx.metric_crs().to_string(),
                 **cats_prov})
    if not vis.protected:
        prov.update({"hours": list(hours), "weekdays": list(weekdays)})
    return {"area": {"kind": drawn.kind, "label": drawn.label,
                     "geometry": shapely.geometry.mapping(drawn.geometry),
                     "area_km2": round(area_km2, 6), "clipped": drawn.clipped,
                     "outside_share": drawn.outside_share},
            **body, "provenance": release_provenance(prov, vis=vis)}
