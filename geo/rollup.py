"""Roll community metrics up to subdistricts, districts and the city.

Counts are summed; every ratio is recomputed from its summed numerator and denominator (never a
mean of the communities' ratios), so a district's camera working ratio is its working cameras
over its cameras, and its covered share of population is its covered residents over its
residents. Written here because the rule is the same for every producer and small enough that a
library would add nothing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = ["LEVEL_KEYS", "Ratio", "roll_up_metrics"]

#: Column of the communities layer that names the unit at each level.
LEVEL_KEYS: dict[str, tuple[str, str]] = {
    "subdistrict": ("subdistrict_code", "subdistrict"),
    "district": ("district_code", "district"),
}


@dataclass(frozen=True)
class Ratio:
    """How to recompute one ratio column from summed parts.

    Attributes
    ----------
    numerator
        Column summed for the numerator (or a product ``a*b`` of two columns, summed).
    denominator
        Column summed for the denominator.
    scale
        Factor applied to the ratio (1,000 for "per 1,000 residents").
    """

    numerator: str
    denominator: str
    scale: float = 1.0


def _summed(frame: pd.DataFrame, spec: str) -> pd.Series:
    if "*" in spec:
        a, b = spec.split("*", 1)
        return frame[a].astype("float64") * frame[b].astype("float64")
    return frame[spec].astype("float64")


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
        The communities layer with ``code`` and the level's code/name columns.
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
        Indexed by unit code (``city`` for the city), with ``name``, ``communities`` and the
        columns.

    Raises
    ------
    ValueError
        If ``level`` is unknown or a column is missing.
    """
    if level not in (*LEVEL_KEYS, "city"):
        raise ValueError(f"level must be subdistrict, district or city; got {level!r}")
    needed = set(sums) | {p for r in ratios.values() for s in (r.numerator, r.denominator)
                          for p in s.split("*")}
    missing = sorted(needed - set(frame.columns))
    if missing:
        raise ValueError(f"frame lacks columns {missing}")
    codes = communities.set_index("code")
    if level == "city":
        unit = pd.Series("city", index=frame.index)
        names = pd.Series({"city": "全市 (city)"})
    else:
        key, name = LEVEL_KEYS[level]
        unit = codes[key].reindex(frame.index).fillna("unknown").astype(str)
        names = (codes.dropna(subset=[key]).groupby(key)[name].first()
                 if name in codes.columns else pd.Series(dtype="string"))
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
