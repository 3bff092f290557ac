"""Roll community results up to subdistricts, districts and the city.

One rule says which unit a community belongs to: :func:`unit_keys`, the community's
``subdistrict_code`` or ``district_code`` (every community is in the city). Every roll-up calls
it: :func:`roll_up` for case rates, :func:`roll_up_metrics` for protection and coverage, and
:func:`geo.standard.roll_up_creation` for the creation rate (创建率). A community without a code
at the level is in the unit ``unknown``, never silently dropped.

Counts are summed; every ratio is recomputed from its summed numerator and denominator (never a
mean of the communities' ratios), so a district's camera working ratio is its working cameras
over its cameras, and its covered share of population is its covered residents over its
residents. The ratios of the protection and coverage reports are declared here
(:data:`PROTECTION_RATIOS`, :data:`COVERAGE_RATIOS`) as numerator and denominator columns.
Case rates are recomputed from summed cases and populations, and their change is re-tested on
the summed counts (:mod:`geo.rates`). Written here because the rule is the same for every
producer and small enough that a library would add nothing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from geo.cases import require_columns
from geo.codes import sort_by_code
from geo.errors import InputError, ParameterError
from geo.period import Period
from geo.rates import (
    RatesResult,
    comparison_columns,
    comparison_note,
    no_comparison_columns,
    rate_columns,
)

__all__ = [
    "CITY",
    "COVERAGE_RATIOS",
    "COVERAGE_SUMS",
    "LEVELS",
    "LEVEL_KEYS",
    "PROTECTION_RATIOS",
    "PROTECTION_SUMS",
    "UNASSIGNED",
    "UNKNOWN",
    "Ratio",
    "RollUpResult",
    "roll_up",
    "roll_up_metrics",
    "unit_keys",
]

#: Roll-up levels, smallest first.
LEVELS = ("subdistrict", "district", "city")
#: Columns of the communities layer holding the code and the name of the unit at each level.
LEVEL_KEYS: dict[str, tuple[str, str]] = {
    "subdistrict": ("subdistrict_code", "subdistrict"),
    "district": ("district_code", "district"),
}
#: Code of the one unit of the city level.
CITY = "city"
#: Code of the unit holding the communities that have no code at the level.
UNKNOWN = "unknown"
#: Code of the roll-up line holding the cases that have no community.
UNASSIGNED = "unassigned"
#: Name of the city in :func:`roll_up_metrics`.
_CITY_NAME = "全市 (city)"


# --------------------------------------------------------------------------------------------
# The unit of a community
# --------------------------------------------------------------------------------------------

def unit_keys(communities: pd.DataFrame, level: str, *,
              codes: Sequence[str] | pd.Index | pd.Series | None = None) -> pd.DataFrame:
    """Return the unit that each community belongs to at a roll-up level.

    A community's subdistrict is its ``subdistrict_code`` and its district its
    ``district_code``; names never stand in for codes, so every roll-up and every unit
    geometry (dissolved by code) agree. Every community is in the city.

    Parameters
    ----------
    communities
        The communities layer (a DataFrame or GeoDataFrame) with ``code`` and, below the city,
        the level's code column; the level's name column (``subdistrict``, ``district``) is
        used when present.
    level
        ``subdistrict``, ``district`` or ``city``.
    codes
        The community codes to look up, in the order wanted; by default the layer's
        communities that have a code, in layer order. A code the layer does not hold is in
        the city, and in no subdistrict or district.

    Returns
    -------
    pandas.DataFrame
        Indexed by community code (``code``, string), with ``unit``, the unit's code (string;
        :data:`CITY` at the city level; ``<NA>`` where the community has no code at the
        level), and ``name``, the unit's name (string): the first name given for the unit in
        layer order, ``<NA>`` for the city and where no name is given.

    Raises
    ------
    geo.errors.ParameterError
        If ``level`` is not one of :data:`LEVELS`.
    TypeError
        If ``communities`` is not a DataFrame.
    geo.errors.InputError
        If a needed column is missing or two communities share a code.
    """
    if level not in LEVELS:
        raise ParameterError(f"level must be one of {', '.join(LEVELS)}; got {level!r}",
                             parameter="level")
    if not isinstance(communities, pd.DataFrame):
        raise TypeError(f"communities must be a DataFrame; got {type(communities).__name__}")
    key, name = LEVEL_KEYS.get(level, ("code", ""))
    try:
        require_columns(communities, ["code", key], "communities")
    except ValueError as exc:
        raise InputError(str(exc), parameter="communities") from None
    layer_codes = communities["code"].astype("string")
    has_code = layer_codes.notna().to_numpy()
    index = pd.Index(layer_codes[has_code], name="code", dtype="string")
    if index.duplicated().any():
        raise InputError(
            f"communities['code'] must be unique; got duplicates "
            f"{index[index.duplicated()].unique().tolist()[:5]}", parameter="communities")
    wanted = index if codes is None else pd.Index(codes, name="code").astype("string")
    if level == CITY:
        return pd.DataFrame({"unit": pd.Series(CITY, index=wanted, dtype="string"),
                             "name": pd.Series(pd.NA, index=wanted, dtype="string")})
    unit = pd.Series(communities[key].astype("string").to_numpy()[has_code], index=index)
    first_name = pd.Series(dtype="string")
    if name in communities.columns:
        named = pd.DataFrame({
            "unit": unit.to_numpy(),
            "name": communities[name].astype("string").to_numpy()[has_code],
        }).dropna()
        first_name = named.drop_duplicates("unit").set_index("unit")["name"]
    unit = unit.reindex(wanted)
    names = pd.Series(first_name.reindex(unit.to_numpy()).to_numpy(), index=wanted,
                      dtype="string")
    return pd.DataFrame({"unit": unit.astype("string"), "name": names})


def _unit_names(units: pd.DataFrame) -> pd.Series:
    """Unit code -> name from the rows of :func:`unit_keys`."""
    named = units.dropna(subset=["unit"]).drop_duplicates("unit")
    return pd.Series(named["name"].to_numpy(), index=named["unit"].to_numpy(), dtype="string")


# --------------------------------------------------------------------------------------------
# Counts and ratios
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Ratio:
    """How to recompute one ratio column from summed parts.

    Attributes
    ----------
    numerator
        Column summed for the numerator, or a tuple of columns whose product is summed (a
        share weighted by area: ``("camera_area_share", "area_km2")``).
    denominator
        Column summed for the denominator.
    scale
        Factor applied to the ratio (1,000 for "per 1,000 residents").
    """

    numerator: str | tuple[str, ...]
    denominator: str
    scale: float = 1.0

    @classmethod
    def weighted_mean(cls, value: str, weight: str) -> Ratio:
        """Return the ratio that is the mean of ``value`` weighted by ``weight``.

        Parameters
        ----------
        value
            Column averaged (a share or a distance of each community).
        weight
            Column weighting it (area, residents).

        Returns
        -------
        Ratio
            ``sum(value × weight) / sum(weight)``.
        """
        return cls((value, weight), weight)

    @property
    def columns(self) -> tuple[str, ...]:
        """Every column the ratio reads."""
        parts = (self.numerator,) if isinstance(self.numerator, str) else self.numerator
        return (*parts, self.denominator)


#: Counts summed by the protection report's roll-ups (with its ``devices_<kind>`` counts).
PROTECTION_SUMS = ("camera_count", "cameras_working", "area_km2", "population",
                   "incidents_total", "incidents_in_view", "compounds_total",
                   "compounds_compliant")
#: Ratios of the protection report, recomputed per unit.
PROTECTION_RATIOS: dict[str, Ratio] = {
    "camera_working_ratio": Ratio("cameras_working", "camera_count"),
    "camera_density_per_km2": Ratio("camera_count", "area_km2"),
    "cameras_per_1000_residents": Ratio("camera_count", "population", 1000.0),
    "camera_area_share": Ratio.weighted_mean("camera_area_share", "area_km2"),
    "incidents_in_view_share": Ratio("incidents_in_view", "incidents_total"),
    "compound_compliance_ratio": Ratio("compounds_compliant", "compounds_total"),
}
#: Counts summed by the facility coverage report's roll-ups.
COVERAGE_SUMS = ("population", "area_km2", "facility_uncovered_population")
#: Ratios of the facility coverage report, recomputed per unit.
COVERAGE_RATIOS: dict[str, Ratio] = {
    "facility_covered_area_share": Ratio.weighted_mean("facility_covered_area_share",
                                                       "area_km2"),
    "facility_covered_population_share": Ratio.weighted_mean(
        "facility_covered_population_share", "population"),
    "facility_distance_m": Ratio.weighted_mean("facility_distance_m", "population"),
}


def _summed(frame: pd.DataFrame, spec: str | tuple[str, ...]) -> pd.Series:
    if isinstance(spec, str):
        return frame[spec].astype("float64")
    product = frame[spec[0]].astype("float64")
    for column in spec[1:]:
        product = product * frame[column].astype("float64")
    return product


def roll_up_metrics(
    frame: pd.DataFrame,
    communities: pd.DataFrame,
    *,
    level: str,
    sums: Sequence[str],
    ratios: Mapping[str, Ratio],
) -> pd.DataFrame:
    """Sum counts and recompute ratios per unit of a level.

    Parameters
    ----------
    frame
        One row per community, indexed by community code, holding ``sums`` and the parts the
        ratios need.
    communities
        The communities layer with ``code`` and the level's code/name columns
        (:func:`unit_keys`).
    level
        ``subdistrict``, ``district`` or ``city``.
    sums
        Columns to sum (NaN counts as 0).
    ratios
        Output column -> :class:`Ratio`; NaN where the summed denominator is 0. Rows whose
        numerator part is NaN (a ratio that was undefined for the community) add nothing to
        either side.

    Returns
    -------
    pandas.DataFrame
        Indexed by unit code (``city`` for the city, ``unknown`` for communities without a
        code at the level), with ``name``, ``communities`` and the columns.

    Raises
    ------
    geo.errors.ParameterError
        If ``level`` is unknown.
    ValueError
        If a column is missing (:class:`geo.errors.InputError` for the communities layer).
    """
    if level not in LEVELS:
        raise ParameterError(f"level must be one of {', '.join(LEVELS)}; got {level!r}",
                             parameter="level")
    needed = set(sums) | {c for r in ratios.values() for c in r.columns}
    missing = sorted(needed - set(frame.columns))
    if missing:
        raise ParameterError(f"frame lacks columns {missing}")
    units = unit_keys(communities, level, codes=frame.index)
    unit = pd.Series(units["unit"].fillna(UNKNOWN).to_numpy(dtype=object), index=frame.index)
    names = (pd.Series({CITY: _CITY_NAME}) if level == CITY else _unit_names(units))
    parts = pd.DataFrame(index=frame.index)
    parts["communities"] = 1
    for c in sums:
        parts[c] = frame[c].astype("float64").fillna(0.0)
    for out, r in ratios.items():
        num = _summed(frame, r.numerator)
        den = _summed(frame, r.denominator)
        usable = num.notna() & den.notna()
        parts[f"__n_{out}"] = num.where(usable, 0.0)
        parts[f"__d_{out}"] = den.where(usable, 0.0)
    grouped = parts.groupby(unit.to_numpy()).sum()
    result = pd.DataFrame(index=grouped.index)
    result.index.name = "code"
    result["name"] = names.reindex(result.index).astype("string")
    result["communities"] = grouped["communities"].astype("int64")
    for c in sums:
        result[c] = grouped[c]
    for out, r in ratios.items():
        den = grouped[f"__d_{out}"]
        with np.errstate(divide="ignore", invalid="ignore"):
            result[out] = np.where(den > 0, grouped[f"__n_{out}"] / den * r.scale, np.nan)
    return result


# --------------------------------------------------------------------------------------------
# Case rates
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True, eq=False)
class RollUpResult:
    """Rates summed to subdistricts, districts or the city.

    Attributes
    ----------
    frame
        One row per unit, indexed by ``code`` (the unit's code; ``city`` for the city), plus
        the line ``unassigned`` for the cases without a community and, when some communities
        lack a code at the level, the line ``unknown`` holding them. Columns: ``name``,
        ``communities``, ``communities_no_population``, ``cases`` (all cases of the unit's
        communities), ``cases_no_population`` (the part of ``cases`` in communities without
        population: left out of the rates, whose numerator is ``cases −
        cases_no_population``), ``population`` (sum over communities with population),
        ``case_rate_per_10k``, ``case_rate_per_10k_annual``, ``compare_cases``,
        ``compare_cases_no_population``, ``compare_population``,
        ``compare_case_rate_per_10k_annual``, ``case_change_pct``, ``p_change``, ``p_rise``,
        ``q_change``, ``q_rise`` and ``case_rise_significant``, defined as in
        :class:`geo.rates.RatesResult` but on the unit's summed counts and exposures; the
        Benjamini–Hochberg family is the units of the level (not the unassigned line).
    level
        ``subdistrict``, ``district`` or ``city``.
    period, compare_period, category
        As in the rates rolled up.
    notes
        Method and provenance notes.
    """

    frame: pd.DataFrame
    level: str
    period: Period
    compare_period: Period | None
    category: str | None
    notes: tuple[str, ...]


def roll_up(result: RatesResult, communities: pd.DataFrame, *,
            level: str) -> RollUpResult:
    """Sum community rates to subdistricts, districts or the city.

    Rates are sums of cases over sums of population (never a mean of rates); the change test is
    recomputed on the summed counts and exposures. Unassigned cases get their own line
    (``unassigned``), never dropped. Communities without population are left out of the
    denominator and their cases out of the numerator, and both are reported
    (``communities_no_population``, ``cases_no_population``). Empirical-Bayes smoothing is not
    rolled up: whole units are large enough not to need it.

    Parameters
    ----------
    result
        Community rates from :func:`geo.rates.compute_rates` or
        :func:`geo.rates.compute_category_rates`.
    communities
        The communities layer (a DataFrame or GeoDataFrame) with ``code`` and, for
        subdistricts and districts, ``subdistrict_code``/``district_code``; the name columns
        ``subdistrict``/``district`` are used when present.
    level
        ``subdistrict``, ``district`` or ``city``.

    Returns
    -------
    RollUpResult

    Raises
    ------
    TypeError
        If ``result`` is not a RatesResult or ``communities`` not a DataFrame.
    geo.errors.ParameterError
        If ``level`` is unknown.
    geo.errors.InputError
        If a column is missing or community codes are duplicated (:func:`unit_keys`).
    """
    if not isinstance(result, RatesResult):
        raise TypeError(f"result must be a RatesResult; got {type(result).__name__}")
    frame = result.frame
    notes = [
        "rates are sums of cases over sums of population of the communities with population; "
        "communities without population are left out of both and counted in "
        "communities_no_population / cases_no_population"
    ]
    units = unit_keys(communities, level, codes=frame.index)
    keys = pd.Series(units["unit"].to_numpy(), index=frame.index, dtype="string")
    n_unknown = int(keys.isna().sum())
    if n_unknown:
        notes.append(f"{n_unknown} communities without {level}_code: line {UNKNOWN!r}")
    keys = keys.fillna(UNKNOWN)
    names = _unit_names(units)

    in_rate = ~frame["no_population"]
    compare_in_rate = frame["compare_population"] > 0
    parts = pd.DataFrame({
        "communities": 1,
        "communities_no_population": frame["no_population"].astype("int64"),
        "cases": frame["cases"],
        "cases_no_population": frame["cases"].where(~in_rate, 0),
        "population": frame["population"].where(in_rate, 0.0),
        "compare_cases": frame["compare_cases"].fillna(0),
        "compare_cases_no_population": frame["compare_cases"].where(~compare_in_rate, 0),
        "compare_population": frame["compare_population"].where(compare_in_rate, 0.0),
    }, index=frame.index)
    sums = parts.groupby(keys.rename("code").to_numpy()).sum()
    sums.index = pd.Index(sums.index.astype("string"), name="code")

    out = pd.DataFrame(index=sums.index)
    out["name"] = names.reindex(sums.index).astype("string")
    out["communities"] = sums["communities"].astype("int64")
    out["communities_no_population"] = sums["communities_no_population"].astype("int64")
    out["cases"] = sums["cases"].astype("int64")
    out["cases_no_population"] = sums["cases_no_population"].astype("int64")
    out["population"] = sums["population"].astype("float64")
    in_rate_cases = out["cases"] - out["cases_no_population"]
    rate, annual = rate_columns(in_rate_cases, out["population"], result.period.days)
    out["case_rate_per_10k"] = rate
    out["case_rate_per_10k_annual"] = annual
    if result.compare_period is not None:
        out["compare_cases"] = sums["compare_cases"].astype("Int64")
        out["compare_cases_no_population"] = sums["compare_cases_no_population"].astype(
            "Int64")
        out["compare_population"] = sums["compare_population"].astype("float64")
        # A unit's comparison is covered only where every one of its communities' is.
        covered = frame["compare_covered"].fillna(True).astype(bool).groupby(
            keys.to_numpy()).all()
        covered.index = pd.Index(covered.index.astype("string"), name="code")
        out = out.join(comparison_columns(
            in_rate_cases, out["population"], result.period.days,
            out["compare_cases"] - out["compare_cases_no_population"],
            out["compare_population"], result.compare_period.days, result.alpha,
            covered=covered,
        ))
        notes.append(comparison_note(out, result.compare_period, result.alpha))
    else:
        none = no_comparison_columns(out.index)
        none.insert(1, "compare_cases_no_population",
                    pd.Series(pd.NA, index=out.index, dtype="Int64"))
        out = out.join(none)

    known = {
        "communities": 0,
        "communities_no_population": 0,
        "cases": result.unassigned,
        "cases_no_population": 0,
    }
    if result.compare_unassigned is not None:
        known["compare_cases"] = result.compare_unassigned
    line = pd.DataFrame(
        {c: pd.Series([known.get(c)], dtype=out[c].dtype).array for c in out.columns},
        index=pd.Index([UNASSIGNED], name="code", dtype="string"),
    )
    out = pd.concat([sort_by_code(out, None), line])
    notes.append(
        f"{result.unassigned} cases without a community are the line {UNASSIGNED!r}, outside "
        "every rate"
    )
    return RollUpResult(
        frame=out,
        level=level,
        period=result.period,
        compare_period=result.compare_period,
        category=result.category,
        notes=tuple(notes),
    )
