"""The trust layer: which incidents exist for a caller, and how results are released to them.

Every path that releases data (API routes, map pages, exports, briefings, caches) builds one
:class:`Visibility` for its caller and passes it down; services compute inside the caller's
world and the release functions here shape what leaves. Nothing else decides who sees what.

Who sees what
-------------
- **admin**: everything, exactly, including incidents in no community.
- **liaison**: a world made of the communities of their jurisdiction (district or subdistrict
  codes of the key). Incidents and communities outside it do not exist for them: statistics
  (smoothed rates, hot spots, grids) are computed from their own communities and incidents
  only, and every result holds only their own units. A parameter naming a place outside
  answers 403; a bounding box reaching outside is clipped to the jurisdiction and the answer
  says ``clipped``. Incidents in no community are admin-only. An empty jurisdiction is an
  empty world, never "no filter".
- **planner** and **client**: the whole city, protected (:mod:`geo.release`): a closed release
  space of whole months, quarters or years; communities and their roll-ups or the one
  published grid (:data:`geo.grid.PUBLISHED_CELL_M`); the configured category groups; counts by
  the cell-key method with 1–2 shown as ``"<3"``; every derived figure computed from the
  released counts; hot spots as classes only. A bounding box selects released units by their
  representative point.

Caches are keyed by :attr:`Visibility.world_key` (role class, world, release settings), never
by role alone. A request's visibility itself is cached per :func:`visibility_key` (role and
jurisdictions as the authenticated key holds them) and data version
(:func:`api.deps.get_visibility`), so a changed jurisdiction or a load takes effect at the next
request and a revoked key never reaches it.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
import sqlalchemy as sa
from numpy.typing import NDArray

from api.auth import ApiKey
from api.db import get_meta, set_meta
from api.errors import FieldError, ForbiddenError
from api.models import communities as communities_table
from api.settings import Settings
from geo.errors import AmbiguousError, NotFoundError, ParameterError, PeriodError
from geo.grid import PUBLISHED_CELL_M
from geo.period import Period
from geo.release import HOTSPOT_CLASSES, hidden_label, record_keys

__all__ = [
    "Bbox",
    "Selection",
    "Visibility",
    "record_key_secret",
    "record_keys_of",
    "visibility_for",
    "visibility_key",
]

Bbox = tuple[float, float, float, float]

_SECRET_META_KEY = "release_secret"
_PROTECTED_PERIOD_KINDS = ("year", "quarter", "month")


def record_key_secret(conn: sa.Connection) -> bytes:
    """Return the secret record keys are drawn with, creating it in this transaction if needed.

    The migration that added record keys generates it; it lives in the ``meta`` table and is
    never shown or logged.
    """
    stored = get_meta(conn, _SECRET_META_KEY)
    if stored is None:
        stored = secrets.token_urlsafe(32)
        set_meta(conn, _SECRET_META_KEY, stored)
    return stored.encode("ascii")


def record_keys_of(conn: sa.Connection, ids: pd.Series) -> np.ndarray:
    """Record keys of incident ids (:func:`geo.release.record_keys` with the stored secret)."""
    return record_keys(ids.astype(str).tolist(), record_key_secret(conn))


@dataclass(frozen=True)
class Visibility:
    """What one caller may see, and how it is released to them.

    Attributes
    ----------
    role
        ``admin``, ``liaison``, ``planner`` or ``client`` (``admin`` for the command line).
    communities
        The caller's world: community codes, or ``None`` for every community.
    jurisdictions
        A liaison's district or subdistrict codes (empty for other roles).
    protected
        Counts are released by the cell-key method (planner, client).
    raw
        Raw incidents (points, ids, times, addresses) may be read inside the world.
    unassigned
        Incidents in no community exist for the caller (admin only).
    min_count
        Smallest count released as a number to a protected caller.
    cell_sizes_m
        Grid cell sizes the caller may ask for.
    category_groups
        The configured category groups (name -> categories), as sorted pairs.
    """

    role: str
    communities: frozenset[str] | None
    jurisdictions: tuple[str, ...] = ()
    protected: bool = False
    raw: bool = True
    unassigned: bool = True
    min_count: int = 3
    cell_sizes_m: tuple[float, ...] = PUBLISHED_CELL_M
    category_groups: tuple[tuple[str, tuple[str, ...]], ...] = field(default_factory=tuple)

    @classmethod
    def admin(cls, settings: Settings) -> Visibility:
        """Everything, exactly: the command line and admin keys."""
        return cls("admin", None, min_count=settings.api.min_count_shown,
                   category_groups=_groups(settings))

    @property
    def exact(self) -> bool:
        """Counts are released exactly (admin, and a liaison inside their world)."""
        return not self.protected

    @cached_property
    def world_key(self) -> tuple[Any, ...]:
        """What results depend on: the cache key part of this visibility (never the role alone).

        Computed once per visibility (a liaison's world holds thousands of codes in a city, and
        every cached answer looks it up).
        """
        world = None if self.communities is None else tuple(sorted(self.communities))
        mode = "protected" if self.protected else "exact"
        return (mode, world, self.unassigned, self.min_count if self.protected else None,
                self.category_groups if self.protected else ())

    def community_filter(self) -> tuple[str, ...] | None:
        """Community codes a query must stay inside (``None``: no restriction)."""
        return None if self.communities is None else tuple(sorted(self.communities))

    def in_world(self, codes: pd.Series | Sequence[str]) -> np.ndarray:
        """Boolean per community code: whether it is in the caller's world."""
        s = pd.Series(list(codes) if not isinstance(codes, pd.Series) else codes,
                      dtype="string")
        if self.communities is None:
            return np.ones(len(s), dtype=bool)
        # Set membership per code: pandas' isin on Arrow strings costs ~9 ms for a city's
        # 3,000 codes against a district's world, on every request.
        world = self.communities
        return np.fromiter((c is not pd.NA and c in world for c in s.tolist()), dtype=bool,
                           count=len(s))

    # --- the release space -------------------------------------------------------------

    def check_raw(self, what: str = "raw incidents") -> None:
        """Refuse a caller who may not read raw incidents.

        Raises
        ------
        api.errors.ForbiddenError
        """
        if not self.raw:
            raise ForbiddenError(f"a {self.role} key may not read {what}; it sees aggregates "
                                 f"only")

    def check_period(self, period: Period, *, parameter: str = "period") -> Period:
        """A protected caller's periods are whole months, quarters or years.

        Raises
        ------
        geo.errors.PeriodError
            Naming the parameter, for a protected caller and any other period.
        """
        if self.protected and period.kind not in _PROTECTED_PERIOD_KINDS:
            raise PeriodError(
                f"{parameter}: a {self.role} key sees whole months, quarters or years "
                f"(2025, 2025-Q3, 2025-07); got {period.label!r}", parameter=parameter)
        return period

    def check_cell(self, cell_m: float, *, parameter: str = "cell_m") -> float:
        """Grid cells: the published sizes for a protected caller, else at least the smallest.

        Raises
        ------
        geo.errors.ParameterError
            Naming the parameter and the sizes allowed.
        """
        sizes = self.cell_sizes_m
        if self.protected and not any(abs(cell_m - s) < 1e-9 for s in sizes):
            raise ParameterError(
                f"{parameter} must be one of {', '.join(f'{s:g}' for s in sizes)} (metres) "
                f"for a {self.role} key; got {cell_m:g}", parameter=parameter)
        if not cell_m >= min(sizes):
            raise ParameterError(f"{parameter} must be at least {min(sizes):g} m; got "
                                 f"{cell_m:g}", parameter=parameter)
        return float(cell_m)

    def check_categories(self, categories: Iterable[str], *, parameter: str = "category"
                         ) -> tuple[str, ...]:
        """The categories a query counts: group names expanded for a protected caller.

        Parameters
        ----------
        categories
            Requested categories (a protected caller names configured groups).
        parameter
            Name to blame in errors.

        Returns
        -------
        tuple of str
            The categories to count (empty: every category).

        Raises
        ------
        geo.errors.ParameterError
            For a protected caller naming anything but a configured group.
        """
        asked = tuple(sorted({c.strip() for c in categories if c and c.strip()}))
        if not self.protected or not asked:
            return asked
        groups = dict(self.category_groups)
        if len(asked) > 1:
            raise ParameterError(
                f"{parameter}: a {self.role} key counts one category group at a time (a union "
                f"of groups is not a released unit); got {list(asked)}", parameter=parameter)
        unknown = [c for c in asked if c not in groups]
        if unknown:
            known = ", ".join(sorted(groups)) or "none are configured"
            raise ParameterError(
                f"{parameter}: a {self.role} key counts by category group; got "
                f"{unknown[0]!r}; groups: {known}", parameter=parameter)
        return tuple(sorted({c for g in asked for c in groups[g]}))

    def check_hour_filter(self, present: bool, *, parameter: str) -> None:
        """Refuse hour-of-day and weekday breakdowns to a protected caller.

        Raises
        ------
        geo.errors.ParameterError
        """
        if self.protected and present:
            raise ParameterError(f"{parameter}: a {self.role} key sees whole months, not "
                                 f"hours or weekdays", parameter=parameter)


def _groups(settings: Settings) -> tuple[tuple[str, tuple[str, ...]], ...]:
    groups: Mapping[str, Sequence[str]] = settings.api.category_groups
    return tuple(sorted((g, tuple(sorted(set(c)))) for g, c in groups.items()))


def _jurisdiction_communities(conn: sa.Connection, codes: Sequence[str]) -> frozenset[str]:
    c = communities_table.c
    rows = conn.execute(sa.select(c.code).where(
        c.retired_on.is_(None),
        sa.or_(c.district_code.in_(list(codes)), c.subdistrict_code.in_(list(codes))))).scalars()
    return frozenset(str(code) for code in rows)


def visibility_key(key: ApiKey) -> tuple[str, tuple[str, ...]]:
    """What :func:`visibility_for` depends on besides the data and the settings.

    A visibility may be cached under this key and the data version: the role and the
    jurisdiction codes, as the caller's key holds them at this request (a changed role or
    jurisdiction is a new key; a revoked or expired key never authenticates). Two liaisons of
    the same jurisdictions have the same world. The codes keep the key's order, which the
    provenance lists.
    """
    return key.role, tuple(key.jurisdictions)


def visibility_for(conn: sa.Connection, key: ApiKey, settings: Settings) -> Visibility:
    """Build the visibility of an API key.

    Parameters
    ----------
    conn
        Connection (a liaison's communities are looked up).
    key
        The caller.
    settings
        Release settings (``api.min_count_shown``, ``api.category_groups``…).

    Returns
    -------
    Visibility
    """
    groups = _groups(settings)
    min_count = settings.api.min_count_shown
    sizes = tuple(s for s in PUBLISHED_CELL_M if s >= settings.api.min_grid_cell_m) or (
        max(PUBLISHED_CELL_M),)
    if key.role == "admin":
        return Visibility("admin", None, min_count=min_count, cell_sizes_m=sizes,
                          category_groups=groups)
    if key.role == "liaison":
        world = _jurisdiction_communities(conn, key.jurisdictions)
        return Visibility("liaison", world, tuple(key.jurisdictions), protected=False,
                          raw=True, unassigned=False, min_count=min_count, cell_sizes_m=sizes,
                          category_groups=groups)
    return Visibility(key.role, None, protected=True, raw=False, unassigned=False,
                      min_count=min_count, cell_sizes_m=sizes, category_groups=groups)


# --- selections: the places a request names ---------------------------------------------------


@dataclass(frozen=True)
class Selection:
    """The communities a request names (by district, subdistrict, community or bbox).

    Attributes
    ----------
    communities
        Selected community codes inside the caller's world; ``None`` for the whole world.
    bbox
        The bounding box a raw reader's points are filtered by (after clipping), or ``None``.
    clipped
        The bounding box reached outside the caller's world and was clipped to it.
    params
        The naming parameters as given, for provenance.
    """

    communities: tuple[str, ...] | None = None
    bbox: Bbox | None = None
    clipped: bool = False
    params: tuple[tuple[str, str], ...] = ()

    @property
    def key(self) -> tuple[Any, ...]:
        """Hashable form for cache keys."""
        return (self.communities, self.bbox)

    def provenance(self) -> dict[str, Any]:
        """The selection as provenance members."""
        out: dict[str, Any] = dict(self.params)
        if self.bbox is not None:
            out["clipped"] = self.clipped
        return out


def _match(frame: gpd.GeoDataFrame, code_col: str, name_col: str, value: str,
           parameter: str) -> np.ndarray:
    """Communities whose unit (code or name) is ``value``; 404 unknown, 422 ambiguous names."""
    v = value.strip()
    by_code = (frame[code_col].astype("string") == v).fillna(False).to_numpy(dtype=bool)
    if by_code.any():
        return by_code
    by_name = (frame[name_col].astype("string") == v).fillna(False).to_numpy(dtype=bool)
    if not by_name.any():
        raise NotFoundError(f"{parameter}: no {parameter} with code or name {value!r}",
                            parameter=parameter)
    codes = set(frame.loc[by_name, code_col].astype("string").dropna())
    if len(codes) > 1:
        raise AmbiguousError(f"{parameter}: the name {value!r} matches {len(codes)} places "
                             f"({', '.join(sorted(codes))}); give the code",
                             parameter=parameter)
    return by_name


def _wanted_codes(community: Sequence[str] | str) -> list[str]:
    wanted = [community] if isinstance(community, str) else list(community)
    return [w.strip() for w in wanted if w and w.strip()]


def _community_hit(comms: gpd.GeoDataFrame, wanted: list[str],
                   inside: NDArray[np.bool_]) -> NDArray[np.bool_]:
    """Communities named by code: 404 for an unknown code, 403 for one outside the world."""
    codes = comms["code"].astype("string")
    unknown = [w for w in wanted if not (codes == w).any()]
    if unknown:
        raise NotFoundError(f"community: no community with code {unknown[0]!r}",
                            parameter="community")
    hit = codes.isin(wanted).fillna(False).to_numpy(dtype=bool)
    if (hit & ~inside).any():
        raise ForbiddenError(
            "community lies outside this key's jurisdiction",
            errors=[FieldError("query.community", "outside the key's jurisdiction")])
    return hit


def select(vis: Visibility, comms: gpd.GeoDataFrame, *, district: str | None = None,
           subdistrict: str | None = None, community: Sequence[str] | str | None = None,
           bbox: Bbox | None = None) -> Selection:
    """Resolve the places a request names against the caller's world.

    Parameters
    ----------
    vis
        The caller.
    comms
        Every current community (code, name, subdistrict_code, subdistrict, district_code,
        district, geometry; EPSG:4326) — the whole city, so that a place outside the caller's
        world is recognised as such (403) rather than unknown (404).
    district, subdistrict
        A code or a name.
    community
        One or more community codes.
    bbox
        ``(minlon, minlat, maxlon, maxlat)``.

    Returns
    -------
    Selection

    Raises
    ------
    api.errors.ForbiddenError
        When a named place reaches outside a liaison's world, or a bbox lies wholly outside it.
    geo.errors.NotFoundError
        When a name or code is unknown.
    geo.errors.AmbiguousError
        When a name matches more than one place.
    """
    params: list[tuple[str, str]] = []
    chosen = np.ones(len(comms), dtype=bool)
    inside = vis.in_world(comms["code"])
    for parameter, code_col, name_col, value in (
            ("district", "district_code", "district", district),
            ("subdistrict", "subdistrict_code", "subdistrict", subdistrict)):
        if value is None or not str(value).strip():
            continue
        hit = _match(comms, code_col, name_col, str(value), parameter)
        if (hit & ~inside).any():
            raise ForbiddenError(
                f"{parameter} {value!r} lies outside this key's jurisdiction",
                errors=[FieldError(f"query.{parameter}", "outside the key's jurisdiction")])
        chosen &= hit
        params.append((parameter, str(value)))
    if community is not None and (wanted := _wanted_codes(community)):
        chosen &= _community_hit(comms, wanted, inside)
        params.append(("community", ",".join(wanted)))
    named = bool(params)
    clipped = False
    box = bbox
    if bbox is not None:
        chosen, box, clipped = _select_bbox(vis, comms, chosen, inside, bbox)
        params.append(("bbox", ",".join(f"{v:g}" for v in bbox)))
    # An admin's bbox filters points (incidents in no community too), not communities.
    restricted = named or vis.communities is not None or (bbox is not None and vis.protected)
    codes_out = tuple(sorted(str(c) for c in comms["code"].to_numpy()[chosen & inside])) \
        if restricted else None
    return Selection(codes_out, box, clipped, tuple(params))


def _select_bbox(vis: Visibility, comms: gpd.GeoDataFrame, chosen: np.ndarray,
                 inside: np.ndarray, bbox: Bbox) -> tuple[np.ndarray, Bbox | None, bool]:
    box = shapely.box(*bbox)
    geoms = np.asarray(comms.geometry.array, dtype=object)
    if vis.protected:
        # Units are selected whole, by their representative point: no arbitrary cut.
        points = shapely.point_on_surface(geoms)
        return chosen & shapely.contains(box, points), None, False
    meets = shapely.intersects(geoms, box)
    if vis.communities is None:
        return chosen, bbox, False
    if not (meets & inside).any():
        raise ForbiddenError("bbox lies wholly outside this key's jurisdiction",
                             errors=[FieldError("query.bbox", "outside the key's jurisdiction")])
    world = shapely.union_all(geoms[inside])
    clipped = not bool(shapely.covers(world, box))
    return chosen & meets, bbox, clipped


# --- shaping what leaves ----------------------------------------------------------------------


def classes_only(frame: pd.DataFrame, *, vis: Visibility, hidden: np.ndarray | None = None,
                 keep: Sequence[str] = ()) -> pd.DataFrame:
    """Hot spots as a protected caller sees them: the class, and nothing computed with it.

    Parameters
    ----------
    frame
        Hot-spot rows (any statistic columns).
    vis
        The caller; an exact caller gets the frame unchanged.
    hidden
        Rows whose count is hidden: their class is withheld too.
    keep
        Identifying columns to keep besides ``hotspot_class`` and ``geometry``.

    Returns
    -------
    pandas.DataFrame
    """
    if not vis.protected:
        return frame
    cols = [c for c in dict.fromkeys((*keep, "hotspot_class", "geometry")) if c in frame.columns]
    out = frame[cols].copy()
    cls = out["hotspot_class"].astype(object)
    cls[~cls.isin(list(HOTSPOT_CLASSES))] = None
    if hidden is not None:
        cls[np.asarray(hidden, dtype=bool)] = hidden_label(vis.min_count)
    out["hotspot_class"] = cls
    return out


def released_columns(frame: pd.DataFrame, allowed: Iterable[str], *, vis: Visibility
                     ) -> pd.DataFrame:
    """Keep only the allow-listed columns for a protected caller (everything for others)."""
    if not vis.protected:
        return frame
    cols = [c for c in frame.columns if c in set(allowed) or c == "geometry"]
    return frame[cols]


#: Provenance members a protected caller receives; everything else (exact totals left out,
#: free-text notes with numbers) stays behind.
PROTECTED_PROVENANCE = frozenset({
    "period", "period_start", "period_end", "timezone", "days", "compare_period", "level",
    "categories", "category_groups", "data_version", "profile_version", "profile",
    "metric_crs", "cell_m", "generated_at", "case_definition", "facility_type", "radius_m",
    "effective_radius_m", "radius_basis", "on", "unit", "weights", "permutations", "seed",
    "fdr", "release", "by", "community", "district", "subdistrict", "bbox", "clipped",
    "min_count_shown", "suppressed", "arc_segments", "camera_kinds", "required_measures",
    "detour_factor", "circle_segments", "facilities_used", "k_requested", "k_used",
    "population_total", "population_covered_before", "population_covered_after",
    "coverage_before", "coverage_after", "solver_status", "solution_status",
    "candidates_given", "candidates_reaching", "candidates_used", "format", "reach",
    "step", "steps", "cell_neighbours", "time_neighbours", "alpha", "method", "kernel",
    "bandwidth_m", "bandwidth_rule", "mode", "min_bandwidth_m", "min_expected", "units",
    "source", "as_of", "resolution", "ears", "sd_floor", "methods_run", "units_tested",
    "space_m", "time_days", "cumulative", "min_ratio", "min_incidents", "category_map",
    "minutes", "walk_minutes", "walk_speed_mps", "trim_m", "max_offset_m",
    "population_unreachable",
})


def release_provenance(prov: Mapping[str, Any], *, vis: Visibility) -> dict[str, Any]:
    """Provenance as the caller may see it; for a protected caller, the release rule is added."""
    out = dict(prov)
    if vis.communities is not None:
        out["jurisdictions"] = list(vis.jurisdictions)
    if not vis.protected:
        return out
    kept = {k: v for k, v in out.items() if k in PROTECTED_PROVENANCE}
    kept["release"] = {
        "method": "cell-key perturbation (ABS TableBuilder); small counts hidden",
        "min_count_shown": vis.min_count,
        "documentation": "docs/release.md",
    }
    return kept
