"""The safe-community standard's profile: its model and its TOML loader.

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

A criterion's ``period`` is a spec relative to the evaluated period (``evaluated``, ``year``,
``quarter``, ``month``); :func:`geo.standard.resolve_period` says which days each means.
Evaluation, scores, bands and the creation rate are in :mod:`geo.standard`.

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
import os
import re
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal, TypeGuard

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from geo.catalogue import CATALOGUE
from geo.errors import PinganError

__all__ = [
    "COMPARE_VALUES",
    "DEFAULT_PROFILE_PATH",
    "OPERATORS",
    "PARAM_NAMES",
    "PERIOD_SPECS",
    "Bands",
    "Criterion",
    "CriterionParams",
    "ParamValue",
    "Profile",
    "ProfileError",
    "ProfileProblem",
    "load_profile",
]

#: The shipped default profile.
DEFAULT_PROFILE_PATH = Path(__file__).with_name("profiles") / "beijing-safe-community.toml"

OPERATORS = ("<", "<=", ">", ">=")
PERIOD_SPECS = ("evaluated", "year", "quarter", "month")
COMPARE_VALUES = ("previous", "last-year")
#: Every parameter name a criterion may give (each metric takes a subset, see the catalogue).
PARAM_NAMES = ("period", "category", "facility_type", "radius_m", "compare", "measure")

_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$"

Operator = Literal["<", "<=", ">", ">="]
PeriodSpec = Literal["evaluated", "year", "quarter", "month"]
Compare = Literal["previous", "last-year"]
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
        in the frame given to :func:`geo.standard.evaluate`.
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
