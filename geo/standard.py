"""The safe-community standard: per-community evaluation and the creation rate (创建率).

A profile (:mod:`geo.profile`) lists criteria; :func:`metric_requests` lists the metric values a
profile needs for an evaluated period, :func:`evaluate` applies it to those values and
:func:`roll_up_creation` rolls the statuses up to subdistricts, districts and the city (the
unit of a community is :func:`geo.rollup.unit_keys`, as for every roll-up).

Periods
-------
A criterion fixes its period *relative to the period being evaluated*, so one profile serves
every year; fixed periods ("2025") are refused, because a profile reused the next year would
silently judge stale data. :func:`resolve_period` turns a spec into a :class:`~geo.period.Period`:

- ``evaluated``: the evaluated period itself;
- ``year``, ``quarter``, ``month``: the twelve, three or one months ending with the evaluated
  period (for an evaluated calendar year, ``year`` is that year; for 2025-Q3 it is
  2024-10-01..2025-09-30). Windows that fall on calendar boundaries are returned as calendar
  periods. Such windows never reach past the evaluated period, so they never include days
  with no data yet. Rates are compared in their annualised form (``*_annual`` metrics).

Scores, bands and unknown values
--------------------------------
A criterion *passes* when ``value <operator> threshold`` holds; at the threshold itself ``<=``
and ``>=`` pass and ``<`` and ``>`` fail. A missing value (NaN, None, NA) is *unknown*: it
never passes or fails silently.

- ``score`` is the weighted share of passed criteria among the *known* ones, times 100
  (NaN when nothing is known). ``score_min`` and ``score_max`` are the scores over *all*
  criteria with every unknown counted as failed and as passed.
- A band is computed from a score over all criteria and the number of required criteria that
  failed: ``meets`` (达标) when no required criterion failed and the score reaches
  ``meets_min_score``; ``partly`` (基本达标) when the score reaches ``partly_min_score`` and at
  most ``partly_max_required_failed`` required criteria failed (any number when it is not
  set); ``fails`` (未达标) otherwise. A score within 1e-9 of a band threshold reaches it,
  since decimal weights are not exact in binary floats.
- ``status_worst`` is the band with every unknown counted as failed, ``status_best`` with
  every unknown counted as passed. ``status`` is that band when the two agree (the missing
  data cannot change the outcome) and ``incomplete`` (待补数据) when they do not. So a
  community with an unknown required criterion never meets the standard on partial data, and
  is never reported as failing when the missing data could make it meet.

The creation rate (创建率) is the share of communities whose ``status`` is ``meets``;
:func:`roll_up_creation` also gives the rate if every incomplete community turned out to meet
(``creation_rate_upper``), and both weighted by population.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from geo.codes import sort_by_code
from geo.errors import ParameterError
from geo.period import Period, parse_period
from geo.profile import PERIOD_SPECS, Bands, ParamValue, Profile
from geo.rollup import LEVELS, UNKNOWN, unit_keys

__all__ = [
    "LONG_COLUMNS",
    "ROLLUP_COLUMNS",
    "ROLLUP_LEVELS",
    "STATUSES",
    "STATUS_LABELS_ZH",
    "WIDE_COLUMNS",
    "Evaluation",
    "MetricRequest",
    "RollUp",
    "evaluate",
    "metric_requests",
    "resolve_period",
    "roll_up_creation",
]

STATUSES = ("meets", "partly", "fails", "incomplete")
STATUS_LABELS_ZH = {"meets": "达标", "partly": "基本达标", "fails": "未达标",
                    "incomplete": "待补数据"}
ROLLUP_LEVELS = LEVELS

#: Columns of :attr:`Evaluation.criteria` (one row per community and criterion).
LONG_COLUMNS = ("code", "criterion_id", "metric", "operator", "threshold", "value", "outcome",
                "passed", "weight", "required")
#: Columns of :attr:`Evaluation.communities` (one row per community).
WIDE_COLUMNS = ("code", "score", "score_min", "score_max", "status", "status_worst",
                "status_best", "n_passed", "n_failed", "n_unknown", "required_failed",
                "required_unknown", "known_weight_share", "todo", "todo_unknown")
#: Columns of :attr:`RollUp.units` (one row per subdistrict, district or the city).
ROLLUP_COLUMNS = ("level", "code", "name", "communities", "meets", "partly", "fails",
                  "incomplete", "creation_rate", "creation_rate_upper", "population",
                  "population_meets", "population_missing", "creation_rate_pop",
                  "creation_rate_pop_upper")

_SCORE_EPS = 1e-9
_COMPARE: dict[str, Callable[[np.ndarray, float], np.ndarray]] = {
    "<": np.less, "<=": np.less_equal, ">": np.greater, ">=": np.greater_equal,
}

Status = Literal["meets", "partly", "fails", "incomplete"]


# --------------------------------------------------------------------------- periods, requests
def resolve_period(spec: str, evaluated: Period | str | int) -> Period:
    """Return the period a criterion's ``period`` spec means for an evaluated period.

    Parameters
    ----------
    spec
        ``evaluated``, ``year``, ``quarter`` or ``month`` (see the module docstring).
    evaluated
        The period being evaluated, or its text (``2025``, ``2025-Q3``…).

    Returns
    -------
    Period
        A calendar year, quarter or month when the window falls on one, else a range.

    Raises
    ------
    ValueError
        If ``spec`` is not a known spec, or ``evaluated`` is not a period.
    """
    period = parse_period(evaluated)
    if spec == "evaluated":
        return period
    months = {"year": 12, "quarter": 3, "month": 1}.get(spec)
    if months is None:
        raise ParameterError(f"period spec must be one of {', '.join(PERIOD_SPECS)}; got {spec!r}")
    start = _add_months(period.end, -months)
    if start.day == 1:
        if months == 12 and start.month == 1:
            return parse_period(f"{start.year}")
        if months == 3 and start.month % 3 == 1:
            return parse_period(f"{start.year}-Q{(start.month - 1) // 3 + 1}")
        if months == 1:
            return parse_period(f"{start.year}-{start.month:02d}")
    return Period("range", start, period.end)


def _add_months(day: dt.date, months: int) -> dt.date:
    years, month0 = divmod(day.month - 1 + months, 12)
    year, month = day.year + years, month0 + 1
    next_month = dt.date(year + month // 12, month % 12 + 1, 1)
    last = (next_month - dt.timedelta(days=1)).day
    return dt.date(year, month, min(day.day, last))


@dataclass(frozen=True)
class MetricRequest:
    """One metric value per community that the service must compute for a profile.

    Attributes
    ----------
    metric
        Catalogue name.
    params
        ``(name, value)`` pairs in :data:`geo.profile.PARAM_NAMES` order; ``period`` holds
        the spec, or the resolved period's label (``2025``, ``2024-10-01..2025-09-30``) when
        requests were made for an evaluated period.
    criterion_ids
        The criteria whose column takes this value, in profile order.
    """

    metric: str
    params: tuple[tuple[str, ParamValue], ...]
    criterion_ids: tuple[str, ...]

    @property
    def kwargs(self) -> dict[str, ParamValue]:
        """The parameters as a dict."""
        return dict(self.params)


def metric_requests(profile: Profile, *,
                    period: Period | str | int | None = None) -> tuple[MetricRequest, ...]:
    """List the distinct (metric, params) values a profile needs, and the criteria each feeds.

    The same metric may appear in several criteria with different parameters (and the same
    parameters in several criteria); computing each distinct request once and copying it to
    the columns of its ``criterion_ids`` gives the frame :func:`evaluate` takes.

    Parameters
    ----------
    profile
        The profile.
    period
        The evaluated period. When given, each ``period`` spec is resolved with
        :func:`resolve_period`, so specs that name the same days (``evaluated`` and ``year``
        for a calendar year) become one request.

    Returns
    -------
    tuple of MetricRequest
        In order of first use in the profile.
    """
    evaluated = None if period is None else parse_period(period)
    grouped: dict[tuple[str, tuple[tuple[str, ParamValue], ...]], list[str]] = {}
    for crit in profile.criteria:
        params = crit.params.given()
        if evaluated is not None and "period" in params:
            params["period"] = resolve_period(str(params["period"]), evaluated).label
        grouped.setdefault((crit.metric, tuple(params.items())), []).append(crit.id)
    return tuple(MetricRequest(metric, params, tuple(ids))
                 for (metric, params), ids in grouped.items())


# --------------------------------------------------------------------------- evaluation
@dataclass(frozen=True)
class Evaluation:
    """The standard applied to communities.

    Attributes
    ----------
    profile
        The profile applied.
    criteria
        Long frame, one row per community and criterion (columns :data:`LONG_COLUMNS`):
        ``code``, ``criterion_id``, ``metric``, ``operator``, ``threshold``, ``value``
        (float, NaN when missing), ``outcome`` (``pass``, ``fail`` or ``unknown``),
        ``passed`` (nullable boolean, NA when unknown), ``weight``, ``required``.
    communities
        Wide frame, one row per community (columns :data:`WIDE_COLUMNS`): ``score`` (0–100
        over known criteria, NaN when none is known), ``score_min`` / ``score_max`` (over all
        criteria, unknowns failed / passed), ``status`` (``meets``, ``partly``, ``fails`` or
        ``incomplete``), ``status_worst`` / ``status_best`` (the band with unknowns failed /
        passed), counts ``n_passed``, ``n_failed``, ``n_unknown``, ``required_failed``,
        ``required_unknown``, ``known_weight_share`` (weight of known criteria / total
        weight), ``todo`` (failed criterion ids, comma-separated, by weight descending then
        id) and ``todo_unknown`` (unknown ones, same order).
    """

    profile: Profile
    criteria: pd.DataFrame
    communities: pd.DataFrame

    @property
    def profile_key(self) -> str:
        """:attr:`Profile.version_key` of the profile applied."""
        return self.profile.version_key

    def todo(self, code: str) -> tuple[str, ...]:
        """Return the ids of the criteria a community failed, most weight first.

        Raises
        ------
        KeyError
            If the community was not evaluated.
        """
        row = self.communities.loc[self.communities["code"] == str(code), "todo"]
        if row.empty:
            raise KeyError(f"community {code!r} was not evaluated")
        text = str(row.iloc[0])
        return tuple(text.split(",")) if text else ()


def evaluate(metrics: pd.DataFrame, profile: Profile, *,
             communities: pd.DataFrame | None = None) -> Evaluation:
    """Apply a profile to per-community metric values.

    Parameters
    ----------
    metrics
        One row per community, indexed by community code (unique), with one numeric column
        per criterion id holding the value that criterion compares (see
        :func:`metric_requests`). Booleans count as 0/1. Missing values (NaN, None, NA) make
        the criterion unknown; other columns are ignored.
    profile
        The profile.
    communities
        The communities to report, a frame with a ``code`` column: when given, exactly these
        are evaluated, in this order, and a community with no row in ``metrics`` has every
        criterion unknown (so it stays in the denominators as ``incomplete`` instead of
        vanishing). Otherwise the rows of ``metrics`` are evaluated.

    Returns
    -------
    Evaluation

    Raises
    ------
    TypeError
        If ``metrics`` is not a DataFrame or ``profile`` not a :class:`Profile`.
    ValueError
        If a criterion's column is absent or not numeric, or codes are missing or duplicated.
    """
    if not isinstance(metrics, pd.DataFrame):
        raise TypeError(f"metrics must be a pandas DataFrame; got {type(metrics).__name__}")
    if not isinstance(profile, Profile):
        raise TypeError(f"profile must be a Profile (see load_profile); "
                        f"got {type(profile).__name__}")
    ids = profile.criterion_ids
    missing = [c for c in ids if c not in metrics.columns]
    if missing:
        raise ParameterError(f"metrics lacks a column for criteria {missing}; expected one column "
                         f"per criterion id: {list(ids)}")
    codes = _codes(pd.Series(metrics.index), "metrics index")
    values = pd.DataFrame({c: _numeric(metrics[c], c) for c in ids})
    values.index = pd.Index(codes, dtype="str")
    if communities is not None:
        if not isinstance(communities, pd.DataFrame) or "code" not in communities.columns:
            raise ParameterError("communities must be a DataFrame with a 'code' column; got "
                             f"{type(communities).__name__} with columns "
                             f"{list(getattr(communities, 'columns', []))}")
        wanted = _codes(communities["code"], "communities['code']")
        values = values.reindex(pd.Index(wanted, dtype="str"))
    return _evaluate_values(values, profile)


def _codes(codes: pd.Series, what: str) -> list[str]:
    if codes.isna().any():
        raise ParameterError(f"{what} has missing community codes")
    text = codes.astype(str)
    dupes = text[text.duplicated()].unique().tolist()
    if dupes:
        raise ParameterError(f"{what} must hold unique community codes; duplicated: {dupes[:5]}")
    return text.tolist()


def _numeric(column: pd.Series, criterion_id: str) -> np.ndarray:
    col = column.astype(object).where(column.notna(), None)
    col = col.map(lambda v: float(v) if isinstance(v, bool | np.bool_) else v)
    try:
        numbers = pd.to_numeric(col, errors="raise")
    except (TypeError, ValueError) as exc:
        raise ParameterError(f"metrics column {criterion_id!r} must be numeric; {exc}") from None
    return np.asarray(numbers, dtype=float)


def _evaluate_values(values: pd.DataFrame, profile: Profile) -> Evaluation:
    crits = profile.criteria
    v = values.to_numpy(dtype=float)
    known = ~np.isnan(v)
    passed = np.zeros_like(known)
    for j, crit in enumerate(crits):
        filled = np.where(known[:, j], v[:, j], 0.0)
        passed[:, j] = known[:, j] & _COMPARE[crit.operator](filled, crit.threshold)
    failed = known & ~passed
    unknown = ~known
    weight = np.array([c.weight for c in crits])
    required = np.array([c.required for c in crits])
    total = weight.sum()

    w_pass, w_known, w_unknown = passed @ weight, known @ weight, unknown @ weight
    with np.errstate(invalid="ignore", divide="ignore"):
        score = np.where(w_known > 0, 100.0 * w_pass / w_known, np.nan)
    score_min = 100.0 * w_pass / total
    score_max = 100.0 * (w_pass + w_unknown) / total
    req_failed = (failed & required).sum(axis=1)
    req_unknown = (unknown & required).sum(axis=1)
    worst = [_band(s, f, profile.bands) for s, f in zip(score_min, req_failed + req_unknown,
                                                          strict=True)]
    best = [_band(s, f, profile.bands) for s, f in zip(score_max, req_failed, strict=True)]
    status = [w if w == b else "incomplete" for w, b in zip(worst, best, strict=True)]

    order = sorted(range(len(crits)), key=lambda j: (-crits[j].weight, crits[j].id))
    todo = [",".join(crits[j].id for j in order if failed[i, j]) for i in range(len(values))]
    todo_unknown = [",".join(crits[j].id for j in order if unknown[i, j])
                    for i in range(len(values))]

    codes = values.index.astype(str).tolist()
    wide = pd.DataFrame({
        "code": pd.array(codes, dtype="str"),
        "score": score,
        "score_min": score_min,
        "score_max": score_max,
        "status": pd.array(status, dtype="str"),
        "status_worst": pd.array(worst, dtype="str"),
        "status_best": pd.array(best, dtype="str"),
        "n_passed": passed.sum(axis=1),
        "n_failed": failed.sum(axis=1),
        "n_unknown": unknown.sum(axis=1),
        "required_failed": req_failed,
        "required_unknown": req_unknown,
        "known_weight_share": w_known / total,
        "todo": pd.array(todo, dtype="str"),
        "todo_unknown": pd.array(todo_unknown, dtype="str"),
    }, columns=list(WIDE_COLUMNS))

    n, k = v.shape
    outcome = np.where(unknown, "unknown", np.where(passed, "pass", "fail")).ravel()
    passed_col = pd.array(passed.ravel(), dtype="boolean")
    passed_col[unknown.ravel()] = pd.NA
    long = pd.DataFrame({
        "code": pd.array(np.repeat(codes, k), dtype="str"),
        "criterion_id": pd.array(np.tile([c.id for c in crits], n), dtype="str"),
        "metric": pd.array(np.tile([c.metric for c in crits], n), dtype="str"),
        "operator": pd.array(np.tile([c.operator for c in crits], n), dtype="str"),
        "threshold": np.tile([c.threshold for c in crits], n).astype(float),
        "value": v.ravel(),
        "outcome": pd.array(outcome, dtype="str"),
        "passed": passed_col,
        "weight": np.tile(weight, n),
        "required": np.tile(required, n),
    }, columns=list(LONG_COLUMNS))
    return Evaluation(profile=profile, criteria=long, communities=wide)


def _band(score: float, required_failed: int, bands: Bands) -> Status:
    if required_failed == 0 and score + _SCORE_EPS >= bands.meets_min_score:
        return "meets"
    limit = bands.partly_max_required_failed
    if score + _SCORE_EPS >= bands.partly_min_score and (limit is None
                                                          or required_failed <= limit):
        return "partly"
    return "fails"


# --------------------------------------------------------------------------- creation rate
@dataclass(frozen=True)
class RollUp:
    """The creation rate (创建率) rolled up to one administrative level.

    Attributes
    ----------
    level
        ``subdistrict``, ``district`` or ``city``.
    profile_key
        :attr:`Profile.version_key` of the profile applied.
    units
        One row per unit (columns :data:`ROLLUP_COLUMNS`), ordered by code: ``code`` and
        ``name`` of the unit (:func:`geo.rollup.unit_keys`; code ``city`` for the city, and
        ``unknown``, last, for the communities with no code at the level; name NA where none
        is given), ``communities`` (count), counts per status, ``creation_rate``
        (meets / communities), ``creation_rate_upper`` (the rate if every incomplete
        community whose best case meets did meet), ``population`` (residents of communities
        with a known population), ``population_meets``, ``population_missing`` (communities
        without a population, left out of the population sums), ``creation_rate_pop``
        (population_meets / population, NaN when the population is 0) and
        ``creation_rate_pop_upper``.
    """

    level: str
    profile_key: str
    units: pd.DataFrame


def roll_up_creation(evaluation: Evaluation, communities: pd.DataFrame, *,
                     level: str) -> RollUp:
    """Count statuses and compute the creation rate per subdistrict, district or city.

    Parameters
    ----------
    evaluation
        The result of :func:`evaluate`.
    communities
        Communities (canonical columns of ``geo.layers``): ``code``, ``population`` and, for
        ``level="subdistrict"``, ``subdistrict_code`` (``district_code`` for districts; the
        name columns ``subdistrict``/``district`` are used when present). Must hold exactly
        the evaluated communities, so no denominator is silently different from the
        evaluation.
    level
        ``subdistrict``, ``district`` or ``city``.

    Returns
    -------
    RollUp

    Raises
    ------
    ValueError
        If ``level`` is unknown, a needed column is absent, a population is negative, or the
        communities differ from the evaluated ones.
    """
    if level not in ROLLUP_LEVELS:
        raise ParameterError(f"level must be one of {', '.join(ROLLUP_LEVELS)}; got {level!r}")
    if not isinstance(communities, pd.DataFrame):
        raise TypeError(f"communities must be a DataFrame; got {type(communities).__name__}")
    for column in ("code", "population"):
        if column not in communities.columns:
            raise ParameterError(f"communities lacks the {column!r} column; columns: "
                             f"{list(communities.columns)}")
    frame = pd.DataFrame({"code": _codes(communities["code"], "communities['code']")})
    population = pd.to_numeric(communities["population"], errors="coerce").to_numpy(float)
    if (population < 0).any():
        raise ParameterError("communities['population'] must be >= 0; got negative values for "
                         f"{frame['code'][population < 0].tolist()[:5]}")
    frame["population"] = population
    units = unit_keys(communities, level, codes=frame["code"])
    frame["unit_code"] = units["unit"].reset_index(drop=True)
    frame["unit_name"] = units["name"].reset_index(drop=True)

    evaluated = evaluation.communities.set_index("code")
    extra = sorted(set(frame["code"]) - set(evaluated.index))
    absent = sorted(set(evaluated.index) - set(frame["code"]))
    if extra or absent:
        raise ParameterError(
            "communities must hold exactly the evaluated communities; "
            + (f"not evaluated: {extra[:5]} (evaluate with communities= to report them as "
               "incomplete) " if extra else "")
            + (f"missing from communities: {absent[:5]}" if absent else ""))
    frame["status"] = evaluated.loc[frame["code"], "status"].to_numpy()
    frame["could_meet"] = (evaluated.loc[frame["code"], "status_best"] == "meets").to_numpy()
    return RollUp(level=level, profile_key=evaluation.profile_key, units=_units(frame, level))


def _units(frame: pd.DataFrame, level: str) -> pd.DataFrame:
    rows = []
    for key, group in frame.groupby("unit_code", dropna=False, sort=False):
        status = group["status"]
        meets = status == "meets"
        upper = meets | ((status == "incomplete") & group["could_meet"])
        pop = group["population"]
        pop_known = pop.notna()
        pop_total = float(pop[pop_known].sum())
        names = group["unit_name"].dropna()
        rows.append({
            "level": level,
            "code": None if pd.isna(key) else str(key),
            "name": str(names.iloc[0]) if len(names) else None,
            "communities": len(group),
            **{s: int((status == s).sum()) for s in STATUSES},
            "creation_rate": float(meets.mean()),
            "creation_rate_upper": float(upper.mean()),
            "population": pop_total,
            "population_meets": float(pop[meets & pop_known].sum()),
            "population_missing": int((~pop_known).sum()),
            "creation_rate_pop": _ratio(float(pop[meets & pop_known].sum()), pop_total),
            "creation_rate_pop_upper": _ratio(float(pop[upper & pop_known].sum()), pop_total),
        })
    units = pd.DataFrame(rows, columns=list(ROLLUP_COLUMNS))
    units["code"] = units["code"].astype("str")
    units["name"] = units["name"].astype("str")
    units["level"] = units["level"].astype("str")
    units = sort_by_code(units).reset_index(drop=True)
    units["code"] = units["code"].fillna(UNKNOWN)
    return units


def _ratio(part: float, whole: float) -> float:
    return part / whole if whole > 0 else math.nan
