"""The sample city's protection inventories: compounds with their measures, and devices."""

from __future__ import annotations

import math
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from shapely import affinity
from shapely.geometry.base import BaseGeometry

from geo.layers import COMPOUND_MEASURES
from geo.sample.draws import (
    FloatArray,
    IntArray,
    n_name_roots,
    points_in,
    random_dates,
    sigmoid,
    unique_names,
)
from geo.sample.frames import canonical_frame

__all__ = ["MEASURES", "draw_compounds", "draw_devices"]

#: Every compound measure, in the order of :data:`geo.layers.COMPOUND_MEASURES`.
MEASURES: tuple[str, ...] = tuple(m for group in COMPOUND_MEASURES.values() for m in group)

_DEVICE_KIND_SHARE = {"camera": 0.50, "dome": 0.14, "ptz": 0.06, "face": 0.08, "plate": 0.08,
                      "alarm": 0.08, "access": 0.06}
_DEVICES_PER_COMMUNITY = 30.0

# Baseline log-odds of each measure in a compound of average quality.
_MEASURE_LOGIT = {"fence": 2.2, "gate_guard": 1.3, "anti_theft_doors": 1.4, "lighting": 2.0,
                  "patrol": 0.6, "cctv_entrances": 1.2, "access_control": 0.7,
                  "intrusion_alarm": -0.5, "intercom": 0.4, "plate_recognition": 0.0}
_COMPOUND_KINDS = ("residential", "unit", "school", "hospital", "market")
_COMPOUND_KIND_SHARE = (0.78, 0.09, 0.06, 0.03, 0.04)
_CHINESE_ORDINALS = ("〇", "一", "二", "三", "四", "五", "六", "七", "八", "九")


def draw_compounds(rng: np.random.Generator, comm_m: gpd.GeoDataFrame,
               quality: FloatArray) -> gpd.GeoDataFrame:
    """Draw residential compounds, units, schools… inside the communities, with their measures.

    Parameters
    ----------
    rng
        The compounds stream's generator.
    comm_m
        Communities in a metric CRS.
    quality
        Latent quality per community (:func:`geo.sample.population.community_quality`).

    Returns
    -------
    geopandas.GeoDataFrame
        Canonical compounds in the metric CRS (polygons, some points), plus ``community``: the
        index of the community each lies in.
    """
    n = len(comm_m)
    mean_area = float(comm_m.area.mean())
    rows: list[dict[str, Any]] = []
    geoms: list[BaseGeometry] = []
    taken_names: set[str] = set()
    roots = unique_names(rng, n_name_roots(), ("",))
    for c in range(n):
        poly = comm_m.geometry.iloc[c]
        inner = poly.buffer(-8.0)
        core = poly.buffer(-40.0)
        if core.is_empty:
            continue
        scale = math.sqrt(poly.area / mean_area)
        k = 2 + int(rng.poisson(2.3))
        placed: list[BaseGeometry] = []
        kinds = rng.choice(len(_COMPOUND_KINDS), k, p=_COMPOUND_KIND_SHARE)
        for kind_i in kinds:
            kind = _COMPOUND_KINDS[int(kind_i)]
            for _ in range(30):
                cx, cy = points_in(rng, core, 1)[0]
                w, h = rng.uniform(70.0, 230.0) * scale, rng.uniform(50.0, 170.0) * scale
                rect = shapely.box(cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2)
                if rng.random() < 0.4:  # cut a corner: not every compound is a rectangle
                    cut = rng.uniform(0.2, 0.5)
                    rect = rect.difference(shapely.Polygon([
                        (cx + w / 2 - cut * w, cy + h / 2), (cx + w / 2, cy + h / 2),
                        (cx + w / 2, cy + h / 2 - cut * h)]))
                shape = affinity.rotate(rect, float(rng.uniform(-40.0, 40.0)))
                shape = shape.intersection(inner)
                if (shape.geom_type != "Polygon" or shape.area < 2500.0
                        or any(shape.distance(o) < 10.0 for o in placed)):
                    continue
                placed.append(shape)
                as_point = rng.random() < (0.06 if kind == "residential" else 0.5)
                geoms.append(shape.representative_point() if as_point else shape)
                root = roots[len(rows) % len(roots)]
                rows.append({"community": c, "kind": kind, "area": shape.area,
                             "name": _compound_name(rng, root, kind, taken_names)})
                break
    frame = pd.DataFrame(rows)
    frame["population"] = 0.0
    frame["households"] = 0.0
    pop = comm_m["population"].to_numpy()
    residential = frame.index[frame["kind"] == "residential"]
    owners = frame.loc[residential, "community"].to_numpy()
    for owner in np.unique(owners):
        idx = residential[owners == owner]
        share = frame.loc[idx, "area"].to_numpy() * rng.uniform(0.7, 1.3, len(idx))
        share = share / share.sum() * rng.uniform(0.45, 0.9)
        people = np.floor(share * pop[int(owner)])
        frame.loc[idx, "population"] = people
        frame.loc[idx, "households"] = np.round(people / 2.6 * rng.uniform(0.95, 1.05, len(idx)))
    q = quality[frame["community"].to_numpy()]
    eps = rng.normal(0.0, 0.5, len(frame))
    present = np.column_stack([
        rng.random(len(frame)) < sigmoid(_MEASURE_LOGIT[m] + 1.5 * q + eps) for m in MEASURES])
    frame["measures"] = [",".join(sorted(m for m, p in zip(MEASURES, row, strict=True) if p))
                         for row in present]
    frame["id"] = [f"C{i + 1:05d}" for i in range(len(frame))]
    frame["removed_on"] = pd.Series([pd.NaT] * len(frame), dtype="datetime64[ns]")
    removed = rng.choice(len(frame), 2, replace=False)
    frame.loc[removed, "removed_on"] = random_dates(rng, "2025-03-01", "2025-10-31", 2).to_numpy()
    out = canonical_frame(frame, "compounds", geoms, crs=comm_m.crs)
    out["community"] = frame["community"].to_numpy()
    return out


def _compound_name(rng: np.random.Generator, root: str, kind: str, taken: set[str]) -> str:
    suffixes = {
        "residential": ("小区", "家园", "花园", "苑", "公寓", "新村", "嘉园", "北里", "西里"),
        "unit": ("大厦", "科技有限公司", "商务中心", "物流园"),
        "school": ("小学", "中学", "幼儿园"),
        "hospital": ("医院", "中医医院"),
        "market": ("市场", "农贸市场", "商城"),
    }[kind]
    base = root + suffixes[int(rng.integers(len(suffixes)))]
    name, k = base, 1
    while name in taken:  # one name per compound: further phases of a name get a number
        k += 1
        name = f"{base}{_CHINESE_ORDINALS[k] if k < len(_CHINESE_ORDINALS) else k}期"
    taken.add(name)
    return name


def draw_devices(rng: np.random.Generator, comm_m: gpd.GeoDataFrame,
             compounds_m: gpd.GeoDataFrame, quality: FloatArray) -> gpd.GeoDataFrame:
    """Draw cameras and other devices; density follows quality, some near compound edges.

    Parameters
    ----------
    rng
        The devices stream's generator.
    comm_m
        Communities in a metric CRS.
    compounds_m
        Compounds from :func:`draw_compounds`.
    quality
        Latent quality per community.

    Returns
    -------
    geopandas.GeoDataFrame
        Canonical devices in the metric CRS.
    """
    n = len(comm_m)
    area = comm_m.area.to_numpy()
    weight = np.exp(0.9 * quality) * np.sqrt(area / area.mean())
    counts = rng.poisson(_DEVICES_PER_COMMUNITY * weight / weight.mean())
    kinds = list(_DEVICE_KIND_SHARE)
    comp_of = compounds_m["community"].to_numpy()
    xs: list[FloatArray] = []
    owner: list[IntArray] = []
    for c in range(n):
        k = int(counts[c])
        pts = points_in(rng, comm_m.geometry.iloc[c], k)
        mine = compounds_m.geometry.to_numpy()[comp_of == c]
        polys = [g for g in mine if g.geom_type == "Polygon"]
        if polys:  # about a third of the devices sit on compound edges (entrances, walls)
            near = rng.random(k) < 0.35
            for i in np.flatnonzero(near):
                ring = polys[int(rng.integers(len(polys)))].exterior
                p = ring.interpolate(float(rng.random()), normalized=True)
                pts[i] = (p.x, p.y)
        xs.append(pts)
        owner.append(np.full(k, c, dtype=np.int64))
    xy = np.concatenate(xs)
    comm = np.concatenate(owner)
    m = len(xy)
    kind = np.array(kinds, dtype=object)[rng.choice(len(kinds), m,
                                                    p=list(_DEVICE_KIND_SHARE.values()))]
    directional = np.isin(kind, ["camera", "face", "plate"])
    circular = np.isin(kind, ["dome", "ptz"])
    azimuth = np.where(directional, np.round(rng.uniform(0.0, 360.0, m)) % 360.0, np.nan)
    fov = np.where(kind == "camera", np.round(rng.uniform(60.0, 100.0, m)),
                   np.where(directional, np.round(rng.uniform(40.0, 60.0, m)), np.nan))
    range_m = np.where(directional | circular, np.round(rng.uniform(30.0, 80.0, m)), np.nan)
    range_m[(directional | circular) & (rng.random(m) < 0.1)] = np.nan  # default by kind
    faulty = rng.random(m) < sigmoid(-2.6 - 0.6 * quality[comm])
    installed = random_dates(rng, "2012-01-01", "2023-12-31", m)
    when = rng.random(m)
    installed[when < 0.07] = random_dates(rng, "2024-01-01", "2024-12-31", m)[when < 0.07]
    new_2025 = when > 0.92
    installed[new_2025] = random_dates(rng, "2025-01-01", "2025-11-30", m)[new_2025]
    removed = pd.Series([pd.NaT] * m, dtype="datetime64[ns]")
    gone = (rng.random(m) < 0.015) & (installed < pd.Timestamp("2024-01-01")).to_numpy()
    removed[gone] = random_dates(rng, "2024-02-01", "2025-11-30", m)[gone]
    frame = pd.DataFrame({
        "id": [f"D{i + 1:06d}" for i in range(m)],
        "kind": kind,
        "azimuth_deg": azimuth,
        "fov_deg": fov,
        "range_m": range_m,
        "status": np.where(faulty, "faulty", "working"),
        "installed_on": installed,
        "removed_on": removed,
    })
    return canonical_frame(frame, "devices", shapely.points(xy), crs=comm_m.crs)


