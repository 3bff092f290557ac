"""The categories a request counts: as written, or through the configured mapping.

Every service that filters incidents by category resolves the request here
(:func:`resolve_categories`): a protected caller's category groups are expanded
(:meth:`api.release.Visibility.check_categories`), then the names go through the category
mapping of the settings (``cases.categories_map``; the command line's ``--categories``), and
a name that matches no category the caller's data holds is reported with the ten most frequent
categories (:func:`geo.categories.unmatched_message`) instead of silently counting nothing.
Resolving raw names again gives the same names, so a service may pass what it resolved on to
another service.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from api import store
from api.release import Visibility
from api.services import ServiceContext
from geo.categories import (
    CategoryMap,
    canonical_counts,
    read_category_map,
    unmatched,
    unmatched_message,
)

__all__ = ["CategorySelection", "category_map", "known_categories", "resolve_categories"]


@dataclass(frozen=True)
class CategorySelection:
    """The categories of one request.

    Attributes
    ----------
    asked
        The names asked for (stripped, sorted; group names for a protected caller).
    raw
        The stored categories to match (empty: every category).
    mapping
        The mapping used, if any.
    warnings
        One line per asked name that matches nothing (exact callers only).
    """

    asked: tuple[str, ...]
    raw: tuple[str, ...]
    mapping: CategoryMap | None = None
    warnings: tuple[str, ...] = field(default=())

    def provenance(self) -> dict[str, Any]:
        """Provenance members: ``category_map`` when a mapping was used, ``warnings``."""
        out: dict[str, Any] = {}
        if self.mapping is not None:
            out["category_map"] = self.mapping.provenance()
        if self.warnings:
            out["warnings"] = list(self.warnings)
        return out


def category_map(ctx: ServiceContext) -> CategoryMap | None:
    """The configured category mapping (``cases.categories_map``), read once per file version.

    Raises
    ------
    geo.errors.InputError
        If the file cannot be read or a row is wrong (the message names the row).
    """
    path = ctx.settings.cases.categories_map
    if path is None:
        return None
    p = Path(path)
    try:
        stat = p.stat()
        version: tuple[Any, ...] = (str(p.resolve()), stat.st_mtime_ns, stat.st_size)
    except OSError:
        version = (str(p),)
    return ctx.cached("category_map", version, lambda: read_category_map(p), version=0)


def known_categories(ctx: ServiceContext, vis: Visibility) -> pd.Series:
    """Records per stored category inside the caller's world (every period, cached)."""
    def load() -> pd.Series:
        query = store.IncidentQuery(communities=vis.community_filter())
        with ctx.engine.connect() as conn:
            return store.category_counts(conn, query)
    return ctx.cached("known_categories", (), load, vis=vis)


def resolve_categories(ctx: ServiceContext, vis: Visibility, categories: Sequence[str], *,
                       parameter: str = "category") -> CategorySelection:
    """Resolve requested categories for a caller.

    Parameters
    ----------
    ctx
        Service context (its settings name the mapping).
    vis
        The caller.
    categories
        Requested names (a protected caller names configured category groups).
    parameter
        Name to blame in errors.

    Returns
    -------
    CategorySelection

    Raises
    ------
    geo.errors.ParameterError
        For a protected caller naming anything but one configured group.
    geo.errors.InputError
        If the configured mapping file is wrong.
    """
    asked = vis.check_categories(categories, parameter=parameter)
    mapping = category_map(ctx)
    raw = mapping.expand(asked) if mapping is not None else asked
    warnings: tuple[str, ...] = ()
    if asked and not vis.protected:
        # A protected caller's groups are checked against the configuration; the counts of
        # other categories are not theirs to see.
        known = known_categories(ctx, vis)
        missing = unmatched(asked, known.index, mapping)
        if missing:
            counts = canonical_counts(known, mapping)
            warnings = tuple(unmatched_message(m, counts, mapping) for m in missing)
    label = tuple(sorted({c.strip() for c in categories if c and c.strip()}))
    return CategorySelection(asked=label, raw=raw, mapping=mapping, warnings=warnings)
