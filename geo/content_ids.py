"""Ids drawn from a record's content, for incident exports that carry no id column.

Many portal exports have no incident number. pingan still needs one: re-loading a record must
update it, never duplicate it, and the release rules draw each incident's record key from its
id. :func:`content_ids` hashes the values of the columns that say what happened where and
when, as the file holds them, before times, coordinates or categories are converted (so the id
does not depend on ``--timezone``, ``--crs`` or a category mapping): a CSV cell's text; in
typed formats (GeoJSON, GeoPackage, Shapefile, Parquet) the value read, written out as text
(a date-time as ``2025-01-01 08:00:00``). It numbers identical rows in file order, so that the
same export loaded again gets the same ids. Which columns are hashed is the reader's choice
(:func:`geo.readers.read_layer`).

The form of an id is ``h:`` + the first 20 hex digits of the SHA-256 of the texts + ``-`` + the
row's occurrence number among identical rows (``h:3f0c…e1-1``, ``h:3f0c…e1-2``). Consequences:

- an edited record (any of the hashed values changed) gets a new id: the old one stays stored;
- re-ordering identical rows is harmless: they are indistinguishable, so which of them gets
  ``-1`` does not matter;
- deleting one of several identical rows from a later export leaves the last number stored.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np
import pandas as pd

from geo.errors import InputError

__all__ = ["CONTENT_ID_PREFIX", "content_ids"]

#: Prefix of every id drawn from content (no file id starts with it by chance in practice).
CONTENT_ID_PREFIX = "h:"

#: Hex digits of SHA-256 kept: 80 bits, so that a collision among a city's few million records
#: has a chance below one in 10**11.
_HEX_DIGITS = 20

#: Separates the values of a row in the hashed text; a control character no CSV value holds.
_SEP = "\x1f"


def content_ids(parts: Sequence[pd.Series]) -> pd.Series:
    """Return an id per row drawn from the rows' raw values and their occurrence number.

    Parameters
    ----------
    parts
        The raw columns to hash, in a fixed order, all with the same index (the file's rows in
        file order). Values are hashed as their text (``str``); missing values as the empty
        text.

    Returns
    -------
    pandas.Series
        String dtype, with the index of the parts: ``h:<20 hex digits>-<n>``, ``n`` counting
        identical rows (same values in every part) from 1 in file order.

    Raises
    ------
    geo.errors.InputError
        If no part is given or the parts' indexes differ.
    """
    if not parts:
        raise InputError("content_ids needs at least one column to hash")
    index = parts[0].index
    if any(not p.index.equals(index) for p in parts[1:]):
        raise InputError("content_ids: every column must have the same index")
    texts = [np.where(pd.isna(p).to_numpy(), "", p.astype(str).to_numpy()) for p in parts]
    digests = [
        hashlib.sha256(_SEP.join(row).encode("utf-8")).hexdigest()[:_HEX_DIGITS]
        for row in zip(*texts, strict=True)
    ]
    keys = pd.Series(digests, index=index, dtype=object)
    occurrence = keys.groupby(keys, sort=False).cumcount() + 1
    return (CONTENT_ID_PREFIX + keys + "-" + occurrence.astype(str)).astype("string")
