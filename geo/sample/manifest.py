"""The sample city as files: the manifest and each layer's table in its file's form.

Each layer goes into the format and shape a user's file would have, so the demo and the tests
exercise the readers: communities with Chinese field names, facilities in GCJ-02 with Chinese
headers and type names, compounds as a GBK Shapefile with one 是/否 column per measure, naive
local incident times. This module decides what goes into each file and returns it as frames and
dicts; :mod:`api.sample_files` writes the bytes.
"""

from __future__ import annotations

from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo.china import wgs84_to_gcj02
from geo.period import DEFAULT_TIMEZONE
from geo.sample.draws import FloatArray
from geo.sample.frames import COORD_DECIMALS
from geo.sample.inventories import MEASURES

__all__ = [
    "COMMUNITIES_FILE",
    "COMPOUNDS_FILE",
    "COMPOUND_POINTS_FILE",
    "COMPOUND_POINTS_LAYER",
    "DEVICES_FILE",
    "FACILITIES_FILE",
    "FIXED_FILE_DATE",
    "INCIDENTS_FILE",
    "MANIFEST_FILE",
    "POPULATION_FILE",
    "ROADS_FIELDS",
    "ROADS_FILE",
    "community_features",
    "compound_points",
    "compound_polygons",
    "facility_table",
    "incident_table",
    "population_table",
    "sample_manifest",
]

MANIFEST_FILE = "sample.json"
COMMUNITIES_FILE = "communities.geojson"
POPULATION_FILE = "population.csv"
FACILITIES_FILE = "facilities_gcj02.csv"
DEVICES_FILE = "devices.parquet"
COMPOUNDS_FILE = "compounds.zip"
COMPOUND_POINTS_FILE = "compounds_points.gpkg"
COMPOUND_POINTS_LAYER = "compounds"
INCIDENTS_FILE = "incidents.csv"
ROADS_FILE = "roads.geojson"
#: How the roads file's columns map onto the road fields (``pingan load roads --field``).
ROADS_FIELDS = {"road_class": "等级", "oneway": "单行", "speed_kmh": "限速", "bridge": "高架",
                "layer": "层", "name": "名称"}
#: Stamped into DBF and GeoPackage headers instead of "today", so files are byte-stable.
FIXED_FILE_DATE = "2025-12-31"

_COMMUNITY_FIELDS_ZH = {"code": "社区代码", "name": "社区名称", "subdistrict_code": "街道代码",
                        "subdistrict": "街道", "district_code": "区代码", "district": "区",
                        "population": "常住人口", "households": "户数"}
_FACILITY_FIELDS_ZH = {"id": "编号", "type": "类型", "name": "名称", "opened_on": "启用日期",
                       "closed_on": "关闭日期", "lon": "经度", "lat": "纬度"}
_FACILITY_TYPE_ZH = {"police_station": "派出所", "police_office": "社区警务室",
                     "service_station": "社区服务站", "health_station": "社区卫生服务站",
                     "health_center": "社区卫生服务中心", "fire_station": "消防站"}
# Shapefile column (<= 10 bytes) and the DBF's Chinese labels of the compound polygons.
_MEASURE_COLUMNS = {"fence": "fence", "gate_guard": "gate_guard", "anti_theft_doors": "anti_theft",
                    "lighting": "lighting", "patrol": "patrol", "cctv_entrances": "cctv_entr",
                    "access_control": "access_ctl", "intrusion_alarm": "intrusion",
                    "intercom": "intercom", "plate_recognition": "plate_rec"}
_COMPOUND_SHP_FIELDS = {"id": "编号", "name": "名称", "kind": "类型", "households": "户数",
                        "population": "人口", "removed_on": "撤销日期"}


def sample_manifest(seed: int, *, with_compound_points: bool,
                    outbreaks: pd.DataFrame | None = None,
                    outbreak_rule: str | None = None) -> dict[str, Any]:
    """Return the manifest of the sample files: the layers in load order and how to read each.

    Parameters
    ----------
    seed
        The city's seed.
    with_compound_points
        Whether there is a GeoPackage of compounds given as points.
    outbreaks
        The planted outbreaks (:attr:`geo.sample.SampleCity.outbreaks`), if any.
    outbreak_rule
        Their planting rule in one sentence.

    Returns
    -------
    dict
        ``name``, ``description``, ``seed``, ``synthetic``, ``timezone`` and ``layers``: one
        entry per file with its ``layer``, ``file``, ``crs``, ``encoding``, ``gpkg_layer``,
        ``timezone`` and ``fields`` (target -> column of the file); ``roads``: the street
        network's file and field mapping (loaded by ``pingan load roads``, not a
        :func:`geo.readers.read_layer` layer); with outbreaks also ``outbreaks``: the
        ``rule``, the ``seed`` and one entry per outbreak (``outbreak``, ``community``,
        ``start``, ``end``, ``k``, ``expected``, ``added``).
    """
    compound_fields = dict(_COMPOUND_SHP_FIELDS)
    compound_fields.update({m: col for m, col in _MEASURE_COLUMNS.items() if m != col})
    layers = [
        _entry("communities", COMMUNITIES_FILE, fields=dict(_COMMUNITY_FIELDS_ZH)),
        _entry("population", POPULATION_FILE, encoding="utf-8"),
        _entry("facilities", FACILITIES_FILE, crs="gcj02", encoding="utf-8",
               fields=dict(_FACILITY_FIELDS_ZH)),
        _entry("devices", DEVICES_FILE),
        _entry("compounds", COMPOUNDS_FILE, encoding="gbk", fields=compound_fields),
    ]
    if with_compound_points:
        layers.append(_entry("compounds", COMPOUND_POINTS_FILE,
                             gpkg_layer=COMPOUND_POINTS_LAYER))
    incidents = _entry("incidents", INCIDENTS_FILE, encoding="utf-8", timezone=DEFAULT_TIMEZONE)
    # The days the export covers (pingan load --covers): all of 2024 and 2025, whatever the
    # first and last incident's day.
    incidents["covers"] = "2024-01-01..2025-12-31"
    layers.append(incidents)
    out: dict[str, Any] = {
        "name": "pingan sample city (synthetic)",
        "description": "Synthetic data around central Beijing generated by geo.sample; names, "
                       "codes, boundaries and records are fictional.",
        "seed": seed,
        "synthetic": True,
        "timezone": DEFAULT_TIMEZONE,
        "layers": layers,
        "roads": {"file": ROADS_FILE, "fields": dict(ROADS_FIELDS)},
    }
    if outbreaks is not None:
        out["outbreaks"] = {
            "rule": outbreak_rule,
            "module": "geo.sample.outbreaks",
            "seed": int(outbreaks["seed"].iloc[0]) if len(outbreaks) else None,
            "list": [{"outbreak": int(r["outbreak"]), "community": str(r["community"]),
                      "start": str(r["start"]), "end": str(r["end"]), "k": int(r["k"]),
                      "expected": round(float(r["expected"]), 3), "added": int(r["added"])}
                     for r in outbreaks.to_dict("records")],
        }
    return out



def community_features(communities: gpd.GeoDataFrame) -> list[dict[str, Any]]:
    """Return the communities as GeoJSON features with Chinese field names.

    Parameters
    ----------
    communities
        Canonical communities (EPSG:4326).

    Returns
    -------
    list of dict
        One ``Feature`` per community, in frame order.
    """
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
        features.append({"type": "Feature", "properties": props,
                         "geometry": shapely.geometry.mapping(row.geometry)})
    return features


def population_table(population: pd.DataFrame) -> pd.DataFrame:
    """Return the population by year as the text columns of ``population.csv``.

    Parameters
    ----------
    population
        Canonical population table.

    Returns
    -------
    pandas.DataFrame
    """
    return pd.DataFrame({"code": population["code"].astype(str),
                         "year": _fmt_int(population["year"]),
                         "population": _fmt_int(population["population"])})


def facility_table(facilities: gpd.GeoDataFrame) -> pd.DataFrame:
    """Return the facilities as the text columns of their CSV: GCJ-02, Chinese names.

    Parameters
    ----------
    facilities
        Canonical facilities (EPSG:4326).

    Returns
    -------
    pandas.DataFrame
    """
    lon, lat = wgs84_to_gcj02(facilities.geometry.x.to_numpy(), facilities.geometry.y.to_numpy())
    zh = _FACILITY_FIELDS_ZH
    return pd.DataFrame({
        zh["id"]: facilities["id"].astype(str),
        zh["type"]: [_FACILITY_TYPE_ZH[t] for t in facilities["type"]],
        zh["name"]: facilities["name"].astype(str),
        zh["opened_on"]: _fmt_date(facilities["opened_on"]),
        zh["closed_on"]: _fmt_date(facilities["closed_on"]),
        zh["lon"]: _fmt_coord(np.asarray(lon)),
        zh["lat"]: _fmt_coord(np.asarray(lat)),
    })


def compound_polygons(compounds: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Return the compound polygons as the Shapefile's table: Chinese labels, 是/否 measures.

    Parameters
    ----------
    compounds
        Canonical compounds (EPSG:4326).

    Returns
    -------
    geopandas.GeoDataFrame
        The polygons only (points go to :func:`compound_points`).
    """
    polys = compounds[(compounds.geom_type != "Point").to_numpy()]
    flags = {
        _MEASURE_COLUMNS[m]: ["是" if m in str(s).split(",") else "否" for s in polys["measures"]]
        for m in MEASURES
    }
    return gpd.GeoDataFrame({
        _COMPOUND_SHP_FIELDS["id"]: polys["id"].astype(str).to_numpy(),
        _COMPOUND_SHP_FIELDS["name"]: polys["name"].astype(str).to_numpy(),
        _COMPOUND_SHP_FIELDS["kind"]: polys["kind"].astype(str).to_numpy(),
        _COMPOUND_SHP_FIELDS["households"]: polys["households"].to_numpy(),
        _COMPOUND_SHP_FIELDS["population"]: polys["population"].to_numpy(),
        _COMPOUND_SHP_FIELDS["removed_on"]: _fmt_date(polys["removed_on"]),
        **flags,
    }, geometry=polys.geometry.to_numpy(), crs=compounds.crs)


def compound_points(compounds: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Return the compounds given as points, in their canonical columns.

    Parameters
    ----------
    compounds
        Canonical compounds (EPSG:4326).

    Returns
    -------
    geopandas.GeoDataFrame
    """
    return compounds[(compounds.geom_type == "Point").to_numpy()]


def incident_table(incidents: gpd.GeoDataFrame) -> pd.DataFrame:
    """Return the incidents as the text columns of ``incidents.csv``: naive local times.

    Parameters
    ----------
    incidents
        Canonical incidents (EPSG:4326, ``occurred_at`` in UTC).

    Returns
    -------
    pandas.DataFrame
        Empty ``lon``/``lat`` for records without coordinates.
    """
    geoms = np.asarray(incidents.geometry.array, dtype=object)
    present = ~shapely.is_missing(geoms)
    lon = np.full(len(geoms), np.nan)
    lat = np.full(len(geoms), np.nan)
    lon[present] = shapely.get_x(geoms[present])
    lat[present] = shapely.get_y(geoms[present])
    local = incidents["occurred_at"].dt.tz_convert(DEFAULT_TIMEZONE).dt.strftime(
        "%Y-%m-%d %H:%M:%S")
    return pd.DataFrame({
        "id": incidents["id"].astype(str),
        "occurred_at": local.astype(str),
        "category": incidents["category"].astype(str),
        "status": incidents["status"].astype(str),
        "address": incidents["address"].fillna("").astype(str),
        "location_precision": incidents["location_precision"].fillna("").astype(str),
        "community_code": incidents["community_code"].fillna("").astype(str),
        "lon": _fmt_coord(lon),
        "lat": _fmt_coord(lat),
    })


def _entry(layer: str, file: str, *, crs: str | None = None, encoding: str | None = None,
           gpkg_layer: str | None = None, fields: dict[str, str] | None = None,
           timezone: str | None = None) -> dict[str, Any]:
    return {"layer": layer, "file": file, "crs": crs, "encoding": encoding,
            "gpkg_layer": gpkg_layer, "timezone": timezone, "fields": fields or {}}


def _fmt_coord(values: FloatArray) -> list[str]:
    return ["" if np.isnan(v) else f"{v:.{COORD_DECIMALS}f}" for v in values]


def _fmt_int(values: Any) -> list[str]:
    return ["" if pd.isna(v) else str(int(v)) for v in values]


def _fmt_date(values: pd.Series) -> list[str]:
    return ["" if pd.isna(v) else v.strftime("%Y-%m-%d") for v in values]
