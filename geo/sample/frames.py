"""Canonical frames of the sample city: the columns and dtypes of :mod:`geo.layers`."""

from __future__ import annotations

from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo.layers import layer_spec

__all__ = ["COORD_DECIMALS", "WGS84", "canonical_frame", "cast_columns", "to_wgs84_frame"]

WGS84 = "EPSG:4326"
COORD_DECIMALS = 7  # 1e-7 degrees is about 1 cm: far below the 12 m vertex spacing


def canonical_frame(frame: pd.DataFrame, layer: str, geometry: Any,
                    crs: Any = WGS84) -> gpd.GeoDataFrame:
    """Cast ``frame`` to the layer's canonical columns and dtypes, plus ``geometry``.

    Parameters
    ----------
    frame
        The generated columns (missing canonical columns become nulls).
    layer
        Layer name of :mod:`geo.layers`.
    geometry
        One geometry (or None) per row.
    crs
        The geometries' CRS.

    Returns
    -------
    geopandas.GeoDataFrame
    """
    return gpd.GeoDataFrame(cast_columns(frame, layer), geometry=gpd.GeoSeries(list(geometry)),
                            crs=crs)


def cast_columns(frame: pd.DataFrame, layer: str) -> dict[str, pd.Series]:
    """Return the layer's canonical columns of ``frame``, in order, with canonical dtypes.

    Parameters
    ----------
    frame
        The generated columns.
    layer
        Layer name of :mod:`geo.layers`.

    Returns
    -------
    dict
        Column name -> series, in the layer's field order.
    """
    spec = layer_spec(layer)
    cols: dict[str, pd.Series] = {}
    for f in spec.fields:
        s = frame[f.name] if f.name in frame else pd.Series([None] * len(frame))
        if f.type in ("str", "measures"):
            cols[f.name] = pd.Series(np.asarray(s, dtype=object)).astype("string")
            continue
        s = pd.Series(s.to_numpy())
        if f.type == "float":
            cols[f.name] = s.astype("float64")
        elif f.type == "int":
            cols[f.name] = s.astype("Int64")
        elif f.type == "datetime":
            cols[f.name] = pd.Series(pd.to_datetime(s, utc=True)).astype("datetime64[ns, UTC]")
        else:
            cols[f.name] = pd.Series(pd.to_datetime(s)).astype("datetime64[ns]")
    return cols


def to_wgs84_frame(frame_m: gpd.GeoDataFrame, layer: str) -> gpd.GeoDataFrame:
    """Project a metric frame to EPSG:4326, round coordinates to 1e-7 degrees, cast.

    Parameters
    ----------
    frame_m
        A frame of the layer in a metric CRS.
    layer
        Layer name of :mod:`geo.layers`.

    Returns
    -------
    geopandas.GeoDataFrame
        The canonical frame in EPSG:4326.
    """
    geoms = np.asarray(frame_m.to_crs(WGS84).geometry.array, dtype=object)
    present = ~shapely.is_missing(geoms)
    rounded = geoms.copy()
    rounded[present] = shapely.set_precision(geoms[present], 10.0 ** -COORD_DECIMALS)
    return canonical_frame(pd.DataFrame(frame_m.drop(columns="geometry")), layer, rounded)

