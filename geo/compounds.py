"""Compound compliance: physical (物防) and technical (技防) protection of compounds.

:func:`compound_compliance` checks compounds (小区/单位) against the required physical and
technical measures and rolls the result up to communities: the share of compounds that comply
(物防技防达标率) and each measure's presence rate. Cameras are :mod:`geo.cameras`.

Required measures
-----------------
A compound complies when it has every measure of ``required_physical`` and
``required_technical``. The defaults (:data:`DEFAULT_REQUIRED_PHYSICAL`,
:data:`DEFAULT_REQUIRED_TECHNICAL`) have no published basis as a set: national standards
describe how to build security systems (GB 50348 安全防范工程技术标准) rather than which measures
a residential compound must have, and local standards differ by city. They are a baseline
(fence, gate guard and lighting; CCTV at the entrances and access control) for the standard
profile to override.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from numpy.typing import NDArray

from geo import arrays
from geo.checks import POINT_OR_POLYGON, check_communities, check_frame, check_same_crs
from geo.errors import ParameterError
from geo.inventory import existing_during
from geo.layers import COMPOUND_MEASURES
from geo.period import Period, parse_period

__all__ = [
    "DEFAULT_REQUIRED_PHYSICAL",
    "DEFAULT_REQUIRED_TECHNICAL",
    "CompoundCompliance",
    "compound_compliance",
]

#: Physical measures (物防) a compound needs by default; no published basis as a set (see the
#: module docstring, "Compound compliance").
DEFAULT_REQUIRED_PHYSICAL: tuple[str, ...] = ("fence", "gate_guard", "lighting")
#: Technical measures (技防) a compound needs by default; no published basis as a set.
DEFAULT_REQUIRED_TECHNICAL: tuple[str, ...] = ("cctv_entrances", "access_control")


@dataclass(frozen=True)
class CompoundCompliance:
    """Physical and technical protection of compounds, per compound and per community.

    Attributes
    ----------
    frame
        One row per community, indexed by ``code``: ``name``, ``compounds_total``,
        ``compounds_compliant`` and ``compound_compliance_ratio`` (NaN without compounds).
    measure_rates
        Long frame, one row per community and measure: ``code``, ``measure``, ``group``
        (``physical``, ``technical`` or ``other``), ``required`` (bool),
        ``compounds_with_measure`` and ``measure_presence_rate`` (NaN without compounds).
        Measures are the required ones, every known one (:data:`geo.layers.COMPOUND_MEASURES`)
        and any other present in the data.
    compounds
        The compounds of the period (GeoDataFrame in the input CRS): ``id``, ``name``,
        ``community_code`` (missing when outside every community), ``compliant`` and
        ``missing_measures`` (comma-separated required measures it lacks, for map popups).
    required_physical, required_technical
        The measures required.
    period
        The period compounds were filtered to (``None``: every row counted).
    compounds_unassigned
        Compounds whose representative point lies in no community.
    """

    frame: pd.DataFrame
    measure_rates: pd.DataFrame
    compounds: gpd.GeoDataFrame
    required_physical: tuple[str, ...]
    required_technical: tuple[str, ...]
    period: Period | None
    compounds_unassigned: int


def compound_compliance(
    compounds: gpd.GeoDataFrame,
    communities: gpd.GeoDataFrame,
    *,
    required_physical: Iterable[str] = DEFAULT_REQUIRED_PHYSICAL,
    required_technical: Iterable[str] = DEFAULT_REQUIRED_TECHNICAL,
    period: Period | str | int | None = None,
) -> CompoundCompliance:
    """Check every compound against the required measures and roll the result up.

    Parameters
    ----------
    compounds
        Compounds (points or polygons) with ``id`` and ``measures`` (comma-separated measure
        names; missing counts as none); ``removed_on`` is used with ``period``.
    communities
        Community polygons with ``code``; a compound belongs to the community containing its
        representative point (``shapely.point_on_surface``).
    required_physical, required_technical
        Measure names a compound must all have.
    period
        Only compounds that existed during it count; ``None`` counts every row.

    Returns
    -------
    CompoundCompliance

    Raises
    ------
    TypeError
        When an input is not a GeoDataFrame or a required list is a plain string.
    ValueError
        When columns are missing, the CRSs differ, geometries have the wrong type, no measure is
        required, or a measure name is empty or contains a comma.
    """
    check_frame(compounds, "compounds", POINT_OR_POLYGON, ("id", "measures"))
    check_communities(communities)
    check_same_crs(compounds=compounds, communities=communities)
    physical = _measure_names(required_physical, "required_physical")
    technical = _measure_names(required_technical, "required_technical")
    required = tuple(dict.fromkeys((*physical, *technical)))
    if not required:
        raise ParameterError(
            "required_physical, required_technical: at least one measure must be required; "
            "got none"
        )
    p = None if period is None else parse_period(period)
    if p is not None:
        compounds = compounds[existing_during(
            compounds, p, start_column=None,
            end_column=arrays.present(compounds, "removed_on")).to_numpy(dtype=bool)]

    codes = arrays.codes(communities)
    owner = arrays.containing(shapely.point_on_surface(arrays.geoms(compounds)),
                              arrays.geoms(communities))
    present = _measures_present(compounds)
    missing = [tuple(m for m in required if m not in have) for have in present]
    compliant = np.array([not lack for lack in missing], dtype=bool)

    n = len(codes)
    index = pd.Index(codes, name="code", dtype="string")
    assigned = owner >= 0
    total = np.bincount(owner[assigned], minlength=n)
    ok = np.bincount(owner[assigned & compliant], minlength=n)
    frame = pd.DataFrame(
        {
            "name": arrays.names(communities),
            "compounds_total": total,
            "compounds_compliant": ok,
            "compound_compliance_ratio": arrays.ratio(ok, total),
        },
        index=index,
    )
    return CompoundCompliance(
        frame=frame,
        measure_rates=_measure_rates(present, owner, index, total, physical, technical),
        compounds=_per_compound(compounds, codes, owner, compliant, missing),
        required_physical=physical,
        required_technical=technical,
        period=p,
        compounds_unassigned=int((~assigned).sum()),
    )


def _measures_present(compounds: gpd.GeoDataFrame) -> list[frozenset[str]]:
    """The measures of each compound, from its comma-separated ``measures`` (missing: none)."""
    return [
        frozenset(m.strip() for m in str(text).split(",") if m.strip())
        for text in compounds["measures"].astype("string").fillna("")
    ]


def _measure_rates(
    present: list[frozenset[str]],
    owner: NDArray[np.int64],
    index: pd.Index,
    total: NDArray[np.int64],
    physical: tuple[str, ...],
    technical: tuple[str, ...],
) -> pd.DataFrame:
    """Each measure's presence per community: :attr:`CompoundCompliance.measure_rates`.

    Measures come required first, then every known one, then any other present in the data.
    """
    required = tuple(dict.fromkeys((*physical, *technical)))
    assigned = owner >= 0
    n = len(index)
    known = {m: g for g, names in COMPOUND_MEASURES.items() for m in names}
    known.update({m: "physical" for m in physical})
    known.update({m: "technical" for m in technical})
    seen = sorted(set().union(*present) - set(known)) if present else []
    measures = [*required, *(m for m in known if m not in required), *seen]
    rows = []
    for measure in measures:
        has = np.array([measure in have for have in present], dtype=bool)
        count = np.bincount(owner[assigned & has], minlength=n)
        rows.append(pd.DataFrame({
            "code": index,
            "measure": measure,
            "group": known.get(measure, "other"),
            "required": measure in required,
            "compounds_with_measure": count,
            "measure_presence_rate": arrays.ratio(count, total),
        }))
    measure_rates = pd.concat(rows, ignore_index=True)
    measure_rates["measure"] = measure_rates["measure"].astype("string")
    measure_rates["group"] = measure_rates["group"].astype("string")
    return measure_rates


def _per_compound(
    compounds: gpd.GeoDataFrame,
    codes: NDArray[np.object_],
    owner: NDArray[np.int64],
    compliant: NDArray[np.bool_],
    missing: list[tuple[str, ...]],
) -> gpd.GeoDataFrame:
    """The compounds of the period with their community and compliance, for map popups."""
    return gpd.GeoDataFrame(
        {
            "id": compounds["id"].astype("string").to_numpy(),
            "name": (compounds["name"].astype("string").to_numpy() if "name" in compounds.columns
                     else pd.array([None] * len(compounds), dtype="string")),
            "community_code": pd.array(
                [codes[o] if o >= 0 else None for o in owner], dtype="string"),
            "compliant": compliant,
            "missing_measures": pd.array([",".join(m) for m in missing], dtype="string"),
        },
        geometry=arrays.geoms(compounds),
        crs=compounds.crs,
        index=compounds.index,
    )


def _measure_names(names: Iterable[str], parameter: str) -> tuple[str, ...]:
    if isinstance(names, str):
        raise TypeError(f"{parameter} must be a collection of measure names; got the string "
                        f"{names!r}")
    out = tuple(names)
    bad = [m for m in out if not isinstance(m, str) or not m.strip() or "," in m]
    if bad:
        raise ParameterError(
            f"{parameter}: measure names must be non-empty text without commas; got {bad!r}"
        )
    return tuple(m.strip() for m in out)
