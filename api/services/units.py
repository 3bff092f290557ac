"""The units results are reported by: the caller's communities and their roll-ups.

A caller's world (:class:`api.release.Visibility`) is every community, or a liaison's own;
roll-up units (subdistricts, districts, the city) are made of the world's communities, so a
liaison's "city" is their jurisdiction. Geometries of roll-up units are dissolved from their
communities.
"""

from __future__ import annotations

import geopandas as gpd
import pandas as pd

from api.release import Visibility
from api.services import ServiceContext
from geo.codes import sort_by_code
from geo.errors import ParameterError
from geo.exposure import period_population
from geo.period import Period
from geo.rollup import unit_keys

__all__ = [
    "LEVELS",
    "LEVEL_ZH",
    "check_level",
    "communities_in_period",
    "level_zh",
    "unit_geometries",
    "unit_of",
    "unit_table",
    "world_communities",
]

LEVELS = ("community", "subdistrict", "district", "city")
_KEY = {"community": "code", "subdistrict": "subdistrict_code", "district": "district_code"}


#: Chinese names of the levels (titles of printed tables).
LEVEL_ZH = {"community": "社区", "subdistrict": "街道", "district": "区", "city": "全市"}


def level_zh(level: str) -> str:
    """A level in a Chinese title: ``按街道`` (by subdistrict), or ``全市`` for the city."""
    return "全市" if level == "city" else f"按{LEVEL_ZH.get(level, level)}"


def check_level(level: str) -> str:
    """Return ``level`` if it is one of :data:`LEVELS`.

    Raises
    ------
    geo.errors.ParameterError
    """
    if level not in LEVELS:
        raise ParameterError(f"level must be one of {', '.join(LEVELS)}; got {level!r}",
                             parameter="level")
    return level


def world_communities(ctx: ServiceContext, vis: Visibility) -> gpd.GeoDataFrame:
    """The current communities of the caller's world (sorted by code)."""
    comms = ctx.communities()
    if vis.communities is None:
        return comms
    return comms[vis.in_world(comms["code"])].reset_index(drop=True)


def communities_in_period(ctx: ServiceContext, vis: Visibility,
                          period: Period) -> gpd.GeoDataFrame:
    """The world's communities with ``population`` over the period (mean residents).

    The population of a period comes from the population table by
    :func:`geo.exposure.period_population` (linear between known dates, flat beyond: the same
    rule as the rates); communities without any row keep the boundary file's population.
    ``population_rule`` says which rule each community used.
    """
    from api.services.rates import population_table

    def compute() -> gpd.GeoDataFrame:
        comms = ctx.communities().copy()
        boundary = pd.Series(comms["population"].to_numpy(), index=comms["code"].astype(str))
        found = period_population(population_table(ctx), period.start, period.end,
                                  boundary=boundary, codes=pd.Index(boundary.index))
        comms["population"] = found.population.to_numpy()
        comms["population_rule"] = found.rule.to_numpy()
        return comms
    comms = ctx.cached("communities_in_period", period.label, compute)
    if vis.communities is None:
        return comms
    return comms[vis.in_world(comms["code"])].reset_index(drop=True)


def unit_of(comms: pd.DataFrame, level: str) -> pd.Series:
    """Community code -> the code of its unit at ``level`` (:func:`geo.rollup.unit_keys`)."""
    check_level(level)
    if level == "community":
        codes = comms["code"].astype("string")
        return pd.Series(codes.to_numpy(), index=codes.to_numpy(), dtype="string")
    return unit_keys(comms, level)["unit"]


def unit_table(ctx: ServiceContext, vis: Visibility, level: str,
               period: Period) -> pd.DataFrame:
    """One row per unit of the world at ``level``: code, name, communities, population.

    Community rows also carry subdistrict and district names. Populations are those of the
    period (:func:`communities_in_period`), summed over the unit's communities.
    """
    comms = communities_in_period(ctx, vis, period)
    if level == "community":
        out = comms[["code", "name", "subdistrict", "district", "population"]].copy()
        out["communities"] = 1
        return out.reset_index(drop=True)
    keys = unit_keys(comms, level, codes=comms["code"].astype("string"))
    names = keys["name"].fillna("city") if level == "city" else keys["name"]
    frame = pd.DataFrame({"code": keys["unit"].to_numpy(), "name": names.to_numpy(),
                          "population": comms["population"].to_numpy()})
    return sort_by_code(frame.groupby("code", dropna=True)
                        .agg(name=("name", "first"), communities=("code", "size"),
                             population=("population", "sum"))
                        .reset_index()).reset_index(drop=True)


def unit_geometries(ctx: ServiceContext, vis: Visibility, level: str) -> pd.DataFrame:
    """Code and geometry of each unit of the world at ``level`` (EPSG:4326)."""
    check_level(level)

    def compute() -> pd.DataFrame:
        comms = world_communities(ctx, vis)
        if level == "community":
            return pd.DataFrame({"code": comms["code"].to_numpy(),
                                 "geometry": comms.geometry.to_numpy()})
        if level == "city":
            return pd.DataFrame({"code": ["city"], "geometry": [comms.geometry.union_all()]})
        dissolved = comms.dissolve(by=_KEY[level])
        return pd.DataFrame({"code": dissolved.index.astype(str),
                             "geometry": dissolved.geometry.to_numpy()})
    return ctx.cached("unit_geometries", level, compute, vis=vis)
