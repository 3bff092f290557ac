"""Response schemas of the space-time routes: emerging hot spots, density, near repeats, alerts.

Kept apart from :mod:`api.schemas` (the other resources) so that each module stays one concern
of a readable size; they share its row and list bases.
"""

from __future__ import annotations

from pydantic import Field

from api.schemas import ListBase, RowBase

__all__ = [
    "AlertList",
    "AlertOut",
    "DensityCellOut",
    "DensityList",
    "EmergingCellOut",
    "EmergingList",
    "KnoxBandOut",
    "KnoxList",
    "RiskZoneList",
    "RiskZoneOut",
]


class EmergingCellOut(RowBase):
    """The emerging hot-spot category of a grid cell (planner and client keys: nothing else).

    Exact callers also get ``trend_tau`` and ``trend_p`` (Mann-Kendall of the cell's Gi* z
    over time), ``last_z`` and ``last_p`` (the final step's Gi*), ``hot_steps``,
    ``cold_steps``, ``incidents`` and ``count_<step>`` per step.
    """

    cell_id: str
    ix: int
    iy: int
    category: str = Field(description='an ArcGIS Pro category such as "new_hot_spot", or "<3"')


class EmergingList(ListBase):
    """Emerging hot spots of the grid cells."""

    items: list[EmergingCellOut]


class DensityCellOut(RowBase):
    """One cell of a kernel density surface."""

    cell_id: str
    ix: int
    iy: int
    density_per_km2: float = Field(description="incidents per km² at the cell's centre")
    expected: float = Field(description="expected incidents in the cell")


class DensityList(ListBase):
    """A kernel density surface: its cells with a value."""

    items: list[DensityCellOut]


class KnoxBandOut(RowBase):
    """One distance band × time band of a Knox table (planner and client keys: the class only).

    Exact callers also get ``observed`` (pairs), ``expected`` (Monte Carlo mean),
    ``knox_ratio``, ``p_value`` (one-sided pseudo p) and, for cumulative tables,
    ``space_pairs``, ``time_pairs``, ``expected_analytic`` and ``p_poisson``.
    """

    space_band: str
    time_band: str
    space_from_m: float
    space_to_m: float
    time_from_days: int
    time_to_days: int
    near_repeat_class: str = Field(description='"raised", "not raised", or "<3"')


class KnoxList(ListBase):
    """A Knox table of near repeats."""

    items: list[KnoxBandOut]


class RiskZoneOut(RowBase):
    """A near-repeat risk zone around a recent incident (admin and liaison keys only)."""

    incident_id: str
    community_code: str | None
    occurred_on: str
    radius_m: float
    days: int
    expires_on: str = Field(description="last local day at raised risk")


class RiskZoneList(ListBase):
    """Near-repeat risk zones."""

    items: list[RiskZoneOut]


class AlertOut(RowBase):
    """A unit's early-warning test (planner and client keys: alerting units only, no figures).

    Exact callers also get ``observed``, ``expected``, ``threshold``, ``statistic``,
    ``p_value``, ``q_value``, ``history_steps`` and ``incidents_link``.
    """

    unit: str
    name: str | None
    level: str
    resolution: str
    step: str
    last_day: str
    method: str = Field(description="ears_c1, ears_c2, ears_c3, farrington or none")
    alert: bool
    first_fired: str | None


class AlertList(ListBase):
    """Early-warning alerts of the units."""

    items: list[AlertOut]
