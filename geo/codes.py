"""The order of codes: natural, so community area 2 comes before 10.

Community, subdistrict and district codes are text: a Chinese statistical division code
(统计用区划代码, twelve digits) or whatever numbering a city portal uses (community areas
``1``…``77``). Sorted as text, portal numbers come out ``1, 10, 11, 2``; sorted naturally
(runs of digits compared as numbers, the rest as text) they come out ``1, 2, …, 10``. Codes of
one length made of digits only, such as the 12-digit Chinese codes, keep exactly their text
order. Every table or list of units sorts with :func:`natural_key` or :func:`sort_by_code`.

Written here rather than taken from a library (natsort) because the rule is one regular
expression and pingan needs it on pandas columns with missing values.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

import pandas as pd

__all__ = ["natural_key", "natural_order", "sort_by_code", "sorted_codes"]

_RUNS = re.compile(r"(\d+)")

#: A key part: (0, number, digits) for a run of digits, (1, text) for anything else.
_Part = tuple[int, int, int] | tuple[int, str]


def natural_key(code: Any) -> tuple[int, tuple[_Part, ...], str]:
    """Return the sort key of a code: digit runs as numbers, text as text, missing last.

    Parameters
    ----------
    code
        A code (any value; ``None``/NaN sort after every code).

    Returns
    -------
    tuple
        Comparable keys: ``natural_key("2") < natural_key("10")``. Ties between codes that
        differ only in leading zeros (``"01"`` and ``"1"``) are broken by their text.

    Examples
    --------
    >>> sorted(["10", "2", "1", "11"], key=natural_key)
    ['1', '2', '10', '11']
    """
    if code is None or (not isinstance(code, str) and pd.isna(code)):
        return (1, (), "")
    text = str(code)
    parts: list[_Part] = []
    for i, run in enumerate(_RUNS.split(text)):
        if not run:
            continue
        parts.append((0, int(run), len(run)) if i % 2 else (1, run))
    return (0, tuple(parts), text)


def sorted_codes(codes: Iterable[Any]) -> list[Any]:
    """Return codes in natural order (:func:`natural_key`)."""
    return sorted(codes, key=natural_key)


def natural_order(values: pd.Series | pd.Index) -> list[int]:
    """Return the positions that put ``values`` in natural order (stable)."""
    keys = [natural_key(v) for v in values]
    return sorted(range(len(keys)), key=keys.__getitem__)


def sort_by_code(frame: pd.DataFrame, column: str | None = "code") -> pd.DataFrame:
    """Return the frame's rows in the natural order of a code column (or of the index).

    Parameters
    ----------
    frame
        Any frame; it is not modified.
    column
        The code column, or ``None`` to sort by the index.

    Returns
    -------
    pandas.DataFrame
        The same rows (index kept), missing codes last; equal codes keep their order.
    """
    values = frame.index if column is None else frame[column]
    return frame.iloc[natural_order(values)]
