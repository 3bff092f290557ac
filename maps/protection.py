"""The protection map: camera view sectors, blind spots and compounds by compliance."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo.cameras import CAMERA_KINDS, DEFAULT_RANGE_M, CameraMetrics, view_sectors
from geo.compounds import CompoundCompliance
from geo.inventory import existing_during
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

__all__ = ["protection_map"]

_WORKING = {"color": "#1f78b4", "weight": 0.6, "opacity": 0.9, "fillColor": "#1f78b4",
            "fillOpacity": 0.35}
_FAULTY = {"color": "#e31a1c", "weight": 1.0, "opacity": 0.9, "fillColor": "#fb9a99",
           "fillOpacity": 0.35, "dashArray": "3 2"}
_OTHER_DEVICE = {"color": "#333333", "weight": 1, "fillColor": "#ffff99", "fillOpacity": 0.9,
                 "radius": 4}
_BLIND = {"color": "#6a3d9a", "weight": 0.4, "opacity": 0.5, "fillColor": "#9e9ac8",
          "fillOpacity": 0.25}
_COMPLIANT = {"color": "#1a9641", "weight": 1.2, "opacity": 1.0, "fillColor": "#a6d96a",
              "fillOpacity": 0.6}
_NOT_COMPLIANT = {"color": "#d7191c", "weight": 1.2, "opacity": 1.0, "fillColor": "#fdae61",
                  "fillOpacity": 0.6}
_COMMUNITY = {"color": "#555555", "weight": 1, "opacity": 0.8, "fillColor": "#ffffff",
              "fillOpacity": 0.0}


def protection_map(
    communities: gpd.GeoDataFrame,
    *,
    devices: gpd.GeoDataFrame | None = None,
    cameras: CameraMetrics | None = None,
    compliance: CompoundCompliance | None = None,
    camera_kinds: Iterable[str] = CAMERA_KINDS,
    arc_segments: int = 16,
    default_range_m: Mapping[str, float] = DEFAULT_RANGE_M,
    options: MapOptions | None = None,
) -> folium.Map:
    """Draw technical and physical protection: camera view, blind spots, compound compliance.

    Parameters
    ----------
    communities
        Community polygons with ``code`` and ``name``, any declared CRS.
    devices
        Device points (the ``devices`` layer). Cameras (``camera_kinds``) are drawn as view
        sectors (:func:`geo.cameras.view_sectors`), working and faulty apart; other devices
        as points. When ``cameras`` has a period, only devices that existed during it are
        drawn, as in the metrics.
    cameras
        :func:`geo.cameras.camera_metrics`: its blind spots are drawn and its metrics shown
        in the community tooltips.
    compliance
        :func:`geo.compounds.compound_compliance`: compounds coloured by compliance, with
        their missing measures in the popup.
    camera_kinds
        Device kinds drawn as sectors.
    arc_segments
        Segments of a full circle of the drawn sectors (fewer than the metrics use, to keep the
        page light; 16 segments keep 97 % of a sector's area).
    default_range_m
        View range of a camera without ``range_m``, by kind.
    options
        Map options.

    Returns
    -------
    folium.Map

    Raises
    ------
    TypeError
        If an input has the wrong type.
    ValueError
        If a column is missing or a device cannot be drawn (see
        :func:`geo.cameras.view_sectors`).
    """
    options = options or MapOptions()
    lang = options.language
    comm = wgs84_frame(communities, "communities")
    require_columns(comm, ["code"], "communities")
    if cameras is not None and not isinstance(cameras, CameraMetrics):
        raise TypeError(f"cameras must be a CameraMetrics; got {type(cameras).__name__}")
    if compliance is not None and not isinstance(compliance, CompoundCompliance):
        raise TypeError(f"compliance must be a CompoundCompliance; "
                        f"got {type(compliance).__name__}")
    kinds = tuple(camera_kinds) if not isinstance(camera_kinds, str) else (camera_kinds,)
    period = (cameras.period if cameras is not None and cameras.period is not None
              else compliance.period if compliance is not None else None)

    geoms = display_geometries(comm.geometry, options, simplify=True)
    m = new_map(text("title.protection", lang), options, bounds_of(geoms),
                period_label=period.label if period is not None else None)
    legend = Legend()

    codes = comm["code"].astype(str)
    names = community_names(comm)
    tooltips = _community_tooltips(codes, names, cameras, compliance, lang)
    table = StyleTable()
    idx = table.add(_COMMUNITY)
    GeoJsonLayer(feature_collection(geoms, [idx] * len(geoms), tooltips=tooltips,
                                    keys=list(codes)),
                 table.styles, name=text("communities", lang)).add_to(m)

    if cameras is not None and len(cameras.blind_spots):
        blind = wgs84_frame(cameras.blind_spots, "cameras.blind_spots")
        bt = StyleTable()
        bidx = bt.add(_BLIND)
        bnames = blind["name"].astype(object).tolist() if "name" in blind else [""] * len(blind)
        btips = [table_html([(text("protection.blind_area", lang),
                              fmt_number(a, lang, decimals=0, unit="m²"))],
                            title=str(n) if isinstance(n, str) else None)
                 for n, a in zip(bnames, blind.get("blind_area_m2", [np.nan] * len(blind)),
                                 strict=True)]
        GeoJsonLayer(feature_collection(display_geometries(blind.geometry, options,
                                                           simplify=True),
                                        [bidx] * len(blind), tooltips=btips),
                     bt.styles, name=text("protection.blind_spots", lang)).add_to(m)
        legend.section(text("protection.blind_spots", lang),
                       [(_BLIND, text("protection.blind_spots", lang))])

    if devices is not None:
        _device_layers(m, devices, kinds, period, cameras, arc_segments, default_range_m,
                       options, legend)

    if compliance is not None:
        _compound_layer(m, compliance, options, legend)
    return finish(m, legend)


def _community_tooltips(codes: pd.Series, names: list[str], cameras: CameraMetrics | None,
                        compliance: CompoundCompliance | None, lang: Language) -> list[str]:
    cam = None
    if cameras is not None:
        cam = cameras.frame.copy()
        cam.index = cam.index.astype(str)
        cam = cam.reindex(pd.Index(codes))
    comp = None
    if compliance is not None:
        comp = compliance.frame.copy()
        comp.index = comp.index.astype(str)
        comp = comp.reindex(pd.Index(codes))
    out = []
    for i, code in enumerate(codes):
        rows = [(text("field.code", lang), code)]
        if cam is not None:
            r = cam.iloc[i]
            rows += [
                (metric_label("camera_count", lang), fmt_count(r.get("camera_count"), lang)),
                (metric_label("camera_working_ratio", lang),
                 fmt_ratio(r.get("camera_working_ratio"), lang)),
                (metric_label("camera_area_share", lang),
                 fmt_ratio(r.get("camera_area_share"), lang)),
                (metric_label("incidents_in_view_share", lang),
                 fmt_ratio(r.get("incidents_in_view_share"), lang)),
            ]
        if comp is not None:
            r = comp.iloc[i]
            rows += [
                (metric_label("compounds_total", lang), fmt_count(r.get("compounds_total"), lang)),
                (metric_label("compound_compliance_ratio", lang),
                 fmt_ratio(r.get("compound_compliance_ratio"), lang)),
            ]
        out.append(table_html(rows, title=names[i]))
    return out


def _device_layers(m: folium.Map, devices: gpd.GeoDataFrame, kinds: tuple[str, ...],
                   period: Any, cameras: CameraMetrics | None, arc_segments: int,
                   default_range_m: Mapping[str, float], options: MapOptions,
                   legend: Legend) -> None:
    lang = options.language
    dev = wgs84_frame(devices, "devices")
    require_columns(dev, ["kind"], "devices")
    if period is not None:
        dev = dev[existing_during(
            dev, period,
            start_column="installed_on" if "installed_on" in dev else None,
            end_column="removed_on" if "removed_on" in dev else None,
        ).to_numpy()]
    dev = dev[~(dev.geometry.isna() | dev.geometry.is_empty).to_numpy()]
    kind = dev["kind"].astype("string")
    is_camera = kind.isin(kinds).fillna(False).to_numpy(dtype=bool)
    status = (dev["status"].astype("string").str.strip().str.lower() if "status" in dev
              else pd.Series(pd.NA, index=dev.index, dtype="string"))
    faulty = (status == "faulty").fillna(False).to_numpy(dtype=bool)
    ids = dev["id"].astype(str).tolist() if "id" in dev else [""] * len(dev)

    cams = dev[is_camera]
    if len(cams):
        sectors = view_sectors(cams, metric_crs=cameras.metric_crs if cameras else None,
                               arc_segments=arc_segments, default_range_m=default_range_m)
        shapes = display_geometries(sectors.to_crs(4326), options)
        cam_ids = [ids[i] for i in np.flatnonzero(is_camera)]
        cam_kind = kind[is_camera].tolist()
        cam_faulty = faulty[is_camera]
        for broken, style, key in ((False, _WORKING, "protection.sectors_working"),
                                   (True, _FAULTY, "protection.sectors_faulty")):
            pick = np.flatnonzero(cam_faulty == broken)
            if not len(pick):
                continue
            st = StyleTable()
            sidx = st.add(style)
            state = text("status.faulty" if broken else "status.working", lang)
            tips = [table_html([(text("protection.kind", lang), term("device", cam_kind[j], lang)),
                                (text("protection.device_status", lang), state)],
                               title=cam_ids[j]) for j in pick]
            GeoJsonLayer(feature_collection(shapes[pick], [sidx] * len(pick), tooltips=tips,
                                            keys=[cam_ids[j] for j in pick]),
                         st.styles, name=f"{text(key, lang)} ({len(pick)})").add_to(m)
        legend.section(text("protection.device", lang), [
            (_WORKING, f"{text('protection.sectors_working', lang)} "
                       f"({int((~cam_faulty).sum())})"),
            (_FAULTY, f"{text('protection.sectors_faulty', lang)} ({int(cam_faulty.sum())})"),
        ])
    others = np.flatnonzero(~is_camera)
    if len(others):
        pts = display_geometries(dev.geometry.to_numpy()[others], options)
        st = StyleTable()
        oidx = st.add(_OTHER_DEVICE)
        other_kind = kind.to_numpy(dtype=object)[others]
        tips = [table_html([(text("protection.kind", lang), term("device", k, lang)),
                            (text("protection.device_status", lang),
                             text("status.faulty" if faulty[j] else "status.working", lang))],
                           title=ids[j]) for j, k in zip(others, other_kind, strict=True)]
        GeoJsonLayer(feature_collection(pts, [oidx] * len(others), tooltips=tips),
                     st.styles, name=f"{text('protection.other_devices', lang)} ({len(others)})",
                     show=False).add_to(m)


def _compound_layer(m: folium.Map, compliance: CompoundCompliance, options: MapOptions,
                    legend: Legend) -> None:
    lang = options.language
    comp = wgs84_frame(compliance.compounds, "compliance.compounds")
    comp = comp[~(comp.geometry.isna() | comp.geometry.is_empty).to_numpy()]
    if not len(comp):
        return
    ok = comp["compliant"].astype("boolean").fillna(False).to_numpy(dtype=bool)
    is_point = (shapely.get_type_id(comp.geometry.to_numpy())
                == shapely.GeometryType.POINT)
    st = StyleTable()

    def style(compliant: bool, point: bool) -> Style:
        base = _COMPLIANT if compliant else _NOT_COMPLIANT
        return {**base, "radius": 6} if point else base

    index = [st.add(style(bool(c), bool(p))) for c, p in zip(ok, is_point, strict=True)]
    names = comp["name"].astype(object).tolist() if "name" in comp else [None] * len(comp)
    ids = comp["id"].astype(str).tolist() if "id" in comp else [""] * len(comp)
    missing = (comp["missing_measures"].astype(object).tolist() if "missing_measures" in comp
               else [""] * len(comp))
    popups, tips = [], []
    for name, cid, compliant, miss in zip(names, ids, ok, missing, strict=True):
        measures = [term("measure", x.strip(), lang) for x in str(miss or "").split(",")
                    if x.strip()] if isinstance(miss, str) else []
        rows = [(text("field.code", lang), cid),
                (text("protection.compliant", lang), text("yes" if compliant else "no", lang))]
        if measures:
            rows.append((text("protection.missing", lang), "、".join(measures) if lang == "zh"
                         else ", ".join(measures)))
        title = name if isinstance(name, str) and name else cid
        popups.append(table_html(rows, title=title))
        tips.append(table_html(rows[1:2], title=title))
    shapes = display_geometries(comp.geometry, options, simplify=True)
    GeoJsonLayer(feature_collection(shapes, index, tooltips=tips, popups=popups, keys=ids),
                 st.styles, name=text("protection.compounds", lang)).add_to(m)
    legend.section(text("protection.compounds", lang), [
        (_COMPLIANT, f"{text('protection.compliant', lang)} ({int(ok.sum())})"),
        (_NOT_COMPLIANT, f"{text('protection.not_compliant', lang)} ({int((~ok).sum())})"),
    ])
