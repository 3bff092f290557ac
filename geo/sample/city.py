"""The whole sample city: every input layer generated from one seed, and what was planted."""

from __future__ import annotations

from dataclasses import dataclass

import geopandas as gpd
import pandas as pd

from geo.projection import metric_crs_for
from geo.sample.boundaries import city_center, generate_boundaries
from geo.sample.draws import (
    DEFAULT_SEED,
    STREAM_COMPOUNDS,
    STREAM_DEVICES,
    STREAM_FACILITIES,
    STREAM_INCIDENTS,
    STREAM_OUTBREAKS,
    STREAM_POPULATION,
    STREAM_QUALITY,
    STREAM_ROADS,
    check_int,
    rng_for,
)
from geo.sample.facilities import draw_facilities
from geo.sample.frames import to_wgs84_frame
from geo.sample.incidents import draw_incidents
from geo.sample.inventories import draw_compounds, draw_devices
from geo.sample.outbreaks import draw_outbreaks
from geo.sample.population import community_quality, population_by_year
from geo.sample.roads import draw_roads

__all__ = ["SampleCity", "generate_city"]


@dataclass(frozen=True)
class SampleCity:
    """A generated sample city: every input layer in its canonical form (EPSG:4326).

    Attributes
    ----------
    communities
        Canonical communities (:mod:`geo.layers` columns and geometry), sorted by ``code``.
    population
        ``code``, ``year``, ``population`` for 2024 and 2025 (2025 equals
        ``communities.population``).
    incidents
        Canonical incidents over 2024-2025, ``occurred_at`` tz-aware UTC, sorted by time. Rows
        without coordinates have a null geometry and their ``community_code``.
    devices
        Canonical technical-protection devices (points).
    compounds
        Canonical compounds: polygons, and some points.
    facilities
        Canonical facilities (points).
    truth
        What was planted, one row per community (sorted by ``code``): ``code``, ``quality``
        (latent score, higher is better), ``incident_factor_2025`` (2025 rate over 2024 rate as
        generated), ``in_hotspot`` (within one hot-spot radius of a hot-spot centre),
        ``facility_gap`` (left without police office, service station and health facility within
        800 m, on purpose).
    outbreaks
        The planted outbreaks (:mod:`geo.sample.outbreaks`), one row per outbreak:
        ``outbreak``, ``community``, ``start`` (a Monday), ``end`` (a Sunday), ``k``,
        ``expected``, ``added``, ``seed``; their incidents are among :attr:`incidents`.
    outbreak_rule
        The planting rule in one sentence.
    seed
        The seed it was generated from.
    roads
        The street network (:mod:`geo.sample.roads`): lines with Chinese road fields
        (EPSG:4326).
    """

    communities: gpd.GeoDataFrame
    population: pd.DataFrame
    incidents: gpd.GeoDataFrame
    devices: gpd.GeoDataFrame
    compounds: gpd.GeoDataFrame
    facilities: gpd.GeoDataFrame
    truth: pd.DataFrame
    outbreaks: pd.DataFrame
    outbreak_rule: str
    seed: int
    roads: gpd.GeoDataFrame


def generate_city(*, seed: int = DEFAULT_SEED, n_communities: int = 130) -> SampleCity:
    """Generate the whole sample city: boundaries, population by year and every input layer.

    Parameters
    ----------
    seed
        Seed of every random generator; the same seed gives identical frames.
    n_communities
        Number of communities (at least 12: there are 12 subdistricts).

    Returns
    -------
    SampleCity
        The canonical frames and the planted truth.

    Raises
    ------
    ValueError
        If ``n_communities`` is below 12 or ``seed`` is negative.
    TypeError
        If ``seed`` or ``n_communities`` is not an integer.
    """
    seed = check_int("seed", seed, 0)
    n_communities = check_int("n_communities", n_communities, 12)
    communities = generate_boundaries(n_communities, seed=seed)
    metric = metric_crs_for(*city_center(communities))
    comm_m = communities.to_crs(metric)
    quality = community_quality(rng_for(seed, STREAM_QUALITY), comm_m)
    population = population_by_year(rng_for(seed, STREAM_POPULATION), communities)
    compounds_m = draw_compounds(rng_for(seed, STREAM_COMPOUNDS), comm_m, quality)
    devices_m = draw_devices(rng_for(seed, STREAM_DEVICES), comm_m, compounds_m, quality)
    facilities_m, gap = draw_facilities(rng_for(seed, STREAM_FACILITIES), comm_m, quality)
    incidents_m, factor_2025, hot, means = draw_incidents(rng_for(seed, STREAM_INCIDENTS),
                                                          comm_m, quality)
    planted_m, outbreaks, rule = draw_outbreaks(rng_for(seed, STREAM_OUTBREAKS), comm_m, means)
    incidents_m = pd.concat([incidents_m, planted_m.to_crs(incidents_m.crs)], ignore_index=True)
    incidents_m = incidents_m.sort_values("occurred_at", kind="stable").reset_index(drop=True)
    truth = pd.DataFrame({
        "code": communities["code"].astype("string").reset_index(drop=True),
        "quality": quality,
        "incident_factor_2025": factor_2025,
        "in_hotspot": hot,
        "facility_gap": gap,
    })
    return SampleCity(
        communities=communities,
        population=population,
        incidents=to_wgs84_frame(incidents_m, "incidents"),
        devices=to_wgs84_frame(devices_m, "devices"),
        compounds=to_wgs84_frame(compounds_m, "compounds"),
        facilities=to_wgs84_frame(facilities_m, "facilities"),
        truth=truth,
        outbreaks=outbreaks,
        outbreak_rule=rule,
        seed=seed,
        roads=draw_roads(rng_for(seed, STREAM_ROADS), comm_m).to_crs(4326),
    )


