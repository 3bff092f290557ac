"""The sample city's facilities by type, with a few communities left uncovered on purpose."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from numpy.typing import NDArray
from shapely.geometry.base import BaseGeometry

from geo.sample.draws import (
    FloatArray,
    name_roots,
    pick_spread,
    points_in,
    random_dates,
    sigmoid,
    unique_names,
)
from geo.sample.frames import canonical_frame

__all__ = ["draw_facilities"]

_GAP_BUFFER_M = 800.0

# (type, name, community index) of one facility.
_Site = tuple[str, str, int]


def draw_facilities(rng: np.random.Generator, comm_m: gpd.GeoDataFrame,
                    quality: FloatArray) -> tuple[gpd.GeoDataFrame, NDArray[np.bool_]]:
    """Draw facilities by type, with a few communities left uncovered on purpose.

    Parameters
    ----------
    rng
        The facilities stream's generator.
    comm_m
        Communities in a metric CRS.
    quality
        Latent quality per community.

    Returns
    -------
    tuple
        Canonical facilities in the metric CRS, and the mask of the gap communities (left
        without police office, service station and health facility within 800 m).
    """
    geoms = comm_m.geometry.to_numpy()
    centres = shapely.get_coordinates(comm_m.geometry.representative_point())
    gap = _gap_communities(rng, geoms, quality)
    exclusion = shapely.union_all(shapely.buffer(geoms[gap], _GAP_BUFFER_M))
    allowed = [g.difference(exclusion) for g in geoms]
    rows = [*_community_sites(rng, comm_m, quality, gap),
            *_subdistrict_sites(rng, comm_m, quality, gap, centres)]
    # Only sites with room outside the gaps' exclusion zone are built.
    rows = [r for r in rows if not allowed[r[2]].is_empty and allowed[r[2]].area > 100.0]
    fire_names = unique_names(rng, 2, ("",))
    for c, name in zip(pick_spread(rng, centres, 2), fire_names, strict=True):
        rows.append(("fire_station", f"{name}消防救援站", int(c)))
    return _facility_frame(rng, rows, allowed, geoms, comm_m.crs), gap


def _gap_communities(rng: np.random.Generator, geoms: NDArray[np.object_],
                     quality: FloatArray) -> NDArray[np.bool_]:
    """Gap communities: among the lowest quality, not touching each other."""
    n = len(geoms)
    n_gap = max(2, round(0.04 * n))
    gap = np.zeros(n, dtype=bool)
    for c in np.argsort(quality + rng.normal(0.0, 0.3, n), kind="stable"):
        if gap.sum() == n_gap:
            break
        if not any(geoms[int(c)].distance(geoms[g]) < 300.0 for g in np.flatnonzero(gap)):
            gap[c] = True
    return gap


def _community_sites(rng: np.random.Generator, comm_m: gpd.GeoDataFrame, quality: FloatArray,
                     gap: NDArray[np.bool_]) -> list[_Site]:
    """Police offices, service stations and health stations of the communities outside gaps."""
    roots = name_roots(comm_m["name"])
    rows: list[_Site] = []
    for c in range(len(comm_m)):
        if gap[c]:
            continue
        if rng.random() < sigmoid(1.7 + 1.4 * quality[c]):
            rows.append(("police_office", f"{roots[c]}社区警务室", c))
        if rng.random() < sigmoid(2.0 + 1.2 * quality[c]):
            rows.append(("service_station", f"{roots[c]}社区服务站", c))
        if rng.random() < sigmoid(-0.3 + 1.0 * quality[c]):
            rows.append(("health_station", f"{roots[c]}社区卫生服务站", c))
    return rows


def _subdistrict_sites(rng: np.random.Generator, comm_m: gpd.GeoDataFrame, quality: FloatArray,
                       gap: NDArray[np.bool_], centres: FloatArray) -> list[_Site]:
    """A health centre per subdistrict, and police stations spread over the city."""
    roots = name_roots(comm_m["name"])
    sub_roots = [str(s).removesuffix("街道") for s in comm_m["subdistrict"]]
    sub_codes = comm_m["subdistrict_code"].astype(str).to_numpy()
    rows: list[_Site] = []
    for s in sorted(set(sub_codes)):
        members = np.flatnonzero((sub_codes == s) & ~gap)
        if len(members) == 0:
            continue
        c = int(members[np.argmax(quality[members] + rng.normal(0.0, 0.5, len(members)))])
        rows.append(("health_center", f"{sub_roots[c]}社区卫生服务中心", c))
    stations: set[str] = set()
    for c in pick_spread(rng, centres, max(1, len(set(sub_codes)) // 2)):
        # Named after its subdistrict, or its community when the subdistrict has one already.
        name = f"{sub_roots[int(c)]}派出所"
        name = f"{roots[int(c)]}派出所" if name in stations else name
        stations.add(name)
        rows.append(("police_station", name, int(c)))
    return rows


def _facility_frame(rng: np.random.Generator, rows: list[_Site], allowed: list[BaseGeometry],
                    geoms: NDArray[np.object_], crs: object) -> gpd.GeoDataFrame:
    """Locations and opening/closing dates of the sites, as a canonical frame."""
    pts = [points_in(rng, allowed[c] if t != "fire_station" else geoms[c], 1)[0]
           for t, _, c in rows]
    m = len(rows)
    opened = random_dates(rng, "2003-01-01", "2023-12-31", m)
    late = np.flatnonzero([t == "service_station" for t, _, _ in rows])
    newest = rng.choice(late, min(3, len(late)), replace=False)
    opened[newest] = random_dates(rng, "2025-02-01", "2025-09-30", len(newest)).to_numpy()
    closed = pd.Series([pd.NaT] * m, dtype="datetime64[ns]")
    offices = np.flatnonzero([t in ("police_office", "health_station") for t, _, _ in rows])
    shut = rng.choice(offices, min(2, len(offices)), replace=False)
    closed[shut] = random_dates(rng, "2024-06-01", "2025-06-30", len(shut)).to_numpy()
    frame = pd.DataFrame({
        "id": [f"F{i + 1:04d}" for i in range(m)],
        "type": [t for t, _, _ in rows],
        "name": [nm for _, nm, _ in rows],
        "opened_on": opened,
        "closed_on": closed,
    })
    return canonical_frame(frame, "facilities", shapely.points(np.array(pts)), crs=crs)
