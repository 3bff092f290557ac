"""Request and response schemas of drawn areas, saved areas and the place search.

Kept apart from :mod:`api.schemas` (the other resources) so that each module stays one concern
of a readable size. The area itself is checked by :func:`api.services.areas.resolve_area`
(validity, vertices, radius, CRS), which names the field of each problem.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from api.schemas import RowBase

__all__ = ["AreaIn", "AreaQueryIn", "AreaQueryOut", "CircleIn", "SavedAreaIn", "SavedAreaList",
           "SavedAreaOut", "SearchOut"]


class CircleIn(BaseModel):
    """A circle: its centre (WGS84) and radius in metres."""

    model_config = ConfigDict(extra="forbid")

    lon: float = Field(ge=-180, le=180)
    lat: float = Field(ge=-90, le=90)
    radius_m: float = Field(description="10 to 20,000 metres")


class AreaIn(BaseModel):
    """An area: exactly one of a drawn polygon, a circle, or a place picked by name."""

    model_config = ConfigDict(extra="forbid")

    geometry: dict[str, Any] | None = Field(
        None, description="a GeoJSON Polygon or MultiPolygon in WGS84 longitude/latitude "
                          "(at most 2,000 vertices, not self-intersecting)")
    circle: CircleIn | None = None
    community: str | None = Field(None, min_length=1, max_length=200,
                                  description="a community code or name")
    facility: str | None = Field(None, min_length=1, max_length=200,
                                 description="a facility id or name (a circle of radius_m)")
    road: str | None = Field(None, min_length=1, max_length=200,
                             description="a road name (a buffer of buffer_m along it)")
    radius_m: float | None = Field(None, description="a facility's circle (default 500 m)")
    buffer_m: float | None = Field(None, description="a road's buffer (default 50 m)")
    crs: Any = Field(None, description="only EPSG:4326 / OGC:CRS84 (or absent) is accepted")


class AreaQueryIn(BaseModel):
    """What happened inside an area in a period."""

    model_config = ConfigDict(extra="forbid")

    area: AreaIn
    period: str | None = Field(None, max_length=40, description=(
        "as the period parameter elsewhere; planner and client keys: whole months, quarters "
        "or years"))
    category: list[str] = Field(default_factory=list, max_length=50, description=(
        "only these categories (planner and client keys: one category group)"))
    hours: list[int] = Field(default_factory=list, max_length=24, description=(
        "local hours 0-23 to keep (admin and liaison keys only)"))
    weekdays: list[int] = Field(default_factory=list, max_length=7, description=(
        "weekdays 0 (Monday) - 6 to keep (admin and liaison keys only)"))
    cases_only: bool = True
    incidents: bool = Field(False, description="also list the incidents (admin and liaison "
                                               "keys only)")
    limit: int = Field(200, description="incidents listed at most (1-1000)")


class AreaQueryOut(BaseModel):
    """Counts, rate and monthly trend of an area (the incident list when asked and allowed)."""

    model_config = ConfigDict(extra="allow")

    area: dict[str, Any]
    incidents: int
    population: float | None
    incidents_per_10k: float | None
    trend: list[dict[str, Any]]
    provenance: dict[str, Any]


class SavedAreaIn(BaseModel):
    """An area to save under a name (unique per key)."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100)
    area: AreaIn


class SavedAreaOut(RowBase):
    """A saved area as its key may use it now (re-checked against a liaison's jurisdiction)."""

    id: int
    name: str
    kind: str | None
    status: str = Field(description="inside, clipped (part lies outside the jurisdiction now), "
                                    "outside (wholly outside now) or unavailable (the place "
                                    "is gone)")
    area: dict[str, Any]
    geometry: dict[str, Any] | None
    created_at: str


class SavedAreaList(BaseModel):
    """The caller's saved areas, newest first."""

    count: int
    items: list[SavedAreaOut]


class SearchOut(BaseModel):
    """Places matching a text, by kind, each list limited."""

    q: str
    communities: list[dict[str, Any]]
    facilities: list[dict[str, Any]]
    roads: list[dict[str, Any]]
    addresses: list[dict[str, Any]] | None = Field(
        description="incident addresses (admin, and liaisons inside their jurisdiction); "
                    "null for planner and client keys")
