"""The sample city's streets: an irregular grid with arterials, a river, an elevated road.

So that reach along roads differs visibly from the straight line, the network has

- an irregular grid of streets (spacing 180-320 m, crossings jittered by up to 25 m) over the
  city's extent, with every fourth street an arterial (主干路) and the rest branch streets
  (支路) and lanes (街巷); a few lanes are one-way;
- dead ends: about one street segment in nine is missing, so some streets stop short, and
  :data:`CUL_DE_SACS` lanes of 40-70 m lead into blocks and stop (死胡同);
- a river across the middle of the city, west to east, that the streets stop at, except at
  three bridges (two arterials and one branch street);
- an elevated expressway (快速路, ``高架=是``, ``层=1``) on a diagonal from south-west to
  north-east that crosses the streets below without a junction: it meets the grid only at its
  two ends. Pedestrians may not use it (:data:`geo.roads.WALK_EXCLUDED`).

Columns are those a Chinese road file would have: ``名称``, ``等级`` (主干路, 支路, 街巷, 快速路),
``单行`` (是/否), ``限速`` (km/h, on the expressway only), ``高架`` (是/否) and ``层``.
Everything is in the city's metric CRS; :func:`draw_roads` returns lines there.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import shapely

from geo.sample.draws import FloatArray

__all__ = ["CUL_DE_SACS", "RIVER_BRIDGES", "draw_roads", "river_line"]

#: Bridges over the river.
RIVER_BRIDGES = 3
#: Dead-end lanes.
CUL_DE_SACS = 60
_MISSING = 1 / 9


def _axis(rng: np.random.Generator, lo: float, hi: float) -> FloatArray:
    """Street positions from ``lo`` to ``hi`` at irregular spacings of 180-320 m."""
    steps = rng.uniform(180.0, 320.0, size=int((hi - lo) / 150.0) + 2)
    pos = lo + np.r_[0.0, np.cumsum(steps)]
    return pos[pos <= hi + 320.0]


def river_line(bounds: tuple[float, float, float, float]) -> shapely.LineString:
    """The river: a gentle meander from west to east through the middle of ``bounds``."""
    x0, y0, x1, y1 = bounds
    x = np.linspace(x0 - 500.0, x1 + 500.0, 200)
    y = (y0 + y1) / 2 + 0.08 * (y1 - y0) * np.sin(2 * np.pi * (x - x0) / max(x1 - x0, 1.0))
    return shapely.LineString(np.c_[x, y])


def draw_roads(rng: np.random.Generator, communities_m: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Draw the street network over the communities (see the module docstring).

    Parameters
    ----------
    rng
        The roads' random stream.
    communities_m
        The communities in a metric CRS (their extent is the grid's).

    Returns
    -------
    geopandas.GeoDataFrame
        One row per street segment (or the expressway), in the communities' CRS.
    """
    x0, y0, x1, y1 = communities_m.total_bounds
    xs, ys = _axis(rng, x0 - 100.0, x1 + 100.0), _axis(rng, y0 - 100.0, y1 + 100.0)
    nodes = np.stack(np.meshgrid(xs, ys, indexing="ij"), axis=-1)
    nodes = nodes + rng.uniform(-25.0, 25.0, size=nodes.shape)
    river = river_line((x0, y0, x1, y1))
    rows: list[dict[str, object]] = []
    one_way_rows = set(rng.choice(np.arange(1, len(ys) - 1, 4), size=2, replace=False).tolist())
    crossing: list[tuple[int, dict[str, object]]] = []
    for i in range(len(xs)):
        for j in range(len(ys)):
            for di, dj in ((1, 0), (0, 1)):
                if i + di >= len(xs) or j + dj >= len(ys):
                    continue
                line = shapely.LineString([nodes[i, j], nodes[i + di, j + dj]])
                along_x = di == 1
                k = j if along_x else i
                row = _street(k, along_x, j in one_way_rows and along_x, line)
                if line.intersects(river):
                    crossing.append((k if not along_x else -1, row))
                elif rng.random() >= _MISSING or row["等级"] == "主干路":
                    rows.append(row)
    rows.extend(_bridges(rng, crossing))
    rows.extend(_cul_de_sacs(rng, nodes))
    rows.append(_expressway(nodes))
    frame = gpd.GeoDataFrame(rows, geometry=[r.pop("geometry") for r in rows],
                             crs=communities_m.crs)
    return frame


def _street(k: int, along_x: bool, one_way: bool, line: shapely.LineString
            ) -> dict[str, object]:
    """One segment of street ``k`` (east-west when ``along_x``)."""
    arterial = k % 4 == 0
    kind = "主干路" if arterial else ("支路" if k % 2 == 0 else "街巷")
    name = f"{'横' if along_x else '纵'}{k + 1}{'大街' if arterial else '街'}"
    return {"名称": name, "等级": kind, "单行": "是" if one_way and not arterial else "否",
            "限速": None, "高架": "否", "层": 0, "geometry": line}


def _bridges(rng: np.random.Generator, crossing: list[tuple[int, dict[str, object]]]
             ) -> list[dict[str, object]]:
    """Keep :data:`RIVER_BRIDGES` of the north-south segments over the river as bridges."""
    arterial = [r for k, r in crossing if k >= 0 and r["等级"] == "主干路"]
    other = [r for k, r in crossing if k >= 0 and r["等级"] == "支路"]
    keep: list[dict[str, object]] = []
    if len(arterial) >= 2:
        picks = [arterial[len(arterial) // 4], arterial[(3 * len(arterial)) // 4]]
        keep.extend(picks if picks[0] is not picks[1] else picks[:1])
    if other:
        keep.append(other[int(rng.integers(len(other)))])
    return [{**r, "名称": f"{r['名称']}桥", "高架": "是", "层": 1} for r in keep[:RIVER_BRIDGES]]


def _cul_de_sacs(rng: np.random.Generator, nodes: FloatArray) -> list[dict[str, object]]:
    """Dead-end lanes (死胡同): 40-70 m into a block from :data:`CUL_DE_SACS` crossings."""
    nx, ny = nodes.shape[:2]
    i = rng.integers(1, nx - 1, size=CUL_DE_SACS)
    j = rng.integers(1, ny - 1, size=CUL_DE_SACS)
    angle = np.pi / 4 + np.pi / 2 * rng.integers(0, 4, size=CUL_DE_SACS)
    length = rng.uniform(40.0, 70.0, size=CUL_DE_SACS)
    rows: list[dict[str, object]] = []
    for k in range(CUL_DE_SACS):
        a = nodes[i[k], j[k]]
        b = a + length[k] * np.array([np.cos(angle[k]), np.sin(angle[k])])
        rows.append({"名称": f"死胡同{k + 1}", "等级": "街巷", "单行": "否", "限速": None,
                     "高架": "否", "层": 0, "geometry": shapely.LineString([a, b])})
    return rows


def _expressway(nodes: FloatArray) -> dict[str, object]:
    """The elevated expressway: crossing to crossing on a diagonal, meeting the grid only there."""
    nx, ny = nodes.shape[:2]
    a, b = nodes[1, 1], nodes[nx - 2, ny - 2]
    mid = (a + b) / 2 + np.array([150.0, -150.0])
    return {"名称": "环城高架", "等级": "快速路", "单行": "否", "限速": 80, "高架": "是", "层": 1,
            "geometry": shapely.LineString([a, mid, b])}
