"""The coverage map: facilities by type, their service areas, gaps and suggested new sites.

Service areas are drawn the way :func:`geo.coverage.facility_coverage` measured them: circles of
the effective radius around the facilities of the type that existed during the period, in the
result's metric CRS, merged per type. Reach along roads (:func:`geo.reach.network_coverage`)
passes its service-area polygons (reached roads buffered by the trim width) per type in
``service_areas``; they are drawn instead of the circles.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo.coverage import FacilityCoverage
from geo.inventory import existing_during
from geo.siting import SitePlan
from maps.labels import fmt_count, fmt_number, fmt_ratio, metric_label, table_html, term, text
from maps.options import Language, MapOptions
from maps.page import (
    GeoJsonLayer,
    Legend,
    Style,
    StyleTable,
    bounds_of,
    community_names,
    display_geometries,
    feature_collection,
    finish,
    new_map,
    require_columns,
    wgs84_frame,
)

__all__ = ["FACILITY_COLORS", "ServiceAreas", "coverage_map"]


@dataclass(frozen=True)
class ServiceAreas:
    """Service-area polygons of one facility type along the roads, for :func:`coverage_map`.

    Attributes
    ----------
    polygons
        One polygon per facility (any CRS), from :func:`geo.isochrones.service_areas`.
    reach
        ``walk`` or ``drive``.
    threshold
        Metres (walk) or minutes (drive).
    """

    polygons: gpd.GeoDataFrame
    reach: str
    threshold: float

#: Colour of each known facility type; other types take colours from :data:`_EXTRA_COLORS`.
FACILITY_COLORS: dict[str, str] = {
    "police_station": "#08519c",
    "police_office": "#4292c6",
    "service_station": "#238b45",
    "health_station": "#ce1256",
    "health_center": "#7a0177",
    "fire_station": "#d94801",
}
_EXTRA_COLORS = ("#8c6d31", "#636363", "#17becf", "#bcbd22", "#9467bd", "#8c564b")
_GAP = {"color": "#b10026", "weight": 0.8, "opacity": 0.9, "fillColor": "#fc4e2a",
        "fillOpacity": 0.45}
_SITE = {"color": "#000000", "weight": 2, "fillColor": "#ffd92f", "fillOpacity": 1.0,
         "radius": 8}
_SITE_AREA = {"color": "#000000", "weight": 1.5, "opacity": 0.9, "fillColor": "#ffd92f",
              "fillOpacity": 0.15, "dashArray": "6 4"}
_COMMUNITY = {"color": "#555555", "weight": 1, "opacity": 0.8, "fillColor": "#ffffff",
              "fillOpacity": 0.2}
_CIRCLE_QUAD_SEGS = 16


def _type_colors(types: Sequence[str]) -> dict[str, str]:
    out = {}
    extra = 0
    for t in types:
        if t in FACILITY_COLORS:
            out[t] = FACILITY_COLORS[t]
        else:
            out[t] = _EXTRA_COLORS[extra % len(_EXTRA_COLORS)]
            extra += 1
    return out


def coverage_map(
    communities: gpd.GeoDataFrame,
    coverage: FacilityCoverage | Sequence[FacilityCoverage],
    *,
    facilities: gpd.GeoDataFrame,
    plan: SitePlan | None = None,
    options: MapOptions | None = None,
    service_areas: Mapping[str, ServiceAreas] | None = None,
) -> folium.Map:
    """Draw facilities, service areas, coverage gaps with their residents, and new sites.

    Parameters
    ----------
    communities
        Community polygons with ``code`` and ``name``, any declared CRS.
    coverage
        One :func:`geo.coverage.facility_coverage` result, or several (one per type); the
        first type's service area and gaps are shown on opening, the others can be switched on.
    facilities
        Facility points with ``id``, ``type`` (and ``name``, ``opened_on``, ``closed_on``);
        each type is a layer. With a period in the first coverage, only facilities that existed
        during it are drawn.
    plan
        :func:`geo.siting.plan_facility_sites`: the suggested sites and their service areas.
    options
        Map options.
    service_areas
        Facility type -> :class:`ServiceAreas` (polygons along the roads and their reach),
        drawn instead of that type's circles.

    Returns
    -------
    folium.Map

    Raises
    ------
    TypeError
        If an input has the wrong type.
    ValueError
        If no coverage is given or a column is missing.
    """
    options = options or MapOptions()
    lang = options.language
    comm = wgs84_frame(communities, "communities")
    require_columns(comm, ["code"], "communities")
    results = [coverage] if isinstance(coverage, FacilityCoverage) else list(coverage)
    if not results:
        raise ValueError("coverage must hold at least one FacilityCoverage; got none")
    for r in results:
        if not isinstance(r, FacilityCoverage):
            raise TypeError(f"coverage must hold FacilityCoverage results; got {type(r).__name__}")
    if plan is not None and not isinstance(plan, SitePlan):
        raise TypeError(f"plan must be a SitePlan; got {type(plan).__name__}")
    fac = wgs84_frame(facilities, "facilities")
    require_columns(fac, ["type"], "facilities")
    period = results[0].period
    if period is not None:
        fac = fac[existing_during(
            fac, period,
            start_column="opened_on" if "opened_on" in fac else None,
            end_column="closed_on" if "closed_on" in fac else None,
        ).to_numpy()]
    fac = fac[~(fac.geometry.isna() | fac.geometry.is_empty).to_numpy()]

    geoms = display_geometries(comm.geometry, options, simplify=True)
    m = new_map(text("title.coverage", lang), options, bounds_of(geoms),
                period_label=period.label if period is not None else None)
    codes = comm["code"].astype(str)
    table = StyleTable()
    cidx = table.add(_COMMUNITY)
    GeoJsonLayer(feature_collection(geoms, [cidx] * len(geoms),
                                    tooltips=_community_tooltips(codes, community_names(comm),
                                                                 results, lang),
                                    keys=list(codes)),
                 table.styles, name=text("communities", lang)).add_to(m)

    types = sorted(set(fac["type"].astype(str)) | {r.facility_type for r in results},
                   key=lambda t: (t not in FACILITY_COLORS, t))
    colors = _type_colors(types)
    legend = Legend()
    for n, r in enumerate(results):
        _service_layers(m, r, fac, colors[r.facility_type], options, legend, show=n == 0,
                        areas=(service_areas or {}).get(r.facility_type))
    _facility_layers(m, fac, types, colors, {r.facility_type for r in results}, options, legend)
    if plan is not None:
        _plan_layers(m, plan, options, legend)
    return finish(m, legend)


def _community_tooltips(codes: pd.Series, names: list[str], results: list[FacilityCoverage],
                        lang: Language) -> list[str]:
    frames = []
    for r in results:
        f = r.frame.copy()
        f.index = f.index.astype(str)
        frames.append(f.reindex(pd.Index(codes)))
    out = []
    for i, code in enumerate(codes):
        rows = [(text("field.code", lang), code)]
        for r, f in zip(results, frames, strict=True):
            row = f.iloc[i]
            kind = term("facility", r.facility_type, lang)
            rows += [
                (f"{kind}: {metric_label('facility_covered_population_share', lang)}",
                 fmt_ratio(row.get("facility_covered_population_share"), lang)),
                (f"{kind}: {metric_label('facility_uncovered_population', lang)}",
                 fmt_count(row.get("facility_uncovered_population"), lang)),
            ]
        out.append(table_html(rows, title=names[i]))
    return out


def _service_area(r: FacilityCoverage, of_type: gpd.GeoDataFrame,
                  areas: ServiceAreas | None) -> gpd.GeoSeries | None:
    """The type's service area as one (multi)polygon in EPSG:4326, or None when empty."""
    if areas is not None:
        polys = wgs84_frame(areas.polygons, "service_areas").geometry.to_numpy()
        polys = polys[~shapely.is_empty(polys)] if len(polys) else polys
        return gpd.GeoSeries([shapely.union_all(polys)], crs=4326) if len(polys) else None
    if not len(of_type):
        return None
    xy = of_type.geometry.to_crs(r.metric_crs)
    circles = shapely.buffer(xy.to_numpy(), r.effective_radius_m, quad_segs=_CIRCLE_QUAD_SEGS)
    return gpd.GeoSeries([shapely.union_all(circles)], crs=r.metric_crs).to_crs(4326)


def _reach_label(r: FacilityCoverage, areas: ServiceAreas | None, lang: Language) -> str:
    if areas is None or areas.reach == "line":
        return text("coverage.radius", lang).format(r=fmt_count(r.effective_radius_m, lang))
    return text(f"coverage.{areas.reach}", lang).format(r=fmt_count(areas.threshold, lang))


def _service_layers(m: folium.Map, r: FacilityCoverage, fac: gpd.GeoDataFrame, color: str,
                    options: MapOptions, legend: Legend, *, show: bool,
                    areas: ServiceAreas | None = None) -> None:
    lang = options.language
    kind = term("facility", r.facility_type, lang)
    radius = _reach_label(r, areas, lang)
    of_type = fac[(fac["type"].astype(str) == r.facility_type).to_numpy()]
    area_style: Style = {"color": color, "weight": 1.2, "opacity": 0.9, "fillColor": color,
                         "fillOpacity": 0.12, "dashArray": "5 4"}
    area = _service_area(r, of_type, areas)
    if area is not None:
        shapes = display_geometries(area, options, simplify=True)
        st = StyleTable()
        idx = st.add(area_style)
        GeoJsonLayer(feature_collection(shapes, [idx],
                                        tooltips=[table_html([], title=f"{kind} · {radius}")]),
                     st.styles, name=f"{text('coverage.service_area', lang)}: {kind} ({radius})",
                     show=show).add_to(m)
    gaps = wgs84_frame(r.gaps, "coverage.gaps")
    st = StyleTable()
    gidx = st.add(_GAP)
    names = gaps["name"].astype(object).tolist() if "name" in gaps else [None] * len(gaps)
    tips = []
    for i in range(len(gaps)):
        row = gaps.iloc[i]
        tips.append(table_html([
            (text("coverage.type", lang), kind),
            (text("coverage.gap_population", lang), fmt_count(row.get("population"), lang)),
            (text("coverage.gap_area", lang),
             fmt_number(row.get("gap_area_m2", np.nan) / 1e6, lang, decimals=3, unit="km²")),
        ], title=names[i] if isinstance(names[i], str) else None))
    total = pd.to_numeric(gaps.get("population", pd.Series(dtype=float)), errors="coerce").sum()
    GeoJsonLayer(feature_collection(display_geometries(gaps.geometry, options, simplify=True),
                                    [gidx] * len(gaps), tooltips=tips,
                                    keys=[f"gap:{r.facility_type}:{c}" for c in gaps["code"]]
                                    if "code" in gaps else None),
                 st.styles, name=f"{text('coverage.gaps', lang)}: {kind}", show=show).add_to(m)
    legend.section(f"{kind} ({radius})", [
        (area_style, text("coverage.service_area", lang)),
        (_GAP, f"{text('coverage.gaps', lang)}: {text('coverage.gap_population', lang)} "
               f"{fmt_count(total, lang)}"),
    ])


def _facility_layers(m: folium.Map, fac: gpd.GeoDataFrame, types: list[str],
                     colors: dict[str, str], covered: set[str], options: MapOptions,
                     legend: Legend) -> None:
    lang = options.language
    entries = []
    kinds = fac["type"].astype(str).to_numpy()
    ids = fac["id"].astype(str).to_numpy() if "id" in fac else np.full(len(fac), "")
    names = fac["name"].astype(object).to_numpy() if "name" in fac else np.full(len(fac), None)
    shapes = display_geometries(fac.geometry, options)
    for t in types:
        pick = np.flatnonzero(kinds == t)
        style = {"color": "#ffffff", "weight": 1.5, "fillColor": colors[t], "fillOpacity": 1.0,
                 "radius": 6}
        label = term("facility", t, lang)
        entries.append((style, f"{label} ({len(pick)})"))
        if not len(pick):
            continue
        st = StyleTable()
        idx = st.add(style)
        tips = [table_html([(text("coverage.type", lang), label),
                            (text("field.code", lang), str(ids[j]))],
                           title=str(names[j]) if isinstance(names[j], str) else None)
                for j in pick]
        GeoJsonLayer(feature_collection(shapes[pick], [idx] * len(pick), tooltips=tips,
                                        keys=[str(ids[j]) for j in pick]),
                     st.styles, name=f"{text('coverage.facilities', lang)}: {label}",
                     show=t in covered).add_to(m)
    legend.section(text("coverage.facilities", lang), entries)


def _site_community(row: pd.Series, lang: Language) -> str:
    """The name and code of the community a suggested site lies in, or the no-data label."""
    code, name = row.get("community_code"), row.get("community_name")
    if not isinstance(code, str):
        return text("no_data", lang)
    return f"{name} ({code})" if isinstance(name, str) else code


def _plan_layers(m: folium.Map, plan: SitePlan, options: MapOptions, legend: Legend) -> None:
    lang = options.language
    sites = wgs84_frame(plan.sites, "plan.sites")
    sites = sites[~(sites.geometry.isna() | sites.geometry.is_empty).to_numpy()]
    radius = text("coverage.radius", lang).format(r=fmt_count(plan.radius_m, lang))
    if len(sites):
        circles = shapely.buffer(sites.geometry.to_crs(plan.metric_crs).to_numpy(), plan.radius_m,
                                 quad_segs=_CIRCLE_QUAD_SEGS)
        area = gpd.GeoSeries(circles, crs=plan.metric_crs).to_crs(4326)
        st = StyleTable()
        aidx = st.add(_SITE_AREA)
        GeoJsonLayer(feature_collection(display_geometries(area, options), [aidx] * len(sites)),
                     st.styles, name=f"{text('coverage.site_area', lang)} ({radius})").add_to(m)
        st = StyleTable()
        sidx = st.add(_SITE)
        ids = (sites["candidate_id"].astype(str).tolist() if "candidate_id" in sites
               else [str(i) for i in range(len(sites))])
        popups = []
        for i in range(len(sites)):
            row = sites.iloc[i]
            popups.append(table_html([
                (text("coverage.candidate", lang), ids[i]),
                (text("coverage.site_community", lang), _site_community(row, lang)),
                (text("coverage.site_lonlat", lang),
                 f"{row.geometry.x:.6f}, {row.geometry.y:.6f}"),
                (text("coverage.newly_covered", lang),
                 fmt_count(row.get("population_newly_covered"), lang)),
                (text("coverage.reached", lang), fmt_count(row.get("population_reached"), lang)),
            ], title=f"{text('coverage.sites', lang)} {i + 1}"))
        GeoJsonLayer(feature_collection(display_geometries(sites.geometry, options),
                                        [sidx] * len(sites), tooltips=popups, popups=popups,
                                        keys=ids),
                     st.styles, name=f"{text('coverage.sites', lang)} ({len(sites)})").add_to(m)
    note = text("coverage.before_after", lang).format(a=fmt_ratio(plan.coverage_before, lang),
                                                      b=fmt_ratio(plan.coverage_after, lang))
    legend.section(text("coverage.sites", lang),
                   [(_SITE, f"{text('coverage.sites', lang)} ({len(sites)})"),
                    (_SITE_AREA, text("coverage.site_area", lang))], note=note)
