"""Write density surfaces as Cloud-Optimized GeoTIFFs (rasterio, GDAL's COG driver).

A Cloud-Optimized GeoTIFF is an ordinary GeoTIFF whose pixels are stored in tiles, with
reduced-resolution overviews, and whose header comes first, so a GIS (QGIS, ArcGIS) or a tile
server reads any window of it without reading the whole file. GDAL's ``COG`` driver writes
that layout from an in-memory GeoTIFF: tiles of :data:`BLOCK_SIZE` pixels, LZW compression,
overviews averaged from the full resolution down to one tile (at least one level).

Each file holds two float64 bands in the grid's metric CRS, rows from north to south, with NaN
as no-data (cells outside the communities and masked cells): band 1 the density in incidents
per km², band 2 the expected incidents per cell. The provenance is stored as GeoTIFF metadata
(``gdalinfo`` shows it; rasterio's ``tags()`` reads it).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

import numpy as np
from rasterio.crs import CRS
from rasterio.io import MemoryFile
from rasterio.shutil import copy as copy_raster
from rasterio.transform import Affine

from geo.density import DensityResult

__all__ = ["BLOCK_SIZE", "BANDS", "density_cog"]

#: Tile size in pixels.
BLOCK_SIZE = 256
#: The bands, in order: name and unit.
BANDS = (("density_per_km2", "incidents per km2"), ("expected", "incidents per cell"))


def _overview_levels(width: int, height: int) -> int:
    """Halvings until the raster fits one tile (at least one)."""
    largest = max(width, height)
    return max(1, math.ceil(math.log2(largest / BLOCK_SIZE))) if largest > BLOCK_SIZE else 1


def density_cog(result: DensityResult, *, provenance: Mapping[str, Any]) -> bytes:
    """Encode a density surface as a Cloud-Optimized GeoTIFF.

    Parameters
    ----------
    result
        The surface (:func:`geo.density.kernel_density`), as released to the caller.
    provenance
        Written as metadata (one tag per member; nested members as JSON).

    Returns
    -------
    bytes
        The file.
    """
    a, b, c, d, e, f = result.transform
    profile = {"driver": "GTiff", "width": result.width, "height": result.height, "count": 2,
               "dtype": "float64", "crs": CRS.from_wkt(result.crs.to_wkt()),
               "transform": Affine(a, b, c, d, e, f), "nodata": float("nan")}
    tags = {str(k): v if isinstance(v, str) else json.dumps(v, ensure_ascii=False, default=str)
            for k, v in provenance.items()}
    with MemoryFile() as staging:
        with staging.open(**profile) as ds:
            ds.write(np.asarray(result.density_per_km2, dtype=np.float64), 1)
            ds.write(np.asarray(result.expected_per_cell, dtype=np.float64), 2)
            for i, (name, unit) in enumerate(BANDS, start=1):
                ds.set_band_description(i, name)
                ds.update_tags(i, unit=unit)
            ds.update_tags(**tags)
        with MemoryFile() as out, staging.open() as src:
            copy_raster(src, out.name, driver="COG", BLOCKSIZE=BLOCK_SIZE, COMPRESS="LZW",
                        RESAMPLING="AVERAGE",
                        OVERVIEW_COUNT=_overview_levels(result.width, result.height))
            return bytes(out.read())
