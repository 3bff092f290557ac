"""Response schemas of the HTTP API (documented in ``/openapi.json``) and their OpenAPI helpers.

Families follow one pattern: ``XOut`` for one row as JSON, ``XList`` for a list wrapper with
``provenance``, ``count`` (rows in this response) and, for paginated lists, ``total``,
``limit`` and ``offset``. Routes render their frames with :func:`api.deps.render`; these models
document what that produces and the schemathesis test checks that the two agree.

:func:`responses` builds a route's ``responses=`` argument: the alternative formats of a 200
(CSV with BOM, GeoJSON) and the problem documents of its error statuses.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from api.errors import PROBLEM_MEDIA_TYPE
from api.provenance import PROVENANCE_MEDIA_TYPE

__all__ = [
    "AuditEntryOut",
    "AuditList",
    "BlindSpotList",
    "BlindSpotOut",
    "CandidateIn",
    "CommunityAggregateList",
    "CommunityAggregateOut",
    "CommunityDetail",
    "CommunityList",
    "CommunityOut",
    "CoverageList",
    "CoverageOut",
    "FieldErrorOut",
    "GapList",
    "GapOut",
    "GridCellList",
    "GridCellOut",
    "HealthOut",
    "HotspotList",
    "HotspotOut",
    "IncidentList",
    "IncidentOut",
    "KeyOut",
    "ListBase",
    "LoadReportOut",
    "MetricList",
    "MetricOut",
    "PeriodOut",
    "Problem",
    "ProfileDetail",
    "ProfileList",
    "ProfileSummaryOut",
    "ProtectionList",
    "ProtectionOut",
    "Provenance",
    "RateList",
    "RateOut",
    "RejectionOut",
    "RowBase",
    "SiteOut",
    "SitePlanIn",
    "SitePlanOut",
    "StandardList",
    "StandardOut",
    "TodoList",
    "TodoOut",
    "TrendList",
    "TrendOut",
    "VersionOut",
    "WorkloadList",
    "WorkloadOut",
    "responses",
]

CSV_MEDIA_TYPE = "text/csv"
#: The provenance document of a CSV (``format=provenance``).
_PROVENANCE_DOCUMENT: dict[str, Any] = {
    "type": "object", "required": ["provenance", "describes"],
    "properties": {
        "provenance": {"type": "object"},
        "describes": {"type": "object", "required": ["media_type", "rows", "columns"],
                      "properties": {"media_type": {"type": "string"},
                                     "rows": {"type": "integer"},
                                     "columns": {"type": "array",
                                                 "items": {"type": "string"}}}}}}
GEOJSON_MEDIA_TYPE = "application/geo+json"


class FieldErrorOut(BaseModel):
    """One problem with one input field."""

    field: str = Field(description="where: query.period, body.file, row 3.geometry…")
    message: str
    line: int | None = Field(None, description="line in an uploaded text, when known")


class Problem(BaseModel):
    """An error (RFC 9457 problem details)."""

    model_config = ConfigDict(extra="allow")

    type: str = Field(description="URI of the problem type")
    title: str
    title_zh: str = Field(description="the problem type's title in Chinese")
    status: int
    detail: str
    errors: list[FieldErrorOut] = Field(default_factory=list)


class PeriodOut(BaseModel):
    """A reporting period: local days ``start`` to ``end`` (inclusive)."""

    label: str = Field(description="2025, 2025-Q3, 2025-07, 2025-W49 or 2025-01-01..2025-06-30")
    start: str = Field(description="first local day")
    end: str = Field(description="last local day (inclusive)")


class Provenance(BaseModel):
    """Where the numbers of a response come from."""

    model_config = ConfigDict(extra="allow")

    data_version: int = Field(description="bumped by every load")
    generated_at: str
    timezone: str
    period: PeriodOut | str | None = Field(None, description="the period (or its label)")
    profile_version: str | None = Field(None, description="version key of the profile used")
    left_out: dict[str, Any] = Field(default_factory=dict,
                                     description="records left out of the figures, by reason")
    suppressed: int | None = Field(None, description="rows whose small counts are suppressed")
    min_count_shown: int | None = None


class ListBase(BaseModel):
    """A list response: its provenance and the rows in it (subclasses add ``items``)."""

    provenance: Provenance
    count: int = Field(description="rows in this response")


class _Page(ListBase):
    total: int = Field(description="rows matching the filters")
    limit: int
    offset: int


class CommunityOut(BaseModel):
    """A community (no incident data)."""

    code: str
    name: str
    subdistrict_code: str | None
    subdistrict: str | None
    district_code: str | None
    district: str | None
    population: float | None
    households: float | None


class CommunityList(_Page):
    """A page of communities."""

    items: list[CommunityOut]


class CommunityDetail(BaseModel):
    """One community."""

    provenance: Provenance
    item: CommunityOut


class IncidentOut(BaseModel):
    """A raw incident (admin, or a liaison inside their jurisdiction)."""

    id: str
    occurred_at: str = Field(description="ISO 8601 in the configured time zone")
    category: str
    status: str | None
    address: str | None
    location_precision: str
    community_code: str | None = Field(description="assigned community")
    assigned_by: str | None = Field(description="how: point (the community contains the "
                                    "point), snap (the only community within the load's "
                                    "--snap-m), code (no point: the reported code)")
    reported_community: str | None = Field(description="community code given in the file")
    longitude: float | None
    latitude: float | None


class IncidentList(_Page):
    """A page of raw incidents."""

    items: list[IncidentOut]


class CommunityAggregateOut(BaseModel):
    """Incident counts of one community; small counts suppressed."""

    code: str
    name: str
    subdistrict_code: str | None
    subdistrict: str | None
    district_code: str | None
    district: str | None
    population: float | None
    incidents: int | str = Field(description='a count, or "<3" when suppressed')
    incidents_per_10k: float | None = Field(description="for the period; null when suppressed")
    suppressed: bool


class CommunityAggregateList(ListBase):
    """Incident counts by community."""

    items: list[CommunityAggregateOut]


class GridCellOut(BaseModel):
    """Incident count of one fixed-grid cell; small counts suppressed."""

    cell_id: str = Field(description="<cell_m>m:<ix>:<iy>")
    ix: int = Field(description="column: the cell spans [ix, ix+1) * cell_m in the metric CRS")
    iy: int = Field(description="row")
    incidents: int | str = Field(description='a count, or "<3" when suppressed')
    share: float | None = Field(description="share of the grid's incidents; null when suppressed")
    suppressed: bool


class GridCellList(ListBase):
    """Incident counts on the fixed grid (non-empty cells only)."""

    items: list[GridCellOut]


class MetricOut(BaseModel):
    """One per-community metric of the catalogue."""

    name: str
    unit: str
    label_zh: str
    label_en: str
    description_zh: str
    description_en: str
    better: str
    producer: str
    params: list[str]
    required_params: list[str]


class MetricList(ListBase):
    """The metric catalogue."""

    items: list[MetricOut]


class ProfileSummaryOut(BaseModel):
    """A stored profile version."""

    name: str
    version: str
    version_key: str
    effective_date: str
    criteria: int
    builtin: bool
    active: bool
    created_at: str | None
    created_by: str | None


class ProfileList(ListBase):
    """Every profile version: the built-in one and the uploads."""

    items: list[ProfileSummaryOut]


class ProfileDetail(ProfileSummaryOut):
    """A profile version with its text and parsed content."""

    content: str = Field(description="the TOML text")
    profile: dict[str, Any] = Field(description="the validated profile")


class RejectionOut(BaseModel):
    """One problem of one rejected input row."""

    row: int
    field: str
    reason: str
    value: str | None
    record_id: str | None


class LoadReportOut(BaseModel):
    """What a load did (the same report as ``pingan load``)."""

    layer: str
    file_name: str
    sha256: str
    load_id: int
    data_version: int
    rows_read: int
    rows_loaded: int
    rows_updated: int
    rows_rejected: int
    rows_removed: int
    incidents_reassigned: int
    incidents_unassigned: int
    community_mismatches: int
    incidents_snapped: int = Field(description="incidents in no community given to the only "
                                   "community within the snapping tolerance")
    incidents_snap_ambiguous: int = Field(description="incidents in no community within the "
                                          "tolerance of two or more communities, left "
                                          "unassigned")
    snap_m: float = Field(description="the load's snapping tolerance in ground metres (0: none)")
    source_crs: str | None
    warnings: list[str]
    rejections: list[RejectionOut]


class IsolatedPieceOut(BaseModel):
    """A connected piece of a road network apart from the largest."""

    component: int
    edges: int
    length_m: float


class RoadsLoadReportOut(BaseModel):
    """What a roads load did (the same report as ``pingan load roads``): counts and topology."""

    layer: str
    file_name: str
    sha256: str
    load_id: int
    data_version: int
    lines_read: int
    lines_rejected: int
    edges_removed: int = Field(description="edges of the earlier network marked removed")
    nodes: int
    edges: int
    components: int = Field(description="connected pieces of the network")
    length_m: float
    largest_component_length_share: float
    isolated: list[IsolatedPieceOut]
    snap_m: float = Field(description="noding tolerance in ground metres")
    metric_crs: str
    warnings: list[str]
    rejections: list[RejectionOut]


class AuditEntryOut(BaseModel):
    """One audit row."""

    id: int
    at: str
    key_id: int | None
    key_name: str | None
    role: str | None
    action: str
    endpoint: str | None
    params: dict[str, Any] | None
    rows: int | None
    status: int | None
    client: str | None
    count: int = Field(1, description="events the row stands for (rate_limited: the requests "
                                      "refused in its window)")


class AuditList(_Page):
    """A page of the audit log, newest first."""

    items: list[AuditEntryOut]


class KeyOut(BaseModel):
    """An API key (never its secret)."""

    id: int
    name: str
    role: str
    prefix: str
    jurisdictions: list[str]
    status: str
    created_at: str | None
    expires_at: str | None
    revoked_at: str | None
    last_used_at: str | None


class HealthOut(BaseModel):
    """Whether the server can reach its database."""

    status: str = Field(description="ok or error")
    database: str = Field(description="ok or unreachable")
    data_version: int | None = None


class VersionOut(BaseModel):
    """Versions of the server, its schema and its data."""

    pingan: str
    api: str
    schema_revision: str | None
    data_version: int | None


_FEATURE_COLLECTION: dict[str, Any] = {
    "type": "object",
    "required": ["type", "features"],
    "properties": {
        "type": {"type": "string", "enum": ["FeatureCollection"]},
        "features": {"type": "array", "items": {"type": "object"}},
        "pingan": {"type": "object", "description": "provenance"},
    },
}

_PROBLEM_TEXT = {
    400: "Bad request: a parameter's value cannot be used",
    401: "Not authenticated: no key, or a malformed, unknown, revoked or expired one",
    403: "ForbiddenError: the key's role may not use this endpoint",
    404: "Not found",
    409: "ConflictError with what is stored",
    413: "Payload too large",
    422: "Invalid parameter or input (the errors name each field)",
    429: "Too many requests (see Retry-After)",
    503: "Database unavailable",
}


def responses(*statuses: int, csv: bool = False, geojson: bool = False,
              media: dict[str, dict[str, Any]] | None = None) -> dict[int | str, Any]:
    """Build the ``responses=`` argument of a route.

    Parameters
    ----------
    *statuses
        Error statuses the route can return (401, 403, 422 and 429 come with every route that
        takes a key; give them explicitly).
    csv, geojson
        Whether the 200 response may also be CSV (UTF-8 with BOM) or GeoJSON.
    media
        Other media types of the 200 response, with their schemas.

    Returns
    -------
    dict
        Problem documents are declared as ``application/json`` here and moved to
        ``application/problem+json`` when the app builds its OpenAPI document.
    """
    out: dict[int | str, Any] = {}
    content: dict[str, Any] = dict(media or {})
    if csv:
        content[CSV_MEDIA_TYPE] = {"schema": {"type": "string"}}
        content[PROVENANCE_MEDIA_TYPE] = {"schema": _PROVENANCE_DOCUMENT}
    if geojson:
        content[GEOJSON_MEDIA_TYPE] = {"schema": _FEATURE_COLLECTION}
    if content:
        out[200] = {"content": content}
    if csv:
        out[200]["headers"] = {"Link": {
            "description": 'with format=csv: <URL>; rel="describedby", the provenance document '
                           "of the same request (format=provenance)",
            "schema": {"type": "string"}}}
    for s in sorted(set(statuses) | {500}):
        out[s] = {"model": Problem,
                  "description": _PROBLEM_TEXT.get(s, "Internal error (with an error id)")}
    return out


def move_problems_to_problem_json(schema: dict[str, Any]) -> dict[str, Any]:
    """Declare every 4xx/5xx body of an OpenAPI document as ``application/problem+json``.

    Parameters
    ----------
    schema
        The OpenAPI document (changed in place and returned).

    Returns
    -------
    dict
    """
    for path in schema.get("paths", {}).values():
        for op in path.values():
            if not isinstance(op, dict):
                continue
            for status, resp in op.get("responses", {}).items():
                content = resp.get("content", {})
                if str(status)[0] not in "45":
                    continue
                # FastAPI gives a model's extra responses the route's media type (text/html
                # for the map pages); a problem document is always problem+json.
                for media in ("application/json", "text/html"):
                    if media in content:
                        content[PROBLEM_MEDIA_TYPE] = content.pop(media)
                        break
    return schema


# --- metric results ---------------------------------------------------------------------------
# Rows of metric results carry many columns (some depend on the data: device kinds, criterion
# ids), so these models type the columns every row has and allow the rest.

Count = int | str


class RowBase(BaseModel):
    """A row of a report; columns beyond those declared are allowed (extra fields)."""

    model_config = ConfigDict(extra="allow")


class RateOut(RowBase):
    """Case rates of a community or unit (small counts suppressed for some roles)."""

    code: str
    name: str | None
    cases: Count | None = Field(description='a count, or "<3" when suppressed')
    population: float | None = None
    case_rate_per_10k: float | None = None
    case_rate_per_10k_annual: float | None = None
    suppressed: bool = False


class RateList(ListBase):
    """Case rates per community or rolled up, with an ``unassigned`` line."""

    items: list[RateOut]


class TrendOut(RowBase):
    """Cases of one month, or of one weekday and hour."""

    code: str
    cases: Count
    suppressed: bool = False


class TrendList(ListBase):
    """A monthly series or an hour × weekday profile."""

    items: list[TrendOut]


class HotspotOut(RowBase):
    """Gi* of one community or grid cell."""

    hotspot_gi_z: float | None
    p_value: float | None
    hotspot_class: str


class HotspotList(ListBase):
    """Hot and cold spots."""

    items: list[HotspotOut]


class ProtectionOut(RowBase):
    """Camera and compound metrics of a community or unit."""

    code: str
    name: str | None
    camera_count: float | None
    camera_working_ratio: float | None
    camera_area_share: float | None
    compound_compliance_ratio: float | None


class ProtectionList(ListBase):
    """Technical and physical protection."""

    items: list[ProtectionOut]


class BlindSpotOut(RowBase):
    """Community area outside working camera view."""

    code: str
    blind_area_m2: float


class BlindSpotList(ListBase):
    """Camera blind spots."""

    items: list[BlindSpotOut]


class CoverageOut(RowBase):
    """Coverage of a community or unit by one facility type."""

    code: str
    name: str | None
    facility_covered_area_share: float | None
    facility_covered_population_share: float | None
    facility_uncovered_population: float | None
    facility_minutes: float | None = Field(
        None, description="reach=walk/drive: population-weighted minutes to the nearest")


class CoverageList(ListBase):
    """Facility coverage, ranked by residents left out."""

    items: list[CoverageOut]


class GapOut(RowBase):
    """Community area outside every service area of a type."""

    code: str
    gap_area_m2: float
    population: float


class GapList(ListBase):
    """Coverage gaps."""

    items: list[GapOut]


class WorkloadOut(RowBase):
    """Incidents per facility (small counts suppressed for some roles)."""

    id: str
    incidents_catchment: Count
    incidents_within_radius: Count | None = Field(
        None, description="absent when the type has no service radius (none given, none "
                          "configured): catchments only")
    suppressed: bool = False


class WorkloadList(ListBase):
    """Facility workload."""

    items: list[WorkloadOut]


class CandidateIn(BaseModel):
    """A candidate site."""

    id: str | None = Field(None, max_length=100)
    lon: float = Field(ge=-180, le=180)
    lat: float = Field(ge=-90, le=90)


class SitePlanIn(BaseModel):
    """A site-planning request.

    The facility type is ``type``, as in the query of ``/coverage`` and ``--type`` of the
    command line; ``facility_type`` is a deprecated alias that still works.
    """

    model_config = ConfigDict(extra="forbid")

    type: str | None = Field(None, min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_\-]+$",
                             description="facility type to site (police_office…), as the "
                                         "type parameter of /coverage")
    facility_type: str | None = Field(
        None, min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_\-]+$", deprecated=True,
        description="deprecated alias of type (still accepted; give one of the two)")
    add: int = Field(ge=1, le=100, description="new sites to choose")
    radius_m: float | None = Field(None, gt=0, le=50_000)
    period: str | None = Field(None, max_length=40)
    candidates: list[CandidateIn] | None = Field(
        None, max_length=5000,
        description="candidate points (EPSG:4326); default: compound centroids and a grid")
    time_limit_s: float = Field(30.0, gt=0, le=120)
    reach: Literal["line", "walk", "drive"] = Field(
        "line", description="line: straight line; walk: metres along the roads; drive: "
                            "minutes along drivable roads (walk and drive need a roads layer)")
    minutes: float | None = Field(None, gt=0, le=240,
                                  description="reach=drive: driving time in minutes")

    @model_validator(mode="after")
    def _one_type(self) -> SitePlanIn:
        # read through __dict__: reading a deprecated field as an attribute warns
        alias = self.__dict__.get("facility_type")
        given = {v for v in (self.type, alias) if v is not None}
        if len(given) != 1:
            raise ValueError("give the facility type as type (facility_type is its deprecated "
                             f"alias); got type={self.type!r}, facility_type={alias!r}")
        return self

    @property
    def site_type(self) -> str:
        """The facility type, from ``type`` or its deprecated alias ``facility_type``."""
        return str(self.type if self.type is not None else self.__dict__.get("facility_type"))


class SiteOut(RowBase):
    """A chosen site, where it is and what it reaches."""

    candidate_id: str
    community_code: str | None = Field(description="the community the site lies in")
    community_name: str | None
    lon: float
    lat: float
    population_reached: float
    population_newly_covered: float


class SitePlanOut(ListBase):
    """The chosen sites; coverage before and after in the provenance."""

    items: list[SiteOut]


class StandardOut(RowBase):
    """A community's score, status and to-do list, or a unit's creation rate."""

    code: str | None


class StandardList(ListBase):
    """The safe-community standard applied."""

    items: list[StandardOut]


class TodoOut(RowBase):
    """A failed or unknown criterion."""

    criterion_id: str
    outcome: str
    value: float | None
    threshold: float
    weight: float


class TodoList(ListBase):
    """A community's to-do list."""

    items: list[TodoOut]
