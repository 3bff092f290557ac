"""The sample city's residents: population by year and the latent quality of each community.

The quality score drives camera density, compound compliance, facility presence and case rates
(:mod:`geo.sample.inventories`, :mod:`geo.sample.facilities`, :mod:`geo.sample.incidents`), so
that a safe-community standard finds communities that meet it, some that partly do, and some
that fail.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo.sample.draws import FloatArray
from geo.sample.frames import cast_columns

__all__ = ["community_quality", "population_by_year"]


def community_quality(rng: np.random.Generator, comm_m: gpd.GeoDataFrame) -> FloatArray:
    """Return a latent quality per community: a smooth spatial trend plus noise, standardised.

    Parameters
    ----------
    rng
        The quality stream's generator.
    comm_m
        Communities in a metric CRS.

    Returns
    -------
    numpy.ndarray
        Mean 0, standard deviation 1; higher is better.
    """
    centre = shapely.get_coordinates(comm_m.geometry.representative_point())
    span = float(np.ptp(centre[:, 0]) + np.ptp(centre[:, 1])) / 2.0
    trend = np.zeros(len(centre))
    for _ in range(4):
        c = centre[rng.integers(len(centre))]
        d2 = ((centre - c) ** 2).sum(axis=1)
        trend += rng.choice([-1.0, 1.0]) * np.exp(-d2 / (2.0 * (0.25 * span) ** 2))
    q = 0.8 * trend / (trend.std() or 1.0) + rng.normal(0.0, 0.7, len(centre))
    return (q - q.mean()) / q.std()


def population_by_year(rng: np.random.Generator,
                       communities: gpd.GeoDataFrame) -> pd.DataFrame:
    """Return the population table of 2024 and 2025 (2025 is the communities' population).

    Parameters
    ----------
    rng
        The population stream's generator.
    communities
        Canonical communities.

    Returns
    -------
    pandas.DataFrame
        Canonical ``population`` columns (``code``, ``year``, ``population``), sorted.
    """
    pop_2025 = communities["population"].to_numpy()
    pop_2024 = np.round(pop_2025 * (1.0 + rng.normal(-0.015, 0.025, len(pop_2025))))
    codes = communities["code"].astype(str).to_list()
    frame = pd.DataFrame({
        "code": codes + codes,
        "year": [2024] * len(codes) + [2025] * len(codes),
        "population": np.concatenate([pop_2024, pop_2025]),
    }).sort_values(["code", "year"], kind="stable").reset_index(drop=True)
    return pd.DataFrame(cast_columns(frame, "population"))

