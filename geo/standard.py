"""The safe-community standard: profiles, per-community evaluation and the creation rate.

A *profile* is a TOML file that lists criteria. Each criterion names a metric of
:data:`geo.catalogue.CATALOGUE`, the parameters it is computed with, a comparison
(``<``, ``<=``, ``>``, ``>=``) against a threshold, a weight, whether it is required, and where
the threshold comes from. Districts write their own profiles and thresholds change, so the
standard is data, read by :func:`load_profile`.

Profile format
--------------
Top level: ``name``, ``version`` (text), ``effective_date`` (a TOML date or ``"YYYY-MM-DD"``),
``source_notes`` (text or a list of texts), optional ``language`` (default ``"zh"``) and
``description``; a ``[bands]`` table; one ``[[criteria]]`` table per criterion::

    [bands]
    meets_min_score = 80            # 达标: every required criterion passes and score >= 80
    partly_min_score = 60           # 基本达标: score >= 60 ...
    partly_max_required_failed = 1  # ... with at most one required criterion failed (optional)

    [[criteria]]
    id = "camera_working"           # letters, digits, _ . - ; unique
    label_zh = "视频监控完好率"
    label_en = "Camera working ratio"
    metric = "camera_working_ratio"
    operator = ">="
    threshold = 0.98
    weight = 10                     # > 0
    required = false                # default false
    source = "发改高技〔2015〕996号 ..."
    params = { period = "evaluated" }

``params`` holds only parameters the catalogue lists for the metric; the catalogue's required
parameters must be present. pingan also requires ``period`` whenever a metric takes one and
``compare`` whenever a metric takes one, so that no criterion depends on a default hidden in
the code that computes the metric.

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

Why some of this is written here
--------------------------------
tomllib reports no positions for parsed values, and pydantic reports error
locations as paths (``criteria.3.operator``). Users edit profiles by hand, so errors must name
lines: :func:`_key_lines` scans the TOML text for table headers and keys to map each path back
to its line. It understands standard tables, arrays of tables, dotted keys, inline tables and
multi-line strings and arrays; an error inside an inline array of tables points at the line
of its key.
"""

from __future__ import annotations

import datetime as dt
import difflib
import hashlib
import json
import math
import os
import re
import tomllib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal, TypeGuard

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from geo.catalogue import CATALOGUE
from geo.errors import PinganError
from geo.period import Period, parse_period

__all__ = [
    "COMPARE_VALUES",
    "DEFAULT_PROFILE_PATH",
    "LONG_COLUMNS",
    "OPERATORS",
    "PARAM_NAMES",
    "PERIOD_SPECS",
    "ROLLUP_COLUMNS",
    "ROLLUP_LEVELS",
    "STATUSES",
    "STATUS_LABELS_ZH",
    "WIDE_COLUMNS",
    "Bands",
    "Criterion",
    "CriterionParams",
    "Evaluation",
    "MetricRequest",
    "Profile",
    "ProfileError",
    "ProfileProblem",
    "RollUp",
    "evaluate",
    "load_profile",
    "metric_requests",
    "resolve_period",
    "roll_up_creation",
]

#: The shipped default profile.
DEFAULT_PROFILE_PATH = Path(__file__).with_name("profiles") / "beijing-safe-community.toml"

OPERATORS = ("<", "<=", ">", ">=")
PERIOD_SPECS = ("evaluated", "year", "quarter", "month")
COMPARE_VALUES = ("previous", "last-year")
#: Every parameter name a criterion may give (each metric takes a subset, see the catalogue).
PARAM_NAMES = ("period", "category", "facility_type", "radius_m", "compare", "measure")

STATUSES = ("meets", "partly", "fails", "incomplete")
STATUS_LABELS_ZH = {"meets": "达标", "partly": "基本达标", "fails": "未达标",
                    "incomplete": "待补数据"}
ROLLUP_LEVELS = ("subdistrict", "district", "city")

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
_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$"
_COMPARE: dict[str, Callable[[np.ndarray, float], np.ndarray]] = {
    "<": np.less, "<=": np.less_equal, ">": np.greater, ">=": np.greater_equal,
}
_LEVEL_COLUMNS = {"subdistrict": ("subdistrict_code", "subdistrict"),
                  "district": ("district_code", "district")}

Operator = Literal["<", "<=", ">", ">="]
PeriodSpec = Literal["evaluated", "year", "quarter", "month"]
Compare = Literal["previous", "last-year"]
Status = Literal["meets", "partly", "fails", "incomplete"]
ParamValue = str | float
_NonEmpty = Annotated[str, Field(strict=True, min_length=1)]
_Number = Annotated[float, Field(strict=True, allow_inf_nan=False)]


# --------------------------------------------------------------------------- the profile model
class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Bands(_Frozen):
    """Score thresholds of the status bands.

    Attributes
    ----------
    meets_min_score
        Lowest score (0–100) that meets the standard (达标), with every required criterion
        passed.
    partly_min_score
        Lowest score that partly meets it (基本达标); not above ``meets_min_score``.
    partly_max_required_failed
        Most required criteria that may fail in a community that partly meets; ``None`` for
        no limit.
    """

    meets_min_score: Annotated[_Number, Field(ge=0, le=100)]
    partly_min_score: Annotated[_Number, Field(ge=0, le=100)]
    partly_max_required_failed: Annotated[int, Field(strict=True, ge=0)] | None = None


class CriterionParams(_Frozen):
    """Parameters of the metric a criterion compares (only those the metric takes).

    Attributes
    ----------
    period
        Relative period spec: ``evaluated``, ``year``, ``quarter`` or ``month``.
    category
        Incident category; all cases when absent.
    facility_type
        Facility type (``police_office``, ``service_station``…).
    radius_m
        Service radius in metres; the coverage module's default for the type when absent.
    compare
        Comparison period of a change: ``previous`` or ``last-year``.
    measure
        Compound measure name (``fence``, ``access_control``…).
    """

    period: PeriodSpec | None = None
    category: _NonEmpty | None = None
    facility_type: _NonEmpty | None = None
    radius_m: Annotated[_Number, Field(gt=0)] | None = None
    compare: Compare | None = None
    measure: _NonEmpty | None = None

    def given(self) -> dict[str, ParamValue]:
        """Return the parameters that are set, in :data:`PARAM_NAMES` order."""
        values = self.model_dump()
        return {k: values[k] for k in PARAM_NAMES if values[k] is not None}


class Criterion(_Frozen):
    """One criterion of a profile.

    Attributes
    ----------
    id
        Unique identifier (letters, digits, ``_ . -``); the column name of its metric value
        in the frame given to :func:`evaluate`.
    label_zh, label_en
        Labels for reports.
    metric
        A name in :data:`geo.catalogue.CATALOGUE`.
    operator
        ``<``, ``<=``, ``>`` or ``>=``: the criterion passes when ``value operator threshold``.
    threshold
        The number the value is compared with, in the metric's unit.
    weight
        Weight in the score (> 0).
    required
        Whether failing it keeps a community from meeting the standard.
    source
        Where the threshold comes from (or a statement that no published source exists).
    params
        Parameters the metric is computed with.
    """

    id: Annotated[str, Field(strict=True, pattern=_ID_PATTERN)]
    label_zh: _NonEmpty
    label_en: _NonEmpty
    metric: _NonEmpty
    operator: Operator
    threshold: _Number
    weight: Annotated[_Number, Field(gt=0)]
    required: Annotated[bool, Field(strict=True)] = False
    source: Annotated[str, Field(strict=True, min_length=1, pattern=r"\S")]
    params: CriterionParams = CriterionParams()


class Profile(_Frozen):
    """A safe-community standard: criteria, bands and provenance. Build with :func:`load_profile`.

    Attributes
    ----------
    name
        Profile name.
    version
        Version text chosen by its authors.
    effective_date
        Date from which the profile applies.
    source_notes
        Notes on where the profile and its thresholds come from.
    language
        Language of the labels and notes (default ``zh``).
    description
        Optional free text.
    bands
        Score thresholds of the status bands.
    criteria
        The criteria, in file order.
    """

    name: _NonEmpty
    version: _NonEmpty
    effective_date: dt.date
    source_notes: tuple[str, ...]
    language: _NonEmpty = "zh"
    description: str = ""
    bands: Bands
    criteria: Annotated[tuple[Criterion, ...], Field(min_length=1)]

    @field_validator("source_notes", mode="before")
    @classmethod
    def _notes_as_tuple(cls, value: Any) -> Any:
        return (value,) if isinstance(value, str) else value

    @property
    def version_key(self) -> str:
        """A stable 16-hex-digit hash of the profile's content.

        Formatting, comments and key order in the file do not change it; any change of a
        value does. Cache results by data version and this key.
        """
        canonical = json.dumps(self.model_dump(mode="json"), sort_keys=True,
                               ensure_ascii=False, separators=(",", ":"))
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:16]

    @property
    def criterion_ids(self) -> tuple[str, ...]:
        """Criterion ids in file order."""
        return tuple(c.id for c in self.criteria)

    def criterion(self, criterion_id: str) -> Criterion:
        """Return the criterion called ``criterion_id``.

        Raises
        ------
        KeyError
            If the profile has no such criterion.
        """
        for c in self.criteria:
            if c.id == criterion_id:
                return c
        raise KeyError(f"profile {self.name!r} has no criterion {criterion_id!r}; "
                       f"criteria: {', '.join(self.criterion_ids)}")


# --------------------------------------------------------------------------- errors
@dataclass(frozen=True)
class ProfileProblem:
    """One problem found in a profile.

    Attributes
    ----------
    line
        1-based line in the TOML text (the line of the offending key, or of the table that
        lacks it).
    field
        Where: ``name``, ``[bands] partly_min_score``,
        ``[[criteria]] #3 (id 'x') operator``…
    message
        What is wrong and what is expected.
    """

    line: int
    field: str
    message: str

    def __str__(self) -> str:
        return f"line {self.line}, {self.field}: {self.message}"


class ProfileError(PinganError, ValueError):
    """A profile that cannot be used; the message lists every problem with its line and field.

    Attributes
    ----------
    problems
        The problems, ordered by line.
    source
        The file name, or ``<text>``.
    """

    def __init__(self, problems: Iterable[ProfileProblem], *, source: str = "<text>") -> None:
        self.problems = tuple(sorted(problems, key=lambda p: p.line))
        self.source = source
        n = len(self.problems)
        lines = "\n".join(f"  {p}" for p in self.problems)
        super().__init__(f"profile {source} has {n} problem{'s' if n != 1 else ''}:\n{lines}")


# --------------------------------------------------------------------------- loading
def load_profile(source: str | os.PathLike[str]) -> Profile:
    """Read and validate a profile from a TOML file or TOML text.

    Parameters
    ----------
    source
        A path (``str`` or ``os.PathLike``), or the TOML text itself: a ``str`` holding a
        newline or an ``=`` is taken as text, any other ``str`` as a path.

    Returns
    -------
    Profile

    Raises
    ------
    ProfileError
        If the file is not UTF-8 or the text is not TOML (with the line of the error), or
        the profile is not
        valid: unknown metric (with close matches), bad operator, missing or non-numeric
        threshold, duplicate id, parameters the metric does not take, missing required
        parameters, non-positive weight, bands out of order, unknown fields… All problems
        are reported at once, each with its line and field.
    FileNotFoundError
        If ``source`` names a file that does not exist.
    """
    if isinstance(source, os.PathLike) or ("\n" not in source and "=" not in source):
        path = Path(source)
        data, label = path.read_bytes(), str(path)
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            line = data[:exc.start].count(b"\n") + 1
            raise ProfileError([ProfileProblem(line, "encoding", "a profile must be UTF-8 "
                                               f"text; {exc.reason} at byte {exc.start}")],
                               source=label) from None
    else:
        text, label = source, "<text>"
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ProfileError([_syntax_problem(exc)], source=label) from None
    lines = _key_lines(text)
    problems = _semantic_problems(raw, lines)
    try:
        profile = Profile.model_validate(raw)
    except ValidationError as exc:
        problems += _pydantic_problems(exc, raw, lines)
        raise ProfileError(problems, source=label) from None
    if problems:
        raise ProfileError(problems, source=label)
    return profile


def _syntax_problem(exc: tomllib.TOMLDecodeError) -> ProfileProblem:
    text = str(exc)
    lineno = getattr(exc, "lineno", None)
    match = re.search(r"\s*\(at line (\d+), column \d+\)", text)
    if lineno is None:
        lineno = int(match[1]) if match else 1
    if match:
        text = text[:match.start()] + text[match.end():]
    return ProfileProblem(int(lineno), "TOML syntax", text)


def _semantic_problems(raw: dict[str, Any],
                       lines: dict[tuple[str | int, ...], int]) -> list[ProfileProblem]:
    """Check what pydantic cannot see field by field: metrics, params, ids, band order."""
    problems: list[ProfileProblem] = []

    def add(loc: tuple[str | int, ...], message: str) -> None:
        problems.append(ProfileProblem(_line_for(loc, lines), _field_name(loc, raw), message))

    bands = raw.get("bands")
    if isinstance(bands, dict):
        meets, partly = bands.get("meets_min_score"), bands.get("partly_min_score")
        if _is_number(meets) and _is_number(partly) and partly > meets:
            add(("bands", "partly_min_score"),
                f"bands out of order: partly_min_score ({partly}) must not exceed "
                f"meets_min_score ({meets})")

    criteria = raw.get("criteria")
    if not isinstance(criteria, list):
        return problems
    first_seen: dict[str, int] = {}
    for i, crit in enumerate(criteria):
        if not isinstance(crit, dict):
            continue
        cid = crit.get("id")
        if isinstance(cid, str):
            if cid in first_seen:
                add(("criteria", i, "id"),
                    f"duplicate id {cid!r}: already used by the criterion at line "
                    f"{_line_for(('criteria', first_seen[cid], 'id'), lines)}")
            else:
                first_seen[cid] = i
        name = crit.get("metric")
        params = crit.get("params", {})
        given = set(params) if isinstance(params, dict) else set()
        if not isinstance(name, str):
            continue
        metric_info = CATALOGUE.get(name)
        if metric_info is None:
            close = difflib.get_close_matches(name, CATALOGUE, n=3, cutoff=0.5)
            hint = (f"close matches: {', '.join(close)}" if close
                    else f"known metrics: {', '.join(sorted(CATALOGUE))}")
            add(("criteria", i, "metric"), f"unknown metric {name!r}; {hint}")
            for key in sorted(given - set(PARAM_NAMES)):
                add(("criteria", i, "params", key),
                    f"unknown param {key!r}; params are {', '.join(PARAM_NAMES)}")
            continue
        takes = metric_info.params
        for key in sorted(given - set(takes)):
            add(("criteria", i, "params", key),
                f"metric {name!r} does not take param {key!r}; it takes "
                f"{', '.join(takes) if takes else 'no params'}")
        needed = set(metric_info.required_params) | ({"period", "compare"} & set(takes))
        for key in [p for p in PARAM_NAMES if p in needed - given]:
            why = {"period": f"one of {', '.join(PERIOD_SPECS)}; every criterion fixes its "
                             "period",
                   "compare": f"one of {', '.join(COMPARE_VALUES)}"}.get(key, "required")
            add(("criteria", i, "params", key),
                f"metric {name!r} needs param {key!r} ({why})")
    return problems


def _pydantic_problems(exc: ValidationError, raw: dict[str, Any],
                       lines: dict[tuple[str | int, ...], int]) -> list[ProfileProblem]:
    problems = []
    for err in exc.errors():
        loc = tuple(err["loc"])
        kind = err["type"]
        if kind == "extra_forbidden" and len(loc) == 4 and loc[2] == "params":
            continue  # reported by _semantic_problems with what the metric takes
        if kind == "missing":
            message = "required field is missing"
        elif kind == "extra_forbidden":
            message = f"unknown field; allowed: {', '.join(_allowed_fields(loc))}"
        else:
            message = str(err["msg"])
            if not isinstance(err.get("input"), dict | list):
                message += f"; got {err.get('input')!r}"
        problems.append(ProfileProblem(_line_for(loc, lines), _field_name(loc, raw), message))
    return problems


def _allowed_fields(loc: tuple[str | int, ...]) -> list[str]:
    if len(loc) == 1:
        return list(Profile.model_fields)
    if loc[0] == "bands":
        return list(Bands.model_fields)
    if loc[0] == "criteria" and len(loc) == 3:
        return list(Criterion.model_fields)
    return list(PARAM_NAMES)


def _field_name(loc: tuple[str | int, ...], raw: dict[str, Any]) -> str:
    if loc and loc[0] == "criteria" and len(loc) >= 2 and isinstance(loc[1], int):
        crit = raw["criteria"][loc[1]] if isinstance(raw.get("criteria"), list) else None
        cid = crit.get("id") if isinstance(crit, dict) else None
        head = f"[[criteria]] #{loc[1] + 1}" + (f" (id {cid!r})" if isinstance(cid, str) else "")
        rest = ".".join(str(k) for k in loc[2:])
        return f"{head} {rest}" if rest else head
    if loc and loc[0] == "bands" and len(loc) > 1:
        return f"[bands] {'.'.join(str(k) for k in loc[1:])}"
    return ".".join(str(k) for k in loc) or "(profile)"


def _is_number(value: Any) -> TypeGuard[int | float]:
    return isinstance(value, int | float) and not isinstance(value, bool)


# --------------------------------------------------------------------------- TOML line map
_HEADER = re.compile(r"^\s*(\[\[?)\s*(.+?)\s*(\]\]?)\s*(#.*)?$")


def _key_lines(text: str) -> dict[tuple[str | int, ...], int]:
    """Map each table and key path of a TOML text to its 1-based line number.

    Paths follow the parsed document: ``("criteria", 2, "operator")`` is the ``operator`` key
    of the third ``[[criteria]]`` table. The root maps to line 1.
    """
    lines: dict[tuple[str | int, ...], int] = {(): 1}
    counts: dict[tuple[str, ...], int] = {}
    table: tuple[str | int, ...] = ()
    depth, open_string = 0, ""
    for lineno, line in enumerate(text.splitlines(), 1):
        if open_string:
            end = line.find(open_string)
            if end < 0:
                continue
            line, open_string = line[end + 3:], ""
            depth, open_string = _scan_value(line, depth)
            continue
        if depth > 0:
            depth, open_string = _scan_value(line, depth)
            continue
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        header = _HEADER.match(line)
        if header and len(header[1]) == len(header[3]):
            keys = tuple(_split_key(header[2]))
            if header[1] == "[[":
                counts[keys] = counts.get(keys, -1) + 1
            table = _resolve_table(keys, counts)
            lines.setdefault(table, lineno)
            continue
        key_text, value = _split_assignment(line)
        if key_text is None:
            continue
        keys = tuple(_split_key(key_text))
        for n in range(1, len(keys) + 1):
            lines.setdefault(table + keys[:n], lineno)
        depth, open_string = _scan_value(value, 0)
    return lines


def _resolve_table(keys: tuple[str, ...], counts: dict[tuple[str, ...], int]
                   ) -> tuple[str | int, ...]:
    path: list[str | int] = []
    for n, key in enumerate(keys, 1):
        path.append(key)
        if keys[:n] in counts:
            path.append(counts[keys[:n]])
    return tuple(path)


def _split_assignment(line: str) -> tuple[str | None, str]:
    """Split ``key = value`` at the first ``=`` outside quotes."""
    quote = ""
    for i, ch in enumerate(line):
        if quote:
            if ch == quote:
                quote = ""
        elif ch in "\"'":
            quote = ch
        elif ch == "=":
            return line[:i].strip(), line[i + 1:]
        elif ch == "#":
            break
    return None, ""


def _split_key(key: str) -> list[str]:
    """Split a dotted TOML key into its parts, unquoting quoted parts."""
    parts, current, quote = [], "", ""
    for ch in key:
        if quote:
            if ch == quote:
                quote = ""
            else:
                current += ch
        elif ch in "\"'":
            quote = ch
        elif ch == ".":
            parts.append(current.strip())
            current = ""
        else:
            current += ch
    parts.append(current.strip())
    return parts


def _scan_value(text: str, depth: int) -> tuple[int, str]:
    """Follow brackets and strings through a value; return (bracket depth, open ``\"\"\"``)."""
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if text.startswith('"""', i) or text.startswith("'''", i):
            delim = text[i:i + 3]
            end = text.find(delim, i + 3)
            if end < 0:
                return depth, delim
            i = end + 3
            continue
        if ch in "\"'":
            i += 1
            while i < n and text[i] != ch:
                i += 2 if (ch == '"' and text[i] == "\\") else 1
        elif ch in "[{":
            depth += 1
        elif ch in "]}":
            depth -= 1
        elif ch == "#":
            break
        i += 1
    return max(depth, 0), ""


def _line_for(loc: tuple[str | int, ...], lines: dict[tuple[str | int, ...], int]) -> int:
    for n in range(len(loc), -1, -1):
        if loc[:n] in lines:
            return lines[loc[:n]]
    return 1


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
        raise ValueError(f"period spec must be one of {', '.join(PERIOD_SPECS)}; got {spec!r}")
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
        ``(name, value)`` pairs in :data:`PARAM_NAMES` order; ``period`` holds the spec, or
        the resolved period's label (``2025``, ``2024-10-01..2025-09-30``) when requests were
        made for an evaluated period.
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
        raise ValueError(f"metrics lacks a column for criteria {missing}; expected one column "
                         f"per criterion id: {list(ids)}")
    codes = _codes(pd.Series(metrics.index), "metrics index")
    values = pd.DataFrame({c: _numeric(metrics[c], c) for c in ids})
    values.index = pd.Index(codes, dtype="str")
    if communities is not None:
        if not isinstance(communities, pd.DataFrame) or "code" not in communities.columns:
            raise ValueError("communities must be a DataFrame with a 'code' column; got "
                             f"{type(communities).__name__} with columns "
                             f"{list(getattr(communities, 'columns', []))}")
        wanted = _codes(communities["code"], "communities['code']")
        values = values.reindex(pd.Index(wanted, dtype="str"))
    return _evaluate_values(values, profile)


def _codes(codes: pd.Series, what: str) -> list[str]:
    if codes.isna().any():
        raise ValueError(f"{what} has missing community codes")
    text = codes.astype(str)
    dupes = text[text.duplicated()].unique().tolist()
    if dupes:
        raise ValueError(f"{what} must hold unique community codes; duplicated: {dupes[:5]}")
    return text.tolist()


def _numeric(column: pd.Series, criterion_id: str) -> np.ndarray:
    col = column.astype(object).where(column.notna(), None)
    col = col.map(lambda v: float(v) if isinstance(v, bool | np.bool_) else v)
    try:
        numbers = pd.to_numeric(col, errors="raise")
    except (TypeError, ValueError) as exc:
        raise ValueError(f"metrics column {criterion_id!r} must be numeric; {exc}") from None
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
        ``name`` of the unit (NA for the city, and for communities with no unit, which form
        one row of their own), ``communities`` (count), counts per status, ``creation_rate``
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
        ``level="subdistrict"``, ``subdistrict_code`` or ``subdistrict`` (``district_code`` or
        ``district`` for districts). Must hold exactly the evaluated communities, so no
        denominator is silently different from the evaluation.
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
        raise ValueError(f"level must be one of {', '.join(ROLLUP_LEVELS)}; got {level!r}")
    if not isinstance(communities, pd.DataFrame):
        raise TypeError(f"communities must be a DataFrame; got {type(communities).__name__}")
    for column in ("code", "population"):
        if column not in communities.columns:
            raise ValueError(f"communities lacks the {column!r} column; columns: "
                             f"{list(communities.columns)}")
    frame = pd.DataFrame({"code": _codes(communities["code"], "communities['code']")})
    population = pd.to_numeric(communities["population"], errors="coerce").to_numpy(float)
    if (population < 0).any():
        raise ValueError("communities['population'] must be >= 0; got negative values for "
                         f"{frame['code'][population < 0].tolist()[:5]}")
    frame["population"] = population
    frame["unit_code"], frame["unit_name"] = _unit_keys(communities, level)

    evaluated = evaluation.communities.set_index("code")
    extra = sorted(set(frame["code"]) - set(evaluated.index))
    absent = sorted(set(evaluated.index) - set(frame["code"]))
    if extra or absent:
        raise ValueError(
            "communities must hold exactly the evaluated communities; "
            + (f"not evaluated: {extra[:5]} (evaluate with communities= to report them as "
               "incomplete) " if extra else "")
            + (f"missing from communities: {absent[:5]}" if absent else ""))
    frame["status"] = evaluated.loc[frame["code"], "status"].to_numpy()
    frame["could_meet"] = (evaluated.loc[frame["code"], "status_best"] == "meets").to_numpy()
    return RollUp(level=level, profile_key=evaluation.profile_key, units=_units(frame, level))


def _unit_keys(communities: pd.DataFrame, level: str) -> tuple[pd.Series, pd.Series]:
    n = len(communities)
    if level == "city":
        na = pd.Series(pd.array([pd.NA] * n, dtype="str"))
        return na, na
    code_col, name_col = _LEVEL_COLUMNS[level]
    has_code = code_col in communities.columns and communities[code_col].notna().any()
    if not has_code and name_col not in communities.columns:
        raise ValueError(f"level {level!r} needs a {code_col!r} or {name_col!r} column in "
                         f"communities; columns: {list(communities.columns)}")
    names = (communities[name_col].astype("str") if name_col in communities.columns
             else pd.Series(pd.array([pd.NA] * n, dtype="str")))
    keys = communities[code_col].astype("str") if has_code else names
    return keys.reset_index(drop=True), names.reset_index(drop=True)


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
    return units.sort_values("code", na_position="last", ignore_index=True)


def _ratio(part: float, whole: float) -> float:
    return part / whole if whole > 0 else math.nan
