"""The sample city's planted outbreaks: known answers for the early-warning alerts.

An alert method is judged by what it finds when the answer is known. On top of the background
incidents (:mod:`geo.sample.incidents`) the sample city plants outbreaks by one fixed rule,
:func:`geo.outbreaks.plant_outbreaks` with the options below, and records them in
:attr:`geo.sample.SampleCity.outbreaks` and in the manifest (``sample.json``, ``outbreaks``):

- :data:`N_OUTBREAKS` (36) outbreaks of two weeks, ``k`` = 2, 3, 5 in turn (12 of each);
- each in one community drawn uniformly among the communities expecting at least
  :data:`MIN_WEEKLY` (3) background incidents a week in both years (fewer, and a week of k = 3
  is within the Poisson noise of an ordinary week: no method could be asked to find it),
  and a window drawn uniformly
  among the two-week windows starting on a Monday from :data:`FIRST_DAY` (4 March 2024, so
  that EARS has its nine weeks of baseline) to :data:`LAST_DAY` (28 December 2025), at least
  four weeks from another outbreak of the same community; seed :data:`OUTBREAK_SEED`;
- ``E`` is the community's expected background count over the window: its yearly mean
  (:func:`geo.sample.incidents.draw_incidents`) spread over the days by each category's share
  and day weights (season, weekday), summed over the 14 days. The outbreak adds
  ``round((k − 1) · E)`` incidents uniform in the community and over the window, so the
  community's count in the window is about ``k × E``;
- the added incidents get a category drawn by the background's shares (stream
  ``STREAM_OUTBREAKS``: the background's draws are unchanged by them), status ``filed``,
  precision ``exact``, the community's address (``北京市`` + district + community) and ids
  ``outbreak-<i>-<j>`` (``i`` the outbreak's number, ``j`` its incident).
"""

from __future__ import annotations

import datetime as dt

import geopandas as gpd
import numpy as np
import pandas as pd

from geo.outbreaks import plant_outbreaks
from geo.period import DEFAULT_TIMEZONE
from geo.sample.draws import FloatArray
from geo.sample.incidents import CATEGORIES, CATEGORY_SHARE, day_weights

__all__ = ["FIRST_DAY", "KS", "LAST_DAY", "MIN_WEEKLY", "N_OUTBREAKS", "OUTBREAK_SEED",
           "draw_outbreaks", "expected_weekly"]

N_OUTBREAKS = 36
KS = (2, 3, 5)
FIRST_DAY = dt.date(2024, 3, 4)
LAST_DAY = dt.date(2025, 12, 28)
#: Seed of :func:`geo.outbreaks.plant_outbreaks` for the committed sample city.
OUTBREAK_SEED = 20250113
#: Least expected background incidents a week (in both years) of a community given an outbreak.
MIN_WEEKLY = 3.0
_YEARS = (2024, 2025)
_WEEKS_PER_YEAR = 365.2425 / 7


def expected_weekly(codes: list[str], means: FloatArray) -> pd.DataFrame:
    """Expected background incidents per ISO week of 2024-2025 and community.

    Parameters
    ----------
    codes
        Community codes, in the rows' order of ``means``.
    means
        Expected incidents of 2024 and 2025 per community (communities x 2).

    Returns
    -------
    pandas.DataFrame
        Rows: the Mondays from 1 January 2024 to 22 December 2025; columns: the codes.
    """
    per_day = []
    for year in _YEARS:
        days = pd.date_range(f"{year}-01-01", f"{year}-12-31", freq="D")
        share = sum(s * day_weights(c, days) for c, s in zip(CATEGORIES, CATEGORY_SHARE,
                                                             strict=True))
        per_day.append(pd.DataFrame(np.outer(share, means[:, year - _YEARS[0]]), index=days,
                                    columns=codes))
    daily = pd.concat(per_day)
    weekly = daily.groupby(np.arange(len(daily)) // 7).sum()
    weekly.index = daily.index[::7][: len(weekly)]
    return weekly.iloc[: (len(daily) // 7)]


def draw_outbreaks(rng: np.random.Generator, comm_m: gpd.GeoDataFrame, means: FloatArray
                   ) -> tuple[gpd.GeoDataFrame, pd.DataFrame, str]:
    """Plant the sample city's outbreaks (see the module docstring for the rule).

    Parameters
    ----------
    rng
        The outbreaks stream's generator (categories of the added incidents).
    comm_m
        Communities in a metric CRS, with ``code``.
    means
        Expected background incidents of 2024 and 2025 per community (communities x 2).

    Returns
    -------
    tuple
        The added incidents (canonical columns, metric CRS), the manifest of the outbreaks
        (:attr:`geo.outbreaks.PlantedOutbreaks.manifest`) and the rule in one sentence.
    """
    codes = [str(c) for c in comm_m["code"]]
    eligible = (means.min(axis=1) / _WEEKS_PER_YEAR >= MIN_WEEKLY)
    chosen = comm_m[eligible].reset_index(drop=True)
    planted = plant_outbreaks(chosen, expected_weekly(codes, means), start=FIRST_DAY,
                              end=LAST_DAY, n_outbreaks=N_OUTBREAKS, ks=KS, weeks=2,
                              seed=OUTBREAK_SEED, timezone=DEFAULT_TIMEZONE)
    added = planted.incidents.copy()
    # whole seconds, as the background's times and the files' (a floor never crosses a day)
    added["occurred_at"] = added["occurred_at"].dt.floor("s")
    n = len(added)
    added["category"] = pd.array(
        np.array(CATEGORIES, dtype=object)[rng.choice(len(CATEGORIES), n, p=CATEGORY_SHARE)],
        dtype="string")
    added["status"] = pd.array(["filed"] * n, dtype="string")
    where = comm_m.set_index(comm_m["code"].astype(str))
    place = (where["district"].astype(str) + where["name"].astype(str)).to_dict()
    added["address"] = pd.array([f"北京市{place[str(c)]}" for c in added["community_code"]],
                                dtype="string")
    added["community_code"] = pd.array([None] * n, dtype="string")  # assigned by the point
    return added, planted.manifest, planted.rule
