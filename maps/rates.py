"""The case-rate map: a choropleth of communities classed with mapclassify.

Classes are mapclassify's: ``quantiles`` (``mapclassify.Quantiles``) or ``natural_breaks``
(``mapclassify.NaturalBreaks``, one-dimensional k-means). ``FisherJenks``, the exact Jenks
optimisation, takes seconds for a few thousand communities without numba, so natural breaks use
the k-means classifier; its random starts draw from NumPy's global generator, which is seeded for
the call and restored after it, so the same data always gives the same classes and no global
state changes.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Literal

import folium
import geopandas as gpd
import mapclassify
import numpy as np
import pandas as pd
from branca.utilities import color_brewer
from numpy.typing import NDArray

from geo.hotspots import HotspotResult
from geo.rates import RatesResult
from maps.labels import (
    fmt_count,
    fmt_number,
    fmt_percent,
    metric_label,
    table_html,
    term,
    text,
)
from maps.options import Language, MapOptions
from maps.page import (
    GeoJsonLayer,
    Legend,
    Style,
    StyleTable,
    bounds_of,
    community_names,
    display_geometries,
    feature_collection,
    finish,
    new_map,
    require_columns,
    wgs84_frame,
)

__all__ = [
    "NO_DATA_COLOR",
    "RATE_COLUMNS",
    "SCHEMES",
    "Classification",
    "class_colors",
    "classify",
    "rates_map",
]

#: Columns of :attr:`geo.rates.RatesResult.frame` the map can colour by.
RATE_COLUMNS = (
    "case_rate_eb_per_10k_annual",
    "case_rate_per_10k_annual",
    "case_rate_per_10k",
    "cases",
)
#: Classification schemes.
SCHEMES = ("quantiles", "natural_breaks")
#: Fill of communities without a value.
NO_DATA_COLOR = "#cccccc"

Scheme = Literal["quantiles", "natural_breaks"]
_SEED = 20250101


@dataclass(frozen=True)
class Classification:
    """Classes of a value over communities.

    Attributes
    ----------
    scheme
        ``quantiles`` or ``natural_breaks``.
    k
        Classes made (fewer than asked when the values have fewer distinct values).
    lower, upper
        Bounds of each class: class ``j`` holds values in ``(upper[j-1], upper[j]]``; the first
        class starts at the smallest value (``lower[0]``).
    classes
        Class of each value, ``-1`` where the value is missing.
    counts
        Values in each class.
    """

    scheme: str
    k: int
    lower: tuple[float, ...]
    upper: tuple[float, ...]
    classes: NDArray[np.int64]
    counts: tuple[int, ...]


def classify(values: pd.Series | NDArray[np.float64], *, scheme: Scheme = "quantiles",
             k: int = 5) -> Classification:
    """Class values with mapclassify; missing values get class -1.

    Parameters
    ----------
    values
        The values (NaN or NA for missing).
    scheme
        ``quantiles`` or ``natural_breaks``.
    k
        Classes wanted, 2 to 9.

    Returns
    -------
    Classification

    Raises
    ------
    ValueError
        If ``scheme`` or ``k`` is not allowed.
    """
    if scheme not in SCHEMES:
        raise ValueError(f"scheme must be one of {SCHEMES}; got {scheme!r}")
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or not 2 <= k <= 9:
        raise ValueError(f"k must be an integer from 2 to 9; got {k!r}")
    y = pd.to_numeric(pd.Series(values), errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    present = np.isfinite(y)
    classes = np.full(len(y), -1, dtype=np.int64)
    v = y[present]
    if not len(v):
        return Classification(scheme, 0, (), (), classes, ())
    distinct = np.unique(v)
    if len(distinct) == 1:
        classes[present] = 0
        return Classification(scheme, 1, (float(v[0]),), (float(v[0]),), classes, (len(v),))
    kk = int(min(k, len(distinct)))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # mapclassify lowers k on ties and says so
        if scheme == "quantiles":
            c = mapclassify.Quantiles(v, k=kk)
        else:
            state = np.random.get_state()
            try:
                np.random.seed(_SEED)
                c = mapclassify.NaturalBreaks(v, k=kk)
            finally:
                np.random.set_state(state)
    upper = tuple(float(b) for b in c.bins)
    yb = np.asarray(c.yb, dtype=np.int64)
    classes[present] = yb
    lower = (float(v.min()), *upper[:-1])
    counts = tuple(int((yb == j).sum()) for j in range(len(upper)))
    return Classification(scheme, len(upper), lower, upper, classes, counts)


def class_colors(k: int) -> list[str]:
    """Fill colours of ``k`` rate classes, light to dark (ColorBrewer YlOrRd)."""
    return _colors(k)


def _colors(k: int) -> list[str]:
    if k <= 0:
        return []
    ramp = list(color_brewer("YlOrRd", max(k, 3)))
    if k == 1:
        return [ramp[1]]
    if k == 2:
        return [ramp[0], ramp[2]]
    return ramp


def rates_map(
    communities: gpd.GeoDataFrame,
    rates: RatesResult,
    *,
    hotspots: HotspotResult | None = None,
    column: str = "case_rate_eb_per_10k_annual",
    scheme: Scheme = "quantiles",
    k: int = 5,
    options: MapOptions | None = None,
) -> folium.Map:
    """Draw the case-rate choropleth of the communities.

    Parameters
    ----------
    communities
        Community polygons with ``code`` and ``name`` (and ``population``), any declared CRS.
    rates
        Rates of the period (:func:`geo.rates.compute_rates`).
    hotspots
        Community hot spots of the same period (:func:`geo.hotspots.community_hotspots`), to
        show each community's class in its tooltip.
    column
        The value coloured, one of :data:`RATE_COLUMNS` (default: the smoothed annual rate).
    scheme
        ``quantiles`` or ``natural_breaks``.
    k
        Classes, 2 to 9.
    options
        Map options.

    Returns
    -------
    folium.Map
        Render it with :func:`maps.offline.render_html` or :func:`maps.offline.write_map`.

    Raises
    ------
    TypeError
        If an input has the wrong type.
    ValueError
        If a column, ``scheme`` or ``k`` is not allowed, or ``hotspots`` is not by community.
    """
    options = options or MapOptions()
    lang = options.language
    comm = wgs84_frame(communities, "communities")
    require_columns(comm, ["code"], "communities")
    _check_rates_inputs(rates, column, hotspots)

    codes = comm["code"].astype(str)
    frame = rates.frame.copy()
    frame.index = frame.index.astype(str)
    joined = frame.reindex(pd.Index(codes))
    values = joined[column]
    cls = classify(values, scheme=scheme, k=k)
    colors = _colors(cls.k)

    table = StyleTable()
    base = {"color": "#666666", "weight": 0.8, "opacity": 0.9, "fillOpacity": 0.8}
    no_data_style = {**base, "fillColor": NO_DATA_COLOR}
    class_styles = [{**base, "fillColor": c} for c in colors]
    style_index = [table.add(class_styles[c] if c >= 0 else no_data_style) for c in cls.classes]

    hot = None
    if hotspots is not None:
        hot = hotspots.frame["hotspot_class"].copy()
        hot.index = hot.index.astype(str)
        hot = hot.reindex(pd.Index(codes))
    tooltips = _rate_tooltips(joined, community_names(comm), rates, hot, lang)

    geoms = display_geometries(comm.geometry, options, simplify=True)
    label = metric_label(column, lang)
    title = text("title.rates", lang)
    if rates.category is not None:
        title = f"{title} · {term('category', rates.category, lang)}"
    m = new_map(title, options, bounds_of(geoms), period_label=rates.period.label)
    GeoJsonLayer(feature_collection(geoms, style_index, tooltips=tooltips, keys=list(codes)),
                 table.styles, name=label).add_to(m)

    scheme_names = {"quantiles": ("分位数", "quantiles"),
                    "natural_breaks": ("自然断点", "natural breaks")}
    scheme_name = scheme_names[scheme][0 if lang == "zh" else 1]
    entries = _class_entries(cls, class_styles, no_data_style,
                             decimals=0 if column == "cases" else 1, lang=lang)
    legend = Legend().section(f"{label} ({scheme_name}, k={cls.k})", entries)
    return finish(m, legend)


def _check_rates_inputs(rates: RatesResult, column: str,
                        hotspots: HotspotResult | None) -> None:
    if not isinstance(rates, RatesResult):
        raise TypeError(f"rates must be a RatesResult; got {type(rates).__name__}")
    if column not in RATE_COLUMNS:
        raise ValueError(f"column must be one of {RATE_COLUMNS}; got {column!r}")
    if hotspots is not None:
        if not isinstance(hotspots, HotspotResult):
            raise TypeError(f"hotspots must be a HotspotResult; got {type(hotspots).__name__}")
        if hotspots.unit != "community":
            raise ValueError(f"hotspots must be by community; got unit {hotspots.unit!r}")


def _is_uncovered(covered: object) -> bool:
    """Whether a comparison is flagged as not wholly covered by the incident data."""
    return isinstance(covered, bool | np.bool_) and not covered


def _rate_tooltips(joined: pd.DataFrame, names: list[str], rates: RatesResult,
                   hot: pd.Series | None, lang: Language) -> list[str]:
    """One tooltip per community (rows of ``joined``, indexed by code)."""
    compare = rates.compare_period.label if rates.compare_period is not None else None
    tooltips = []
    for i, code in enumerate(joined.index):
        row = joined.iloc[i]
        items = [
            (text("field.code", lang), code),
            (text("field.population", lang), fmt_count(row.get("population"), lang)),
            (text("field.count", lang), fmt_count(row.get("cases"), lang)),
            (text("field.rate", lang), fmt_number(row.get("case_rate_per_10k"), lang)),
            (text("field.rate_annual", lang),
             fmt_number(row.get("case_rate_per_10k_annual"), lang)),
            (text("field.rate_eb", lang),
             fmt_number(row.get("case_rate_eb_per_10k_annual"), lang)),
        ]
        if compare is not None:
            change = fmt_percent(row.get("case_change_pct"), lang)
            if _is_one(row.get("case_rise_significant")):
                change += f" ({text('field.significant_rise', lang)})"
            elif _is_uncovered(row.get("compare_covered")):
                change = text("field.change_unknown", lang)
            items.append((f"{text('field.change', lang)} ({compare})", change))
        if hot is not None:
            items.append((text("field.hotspot_class", lang),
                          term("hotspot", hot.iloc[i], lang)))
        tooltips.append(table_html(items, title=names[i]))
    return tooltips


def _class_entries(cls: Classification, class_styles: list[Style], no_data_style: Style, *,
                   decimals: int, lang: Language) -> list[tuple[Style, str]]:
    """Legend entries: each class's span and count, then the communities with no value."""
    entries = []
    unit = text("legend.communities_n", lang)
    for j in range(cls.k):
        lo = fmt_number(cls.lower[j], lang, decimals=decimals)
        hi = fmt_number(cls.upper[j], lang, decimals=decimals)
        span = lo if lo == hi else f"{lo} – {hi}"
        entries.append((class_styles[j], f"{span} ({cls.counts[j]} {unit})"))
    n_missing = int((cls.classes < 0).sum())
    if n_missing or not cls.k:
        entries.append((no_data_style, f"{text('no_data', lang)} ({n_missing} {unit})"))
    return entries


def _is_one(value: object) -> bool:
    try:
        return bool(value == 1)
    except TypeError:  # pandas NA
        return False
