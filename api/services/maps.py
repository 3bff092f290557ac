"""Build the maps of :mod:`maps` from stored data, as the caller may see it.

The builders draw what the services compute and release; this module only chooses the inputs:
the period, the area, the categories, and the caller's visibility (:mod:`api.release`). A
raw reader's incident map holds the points of their world; a protected caller's holds only
cells of the published grid with counts released by the cell-key method; every other map is
fed frames already released for the caller (their world's rows; no value computed from an
exact count for a protected caller).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import folium
import geopandas as gpd
import pandas as pd

from api import store
from api.errors import ForbiddenError
from api.release import Selection, Visibility
from api.services import ServiceContext
from api.services.aggregates import grid_counts_report
from api.services.categories import category_map, resolve_categories
from api.services.coverage import camera_result, compound_result
from api.services.rates import hotspot_result, hotspots_report, rates_result, released_rates
from api.services.standard import active_profile, evaluation, incident_criteria
from api.services.units import world_communities
from geo.errors import MissingDataError, ParameterError
from geo.hotspots import HotspotResult
from geo.period import Period
from geo.rates import RatesResult
from maps import (
    MAP_KINDS,
    IncidentCells,
    MapOptions,
    alerts_map,
    coverage_map,
    density_map,
    emerging_map,
    hotspot_map,
    incident_map,
    near_repeat_map,
    protection_map,
    rates_map,
    standard_map,
)

__all__ = ["COVERAGE_TYPES", "MAP_KINDS", "PNG_SIZE", "BuiltMap", "build_map", "map_options",
           "map_png", "write_maps"]

#: Size of a map picture (:func:`map_png`) in CSS pixels: width, height.
PNG_SIZE = (1600, 1000)

#: Facility types drawn on the coverage map when none is chosen.
COVERAGE_TYPES = ("police_office", "service_station", "health_station")


@dataclass(frozen=True)
class BuiltMap:
    """A map page and what it released.

    Attributes
    ----------
    map
        The folium map.
    incidents_released
        Raw incidents the page holds (points with ids, times and addresses); ``None`` when it
        holds none.
    """

    map: folium.Map
    incidents_released: int | None = None


def map_options(ctx: ServiceContext, *, period: Period | None,
                language: str | None = None) -> MapOptions:
    """Map options from the settings (language, operator tiles) for a period."""
    s = ctx.settings.maps
    return MapOptions(language=language or s.language, tile_url=s.tile_url,  # type: ignore[arg-type]
                      tile_attribution=s.tile_attribution, tiles_gcj02=s.tiles_gcj02,
                      period_label=period.label if period else None,
                      generated_at=dt.datetime.now(dt.UTC),
                      timezone=ctx.timezone)


def _drawn(ctx: ServiceContext, vis: Visibility, selection: Selection | None
           ) -> gpd.GeoDataFrame:
    comms = world_communities(ctx, vis)
    if selection is not None and selection.communities is not None:
        comms = comms[comms["code"].isin(selection.communities)]
    return comms.reset_index(drop=True)


def build_map(ctx: ServiceContext, vis: Visibility, kind: str, *,
              period: Period | str | None = None, categories: Sequence[str] = (),
              facility_type: str | None = None, selection: Selection | None = None,
              hotspots_on: str = "rate", language: str | None = None,
              reach: str = "line") -> BuiltMap:
    """Build one map as the caller may see it.

    Parameters
    ----------
    ctx
        Service context.
    vis
        The caller.
    kind
        One of :data:`maps.MAP_KINDS`.
    period
        The period (default: the year of the latest incident; a whole month, quarter or year
        for a protected caller).
    categories
        Incident categories (incidents, rates and hot-spot maps; groups for a protected
        caller).
    facility_type
        The coverage map's facility type (default: police office, service station and health
        station together).
    selection
        Draw only these communities (a district, subdistrict, communities or bbox).
    hotspots_on
        The hot-spot map's unit: ``rate`` (communities) or ``grid`` (cells of the
        ``geo.grid_cell_m`` setting).
    language
        ``zh`` or ``en`` (default: the ``maps.language`` setting).
    reach
        The coverage map's reach: ``line`` (circles), ``walk`` or ``drive`` (service areas
        along the roads; :mod:`api.services.reach`).

    Returns
    -------
    BuiltMap

    Raises
    ------
    geo.errors.ParameterError
        Unknown kind.
    geo.errors.MissingDataError
        No facility of the coverage map's types is loaded.
    """
    if kind not in MAP_KINDS:
        raise ParameterError(f"map kind must be one of {', '.join(MAP_KINDS)}; got {kind!r}",
                             parameter="kind")
    p = vis.check_period(ctx.period(period))
    opts = map_options(ctx, period=p, language=language)
    comms = _drawn(ctx, vis, selection)
    cats = resolve_categories(ctx, vis, categories).raw
    builders: dict[str, Callable[[], BuiltMap]] = {
        "incidents": lambda: _incident_page(ctx, vis, p, (categories, cats), selection, comms,
                                            opts),
        "rates": lambda: BuiltMap(_rates_page(ctx, vis, p, (categories, cats), comms, opts)),
        "hotspots": lambda: BuiltMap(_hotspot_page(ctx, vis, p, (categories, cats), hotspots_on,
                                                   selection, comms, opts)),
        "emerging": lambda: BuiltMap(_emerging_page(ctx, vis, p, categories, selection, comms,
                                                    opts)),
        "kde": lambda: BuiltMap(_density_page(ctx, vis, p, categories, selection, comms, opts)),
        "near-repeat": lambda: _near_repeat_page(ctx, vis, p, categories, selection, comms,
                                                 opts),
        "alerts": lambda: BuiltMap(_alerts_page(ctx, vis, p, categories, selection, comms,
                                                opts)),
        "protection": lambda: BuiltMap(_protection_page(ctx, vis, p, comms, opts)),
        "coverage": lambda: BuiltMap(_coverage_page(ctx, p, facility_type, comms, opts,
                                                    reach)),
        "standard": lambda: BuiltMap(_standard_page(ctx, vis, p, comms, opts)),
    }
    return builders[kind]()


#: The categories of a map: as asked (for report services, which resolve them for the caller,
#: groups included) and as resolved (stored categories, for result services).
_Cats = tuple[Sequence[str], tuple[str, ...]]


def _incident_page(ctx: ServiceContext, vis: Visibility, p: Period, both: _Cats,
                   selection: Selection | None, comms: gpd.GeoDataFrame,
                   opts: MapOptions) -> BuiltMap:
    asked, cats = both
    if vis.raw:
        from api.services.nearrepeat import selected_incidents

        incidents = selected_incidents(ctx, vis, p, cats, selection)
        mapping = category_map(ctx)
        if mapping is not None:  # the legend names canonical categories
            incidents = incidents.assign(category=incidents["category"].map(
                lambda c: mapping.canonical(c) if isinstance(c, str) else c))
        return BuiltMap(incident_map(comms, incidents, options=opts), len(incidents))
    cell = min(vis.cell_sizes_m)
    rep = grid_counts_report(ctx, vis, period=p, cell_m=cell, categories=asked,
                             selection=selection)
    frame = pd.DataFrame({
        "ix": rep.frame["ix"].to_numpy(), "iy": rep.frame["iy"].to_numpy(),
        "count": pd.array([None if h else int(v) for v, h in zip(
            rep.frame["incidents"], rep.frame["suppressed"], strict=True)], dtype="Int64"),
        "suppressed": rep.frame["suppressed"].to_numpy(dtype=bool)})
    cells = IncidentCells(frame=frame, cell_m=cell, metric_crs=ctx.metric_crs(),
                          min_count=vis.min_count)
    return BuiltMap(incident_map(comms, cells=cells, options=opts))


def _protected_rates_result(ctx: ServiceContext, vis: Visibility, p: Period,
                            cats: tuple[str, ...]) -> RatesResult:
    """Released community rates in the form the rate map draws (no exact figure inside)."""
    compare = p.compare_period("last-year")
    frame = released_rates(ctx, vis, p, compare="last-year", categories=cats).set_index("code")
    return RatesResult(frame=frame, period=p, compare_period=compare, category=None,
                       alpha=0.05, unassigned=0, compare_unassigned=None, no_location=0,
                       not_counted=0, case_definition=ctx.case_definition,
                       timezone=ctx.timezone, notes=())


def _classes_result(frame: pd.DataFrame, key: str, unit: str, result: HotspotResult
                    ) -> HotspotResult:
    """A hot-spot result holding the released classes only."""
    return replace(result, frame=frame.set_index(key), unit=unit)  # type: ignore[arg-type]


def _rates_page(ctx: ServiceContext, vis: Visibility, p: Period, both: _Cats,
                comms: gpd.GeoDataFrame, opts: MapOptions) -> folium.Map:
    asked, cats = both
    if vis.protected:
        rates = _protected_rates_result(ctx, vis, p, cats)
        spots = hotspots_report(ctx, vis, period=p, on="rate", categories=asked).frame
        classes = _classes_result(pd.DataFrame(spots.drop(columns="geometry")), "code",
                                  "community", hotspot_result(ctx, vis, period=p,
                                                              categories=cats))
        return rates_map(comms, rates, hotspots=classes, options=opts)
    rates = rates_result(ctx, vis, p, compare="last-year", categories=cats)
    spots_exact = hotspot_result(ctx, vis, period=p, on="rate", categories=cats)
    return rates_map(comms, rates, hotspots=spots_exact, options=opts)


def _hotspot_page(ctx: ServiceContext, vis: Visibility, p: Period, both: _Cats,
                  on: str, selection: Selection | None, comms: gpd.GeoDataFrame,
                  opts: MapOptions) -> folium.Map:
    asked, cats = both
    result = hotspot_result(ctx, vis, period=p, on=on, categories=cats)
    if not vis.protected:
        return hotspot_map(comms, result, options=opts)
    rep = hotspots_report(ctx, vis, period=p, on=on, categories=asked, selection=selection)
    if on == "rate":
        frame = pd.DataFrame(rep.frame.drop(columns="geometry"))
        return hotspot_map(comms, _classes_result(frame, "code", "community", result),
                           options=opts)
    cells = gpd.GeoDataFrame(rep.frame, geometry="geometry", crs="EPSG:4326")
    return hotspot_map(comms, _classes_result(cells, "cell_id", "cell", result), options=opts)


def _emerging_page(ctx: ServiceContext, vis: Visibility, p: Period, categories: Sequence[str],
                   selection: Selection | None, comms: gpd.GeoDataFrame,
                   opts: MapOptions) -> folium.Map:
    from api.services.emerging import emerging_report

    rep = emerging_report(ctx, vis, period=p, categories=categories, selection=selection)
    pv = rep.provenance
    return emerging_map(comms, rep.frame, cell_m=pv["cell_m"], step=pv["step"],
                        steps=len(pv["steps"]), options=opts)


def _density_page(ctx: ServiceContext, vis: Visibility, p: Period, categories: Sequence[str],
                  selection: Selection | None, comms: gpd.GeoDataFrame,
                  opts: MapOptions) -> folium.Map:
    from api.services.density import density_report

    rep = density_report(ctx, vis, period=p, categories=categories, selection=selection)
    pv = rep.provenance
    return density_map(comms, rep.frame, kernel=pv["kernel"], bandwidth_m=pv["bandwidth_m"],
                       cell_m=pv["cell_m"], options=opts)


def _near_repeat_page(ctx: ServiceContext, vis: Visibility, p: Period,
                      categories: Sequence[str], selection: Selection | None,
                      comms: gpd.GeoDataFrame, opts: MapOptions) -> BuiltMap:
    """Risk zones of the period's last 14 days (raw readers only: a 403 for the others)."""
    from api.services.nearrepeat import risk_zones_report

    rep, zones = risk_zones_report(ctx, vis, period=p, categories=categories,
                                   selection=selection)
    page = near_repeat_map(comms, rep.frame, as_of=zones.as_of.isoformat(),
                           recent_days=zones.recent_days, radius_m=zones.radius_m,
                           days=zones.days, options=opts)
    return BuiltMap(page, len(rep.frame))


def _alerts_page(ctx: ServiceContext, vis: Visibility, p: Period, categories: Sequence[str],
                 selection: Selection | None, comms: gpd.GeoDataFrame,
                 opts: MapOptions) -> folium.Map:
    """Weekly community alerts as of the period's last day (or the latest incident's)."""
    from api.services.alerts import alerts_report, latest_day

    as_of = min(p.last_day, latest_day(ctx))
    rep = alerts_report(ctx, vis, level="community", as_of=as_of, categories=categories,
                        selection=selection)
    pv = rep.provenance
    return alerts_map(comms, rep.frame, as_of=str(pv["as_of"]), level=str(pv["level"]),
                      resolution=str(pv["resolution"]), options=opts)


def _protection_page(ctx: ServiceContext, vis: Visibility, p: Period,
                     comms: gpd.GeoDataFrame, opts: MapOptions) -> folium.Map:
    from api.services.coverage import protection_report

    cams = camera_result(ctx, p)
    released = protection_report(ctx, vis, period=p).frame.set_index("code")
    cams = replace(cams, frame=pd.DataFrame(released.drop(columns="geometry")),
                   blind_spots=cams.blind_spots[vis.in_world(cams.blind_spots["code"])])
    comp = compound_result(ctx, p)
    comp = replace(comp, frame=comp.frame[comp.frame.index.isin(comms["code"])])
    with ctx.engine.connect() as conn:
        devices = store.read_devices(conn)
    return protection_map(comms, devices=devices, cameras=cams, compliance=comp,
                          camera_kinds=ctx.settings.geo.camera_kinds, options=opts)


def _coverage_page(ctx: ServiceContext, p: Period, facility_type: str | None,
                   comms: gpd.GeoDataFrame, opts: MapOptions, reach: str = "line"
                   ) -> folium.Map:
    from api.services.reach import check_reach, coverage_for_map

    check_reach(reach)
    with ctx.engine.connect() as conn:
        facilities = store.read_facilities(conn)
        present = set(store.facility_types(conn))
    types = [facility_type] if facility_type else [t for t in COVERAGE_TYPES if t in present]
    if not types:
        raise MissingDataError("no facilities of the coverage map's types are loaded")
    codes = set(comms["code"])
    results = []
    areas = {}
    for t in types:
        res, polygons = coverage_for_map(ctx, t, reach=reach, period=p)
        results.append(replace(res, frame=res.frame[res.frame.index.isin(codes)],
                               gaps=res.gaps[res.gaps["code"].isin(codes)]))
        if polygons is not None:
            areas[t] = polygons
    return coverage_map(comms, results, facilities=facilities, options=opts,
                        service_areas=areas or None)


def _standard_page(ctx: ServiceContext, vis: Visibility, p: Period, comms: gpd.GeoDataFrame,
                   opts: MapOptions) -> folium.Map:
    profile = active_profile(ctx)
    ev = evaluation(ctx, profile=profile, period=p).evaluation
    codes = set(comms["code"])
    criteria = ev.criteria[ev.criteria["code"].isin(codes)].copy()
    if vis.protected:
        criteria.loc[criteria["criterion_id"].isin(incident_criteria(profile)), "value"] = None
    ev = replace(ev, criteria=criteria, communities=ev.communities[
        ev.communities["code"].isin(codes)])
    return standard_map(comms, ev, options=opts)


def map_png(built: BuiltMap, *, browser: str | None = None, timeout_s: float = 120.0) -> bytes:
    """A picture of a built map, taken on the server by headless Chromium.

    The page is the stand-alone page :func:`maps.render_html` makes, its assets read from
    pingan's own asset folder (``file://``), so the browser requests nothing from other hosts
    but the operator's tiles when they are configured, and no tile can taint a canvas in the
    caller's browser.

    Parameters
    ----------
    built
        The map, built for the caller (:func:`build_map`).
    browser
        Chromium to run, from ``maps.browser`` (by default the first on ``PATH``).
    timeout_s
        Seconds the browser may take.

    Returns
    -------
    bytes
        The picture, :data:`PNG_SIZE` CSS pixels.

    Raises
    ------
    api.briefing.RendererMissingError
        If no Chromium is installed.
    RuntimeError
        If the browser fails.
    """
    import tempfile

    from api.briefing import RendererMissingError
    from maps import ASSET_DIR, BrowserNotFoundError, export_png, render_html

    html = render_html(built.map, asset_base=ASSET_DIR.as_uri() + "/")
    with tempfile.TemporaryDirectory(prefix="pingan-map-png-") as folder:
        page = Path(folder) / "map.html"
        page.write_text(html, encoding="utf-8")
        try:
            out = export_png(page, Path(folder) / "map.png", width=PNG_SIZE[0],
                             height=PNG_SIZE[1], browser=browser, timeout_s=timeout_s)
        except BrowserNotFoundError as exc:
            raise RendererMissingError(f"a map picture needs headless Chromium: {exc}; "
                                       "the map page (format=html) works without it") from None
        return out.read_bytes()


def write_maps(ctx: ServiceContext, vis: Visibility, directory: str | Path, *,
               kinds: Sequence[str], png: bool = False, skip_unavailable: bool = False,
               echo: Callable[[str], object] = print, **kwargs: Any) -> list[Path]:
    """Write map pages (and the assets beside them) into a directory.

    Parameters
    ----------
    ctx
        Service context.
    vis
        Whose view the pages show (the command line writes the admin's, or a protected
        caller's with ``--aggregate``).
    directory
        Output directory (created).
    kinds
        Map kinds to write.
    png
        Also export each page as ``KIND.png`` with headless Chromium.
    skip_unavailable
        Skip (and say so) a map the data cannot make (too few steps for emerging hot spots, a
        flat cube, no facility of the coverage map's types) or the reader may not see (risk
        zones for an aggregate reader) instead of failing.
    echo
        Progress messages.
    **kwargs
        Passed to :func:`build_map`.

    Returns
    -------
    list of pathlib.Path
        The pages written.
    """
    from maps import export_png, write_map

    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    pages = []
    for kind in kinds:
        echo(f"building the {kind} map…")
        try:
            built = build_map(ctx, vis, kind, **kwargs)
        except (MissingDataError, ParameterError, ForbiddenError) as exc:
            if not skip_unavailable:
                raise
            echo(f"skipped the {kind} map: {exc}")
            continue
        page = write_map(built.map, out / f"{kind}.html")
        pages.append(page)
        if png:
            export_png(page, out / f"{kind}.png", browser=ctx.settings.maps.browser)
    return pages
