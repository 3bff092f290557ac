"""Incident categories: kept as written, or mapped to canonical names by a mapping file.

Categories are stored as the export wrote them: ``THEFT`` in a US city portal's export, ``0101``
when a 110 export's category-code column is loaded, ``盗窃`` when its text column is. Nothing is
lower-cased or translated on the way in, so a category asked for either matches what the data
holds or matches nothing — and then the caller is told which categories the data does hold
(:func:`unmatched_message`).

A **category mapping** is a CSV with the columns ``raw`` and ``canonical`` (UTF-8, with or
without BOM, or GBK as Excel saves it in China), one raw category per row::

    raw,canonical
    0101,盗窃
    0102,盗窃
    THEFT,盗窃

With a mapping, a requested name matches the records whose raw category maps to it, and the
records whose raw category is that name (:meth:`CategoryMap.expand`); raw categories without a
row keep their own name. :func:`read_category_map` checks the file and names the row of every
problem: a missing value, a raw category mapped twice to different names, or a canonical name
that is itself mapped on to another (a chain: map each raw category straight to its final name).
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from geo.errors import InputError

__all__ = ["CategoryMap", "canonical_counts", "read_category_map", "top_categories",
           "unmatched", "unmatched_message"]

#: How many of the most frequent categories a "matches nothing" message lists.
TOP_N = 10


@dataclass(frozen=True)
class CategoryMap:
    """A raw → canonical category mapping read from a file.

    Attributes
    ----------
    pairs
        ``(raw, canonical)`` pairs in file order (raw categories unique).
    name
        The file's name (no directory), for provenance.
    sha256
        SHA-256 of the file's bytes (hex), so a result names the exact mapping it used.
    """

    pairs: tuple[tuple[str, str], ...]
    name: str
    sha256: str

    @property
    def mapping(self) -> dict[str, str]:
        """Raw category -> canonical name."""
        return dict(self.pairs)

    def canonical(self, raw: str) -> str:
        """The canonical name of a raw category (itself when the mapping has no row for it)."""
        return self.mapping.get(raw, raw)

    def expand(self, asked: Iterable[str]) -> tuple[str, ...]:
        """Return the raw categories a query must match for the names asked.

        A name matches the raw categories mapped to it, and a raw category of that very name.

        Parameters
        ----------
        asked
            Requested category names (canonical or raw).

        Returns
        -------
        tuple of str
            Sorted raw categories; empty when nothing is asked (every category).
        """
        wanted = {a for a in asked if a}
        if not wanted:
            return ()
        return tuple(sorted(wanted | {raw for raw, canon in self.pairs if canon in wanted}))

    def provenance(self) -> dict[str, Any]:
        """The mapping as provenance: file name, its SHA-256 (first 16 hex digits), rows."""
        return {"file": self.name, "sha256": self.sha256[:16], "rows": len(self.pairs)}


def _decode(data: bytes, path: Path) -> str:
    for encoding in ("utf-8-sig", "gbk"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise InputError(f"category mapping {path.name}: the file is neither UTF-8 nor GBK text",
                     parameter="categories")


def _columns(frame: pd.DataFrame, path: Path) -> pd.DataFrame:
    names = {str(c).strip().lower(): c for c in frame.columns}
    missing = [c for c in ("raw", "canonical") if c not in names]
    if missing:
        found = ", ".join(map(str, frame.columns)) or "none"
        raise InputError(f"category mapping {path.name}: needs the columns raw and canonical "
                         f"(raw → canonical, one raw category per row); missing "
                         f"{' and '.join(missing)}; columns found: {found}",
                         parameter="categories")
    return pd.DataFrame({"raw": frame[names["raw"]].str.strip(),
                         "canonical": frame[names["canonical"]].str.strip()})


def _problems(rows: pd.DataFrame) -> list[str]:
    """Every problem of the mapping's rows, naming the row and the file's line.

    Row 1 is the first row under the header (line 2 of the file).
    """
    problems: list[str] = []
    first_row: dict[str, tuple[int, str]] = {}
    for i, (raw, canon) in enumerate(zip(rows["raw"], rows["canonical"], strict=True), 1):
        where = f"row {i} (line {i + 1})"
        if not raw or not canon:
            which = "raw" if not raw else "canonical"
            problems.append(f"{where}: {which} is empty (got raw={raw!r}, canonical={canon!r})")
            continue
        if raw in first_row and first_row[raw][1] != canon:
            j, other = first_row[raw]
            problems.append(f"{where}: raw {raw!r} is mapped to {canon!r} here and to "
                            f"{other!r} in row {j}; map each raw category once")
        first_row.setdefault(raw, (i, canon))
    for i, canon in enumerate(rows["canonical"], 1):
        target = first_row.get(canon)
        if canon and target is not None and target[1] != canon:
            problems.append(f"row {i} (line {i + 1}): canonical {canon!r} is itself mapped to "
                            f"{target[1]!r} in row {target[0]}; map each raw category straight "
                            "to its final name")
    return problems


def read_category_map(path: str | Path) -> CategoryMap:
    """Read and check a raw → canonical category mapping (CSV with ``raw`` and ``canonical``).

    Parameters
    ----------
    path
        The CSV file (UTF-8 with or without BOM, or GBK). Values are read as text: ``0101``
        keeps its leading zero. Surrounding spaces are dropped; case is kept.

    Returns
    -------
    CategoryMap

    Raises
    ------
    geo.errors.InputError
        If the file cannot be read, lacks a column, has no row, or a row is wrong: the
        message names every wrong row and what is wrong with it.
    """
    p = Path(path)
    try:
        data = p.read_bytes()
    except OSError as exc:
        raise InputError(f"category mapping {p}: cannot be read ({exc.strerror or exc})",
                         parameter="categories") from None
    text = _decode(data, p)
    try:
        frame = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise InputError(f"category mapping {p.name}: not a CSV file ({exc})",
                         parameter="categories") from None
    rows = _columns(frame, p)
    if not len(rows):
        raise InputError(f"category mapping {p.name}: has no rows under its header",
                         parameter="categories")
    problems = _problems(rows)
    if problems:
        shown = "; ".join(problems[:10]) + (f"; … {len(problems) - 10} more"
                                            if len(problems) > 10 else "")
        raise InputError(f"category mapping {p.name}: {len(problems)} problem"
                         f"{'s' if len(problems) != 1 else ''}: {shown}", parameter="categories")
    pairs = tuple(dict(zip(rows["raw"], rows["canonical"], strict=True)).items())
    return CategoryMap(pairs=pairs, name=p.name, sha256=hashlib.sha256(data).hexdigest())


def canonical_counts(raw_counts: Mapping[str, int] | pd.Series,
                     mapping: CategoryMap | None = None) -> pd.Series:
    """Return record counts per category name: raw, or summed by canonical name when mapped.

    Parameters
    ----------
    raw_counts
        Raw category -> number of records (missing categories left out by the caller).
    mapping
        The mapping, if any.

    Returns
    -------
    pandas.Series
        Name -> count (int64), most frequent first, ties by name.
    """
    counts = pd.Series(raw_counts, dtype="int64")
    if mapping is not None and len(counts):
        counts = counts.groupby(counts.index.map(mapping.canonical)).sum()
    order = sorted(counts.index, key=lambda c: (-int(counts[c]), str(c)))
    return counts.reindex(order).astype("int64")


def top_categories(counts: pd.Series, n: int = TOP_N) -> list[tuple[str, int]]:
    """The ``n`` most frequent categories of :func:`canonical_counts`, as (name, count)."""
    return [(str(k), int(v)) for k, v in counts.head(n).items()]


def unmatched(asked: Iterable[str], raw_known: Iterable[str],
              mapping: CategoryMap | None = None) -> list[str]:
    """Return the requested names that match no known raw category.

    Parameters
    ----------
    asked
        Requested names.
    raw_known
        The raw categories the data holds.
    mapping
        The mapping, if any: a name then also matches raw categories mapped to it.

    Returns
    -------
    list of str
        The names that match nothing, in the order asked.
    """
    known = set(raw_known)
    names = known | ({mapping.canonical(r) for r in known} if mapping is not None else set())
    return [a for a in dict.fromkeys(asked) if a and a not in names]


def unmatched_message(name: str, counts: pd.Series, mapping: CategoryMap | None = None) -> str:
    """Explain that a requested category matches nothing, and what the data holds.

    Parameters
    ----------
    name
        The requested name.
    counts
        :func:`canonical_counts` of the data the caller may see.
    mapping
        The mapping in use, if any.

    Returns
    -------
    str
        One line: the name, a case-insensitive look-alike if there is one, the ten most frequent
        categories with their counts, and how to map raw categories to other names.
    """
    top = top_categories(counts)
    alike = [c for c in counts.index if str(c).casefold() == name.casefold() and c != name]
    hint = f" (did you mean {alike[0]!r}? categories are matched as written)" if alike else ""
    listed = ", ".join(f"{c} ({n:,})" for c, n in top) or "none: no incident is loaded"
    how = (f"the mapping {mapping.name} maps no raw category to it" if mapping is not None
           else "to count raw categories under other names, give a mapping file "
                "(--categories map.csv with columns raw,canonical; setting "
                "cases.categories_map)")
    return (f"category {name!r} matches no incident{hint}; the {len(top)} most frequent "
            f"categories: {listed}; {how}")
