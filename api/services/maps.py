"""Build the maps of :mod:`maps` from stored data and the other services' results.

The builders draw what the services compute; this module only chooses the inputs: the period,
the area (a district), the categories, and what the reader may see (incident points, or only
aggregated cells with small counts suppressed).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Literal

import folium
import geopandas as gpd

from api import store
from api.services import ServiceContext
from api.services.coverage import (
    camera_result,
    compound_result,
    coverage_result,
    default_period,
)
from api.services.rates import communities, hotspot_result, metric_crs, rates_result
from api.services.standard import active_profile, evaluation
from geo.period import Period
from maps import (
    MAP_KINDS,
    MapOptions,
    aggregate_incidents,
    coverage_map,
    hotspot_map,
    incident_map,
    protection_map,
    rates_map,
    standard_map,
)

__all__ = ["COVERAGE_TYPES", "MAP_KINDS", "View", "build_map", "map_options", "write_maps"]

View = Literal["points", "cells"]

#: Facility types drawn on the coverage map when none is chosen.
COVERAGE_TYPES = ("police_office", "service_station", "health_station")


def map_options(ctx: ServiceContext, *, period: Period | None,
                language: str | None = None) -> MapOptions:
    """Map options from the settings (language, operator tiles) for a period."""
    s = ctx.settings.maps
    return MapOptions(language=language or s.language, tile_url=s.tile_url,  # type: ignore[arg-type]
                      tile_attribution=s.tile_attribution, tiles_gcj02=s.tiles_gcj02,
                      period_label=period.label if period else None,
                      generated_at=dt.datetime.now(dt.UTC),
                      timezone=ctx.timezone)


def _area(ctx: ServiceContext, district: str | None,
          jurisdictions: Sequence[str] | None) -> gpd.GeoDataFrame:
    comms = communities(ctx)
    if district:
        comms = comms[(comms["district_code"] == district) | (comms["district"] == district)]
        if comms.empty:
            raise KeyError(f"no district {district!r}")
    if jurisdictions is not None:
        allowed = set(jurisdictions)
        comms = comms[comms["district_code"].isin(allowed)
                      | comms["subdistrict_code"].isin(allowed)]
    return comms.reset_index(drop=True)


def build_map(ctx: ServiceContext, kind: str, *, period: Period | str | None = None,
              categories: Sequence[str] = (), facility_type: str | None = None,
              district: str | None = None, view: View = "points",
              jurisdictions: Sequence[str] | None = None, hotspots_on: str = "rate",
              language: str | None = None) -> folium.Map:
    """Build one map.

    Parameters
    ----------
    ctx
        Service context.
    kind
        One of :data:`maps.MAP_KINDS`.
    period
        The period (default: the year of the latest incident).
    categories
        Incident categories (incidents, rates and hot-spot maps).
    facility_type
        The coverage map's facility type (default: police office, service station and health
        station together).
    district
        Draw only this district (code or name).
    view
        ``points``: incident points may be shown; ``cells``: incidents only as grid cells of
        at least the ``api.min_grid_cell_m`` setting with counts below ``api.min_count_shown``
        suppressed, and grid hot spots with their small counts masked.
    jurisdictions
        When given, incident points are limited to these district/subdistrict codes.
    hotspots_on
        The hot-spot map's unit: ``rate`` (communities) or ``grid`` (cells of the
        ``geo.grid_cell_m`` setting).
    language
        ``zh`` or ``en`` (default: the ``maps.language`` setting).

    Returns
    -------
    folium.Map

    Raises
    ------
    ValueError
        Unknown kind or view.
    KeyError
        Unknown district.
    """
    if kind not in MAP_KINDS:
        raise ValueError(f"map kind must be one of {', '.join(MAP_KINDS)}; got {kind!r}")
    if view not in ("points", "cells"):
        raise ValueError(f"view must be 'points' or 'cells'; got {view!r}")
    p = default_period(ctx, period)
    opts = map_options(ctx, period=p, language=language)
    comms = _area(ctx, district, None)
    cats = tuple(sorted({c.strip().lower() for c in categories if c.strip()}))
    api = ctx.settings.api
    if kind == "incidents":
        allowed = _area(ctx, district, jurisdictions) if jurisdictions is not None else comms
        query = store.IncidentQuery(period=p, timezone=ctx.timezone, categories=cats,
                                    communities=tuple(allowed["code"]),
                                    case_definition=ctx.case_definition)
        with ctx.engine.connect() as conn:
            incidents = store.read_incidents(conn, query)
        if view == "cells":
            cells = aggregate_incidents(incidents, cell_m=api.min_grid_cell_m,
                                        min_count=api.min_count_shown,
                                        metric_crs=metric_crs(ctx))
            return incident_map(comms, cells=cells, options=opts)
        return incident_map(comms, incidents, options=opts)
    if kind == "rates":
        rates = rates_result(ctx, p, compare="last-year", categories=cats)
        spots = hotspot_result(ctx, period=p, on="rate", categories=cats)
        return rates_map(comms, rates, hotspots=spots, options=opts)
    if kind == "hotspots":
        spots = hotspot_result(ctx, period=p, on=hotspots_on, categories=cats)
        if hotspots_on == "grid" and view == "cells":
            if ctx.settings.geo.grid_cell_m < api.min_grid_cell_m:
                raise ValueError(f"grid cells of {ctx.settings.geo.grid_cell_m:g} m are finer "
                                 f"than the {api.min_grid_cell_m:g} m allowed for aggregates")
            return hotspot_map(comms, spots, min_count_shown=api.min_count_shown,
                               options=opts)
        return hotspot_map(comms, spots, options=opts)
    if kind == "protection":
        with ctx.engine.connect() as conn:
            devices = store.read_devices(conn)
        return protection_map(comms, devices=devices, cameras=camera_result(ctx, p),
                              compliance=compound_result(ctx, p),
                              camera_kinds=ctx.settings.geo.camera_kinds, options=opts)
    if kind == "coverage":
        with ctx.engine.connect() as conn:
            facilities = store.read_facilities(conn)
            present = set(store.facility_types(conn))
        types = [facility_type] if facility_type else [t for t in COVERAGE_TYPES
                                                        if t in present]
        if not types:
            raise ValueError("no facilities of the coverage map's types are loaded")
        results = [coverage_result(ctx, t, radius_m=None, period=p) for t in types]
        return coverage_map(comms, results, facilities=facilities, options=opts)
    res = evaluation(ctx, profile=active_profile(ctx), period=p)
    return standard_map(comms, res.evaluation, options=opts)


def write_maps(ctx: ServiceContext, directory: str | Path, *, kinds: Sequence[str],
               png: bool = False, echo: Callable[[str], object] = print,
               **kwargs: Any) -> list[Path]:
    """Write map pages (and the assets beside them) into a directory.

    Parameters
    ----------
    ctx
        Service context.
    directory
        Output directory (created).
    kinds
        Map kinds to write.
    png
        Also export each page as ``KIND.png`` with headless Chromium.
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
        page = write_map(build_map(ctx, kind, **kwargs), out / f"{kind}.html")
        pages.append(page)
        if png:
            export_png(page, out / f"{kind}.png")
    return pages
