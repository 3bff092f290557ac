"""Write density surfaces as Cloud-Optimized GeoTIFFs (rasterio, GDAL's COG driver).

A Cloud-Optimized GeoTIFF is an ordinary GeoTIFF whose pixels are stored in tiles, with
reduced-resolution overviews, and whose header comes first, so a GIS (QGIS, ArcGIS) or a tile
server reads any window of it without reading the whole file. GDAL's ``COG`` driver writes
that layout: tiles of :data:`BLOCK_SIZE` pixels, LZW compression, overviews averaged from the
full resolution down to one tile (at least one level).

Each file holds two float64 bands in the grid's metric CRS, rows from north to south, with NaN
as no-data (cells outside the communities and masked cells): band 1 the density in incidents
per km², band 2 the expected incidents per cell. The provenance is stored as GeoTIFF metadata
(``gdalinfo`` shows it; rasterio's ``tags()`` reads it).

Why a child process: rasterio's wheels carry their own GDAL and PROJ, while SQLite loads
SpatiaLite (and with it the system's PROJ) with ``RTLD_GLOBAL``; once both are in one process,
rasterio's GDAL binds to the other PROJ and crashes. So the process that holds a SpatiaLite
connection never imports rasterio: :func:`density_cog` and :func:`describe_cog` hand the arrays
to ``python -m api.raster`` through a temporary folder, and only that child imports rasterio.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from geo.density import DensityResult

__all__ = ["BANDS", "BLOCK_SIZE", "CogInfo", "density_cog", "describe_cog"]

#: Tile size in pixels.
BLOCK_SIZE = 256
#: The bands, in order: name and unit.
BANDS = (("density_per_km2", "incidents per km2"), ("expected", "incidents per cell"))
# Seconds the child may take.
_TIMEOUT_S = 300


@dataclass(frozen=True)
class CogInfo:
    """What GDAL reads back from a GeoTIFF (for tests and checks).

    Attributes
    ----------
    profile
        Driver, size, data type, CRS (WKT), transform, no-data, tiling and compression.
    overviews
        The overview factors of band 1.
    layout
        GDAL's ``IMAGE_STRUCTURE`` metadata (``LAYOUT`` is ``COG`` for a cloud-optimized file).
    tags
        The dataset's metadata (the provenance).
    band_names
        Each band's description.
    epsg
        The CRS's EPSG code, or None.
    bands
        The pixel arrays, one per band.
    """

    profile: dict[str, Any]
    overviews: list[int]
    layout: dict[str, str]
    tags: dict[str, str]
    band_names: list[str]
    epsg: int | None
    bands: list[np.ndarray]


def _overview_levels(width: int, height: int) -> int:
    """Halvings until the raster fits one tile (at least one)."""
    largest = max(width, height)
    return max(1, math.ceil(math.log2(largest / BLOCK_SIZE))) if largest > BLOCK_SIZE else 1


def _child(*args: str) -> None:
    root = str(Path(__file__).resolve().parent.parent)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        p for p in (root, os.environ.get("PYTHONPATH")) if p)}
    done = subprocess.run([sys.executable, "-m", "api.raster", *args], env=env,
                          capture_output=True, text=True, timeout=_TIMEOUT_S, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"the GeoTIFF writer failed ({done.returncode}): "
                           f"{done.stderr.strip()[-2000:]}")


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

    Raises
    ------
    RuntimeError
        If the writer fails.
    """
    tags = {str(k): v if isinstance(v, str) else json.dumps(v, ensure_ascii=False, default=str)
            for k, v in provenance.items()}
    meta = {"crs_wkt": result.crs.to_wkt(), "transform": list(result.transform), "tags": tags,
            "overviews": _overview_levels(result.width, result.height)}
    with tempfile.TemporaryDirectory(prefix="pingan-cog-") as tmp:
        folder = Path(tmp)
        np.save(folder / "density.npy", np.asarray(result.density_per_km2, dtype=np.float64))
        np.save(folder / "expected.npy", np.asarray(result.expected_per_cell, dtype=np.float64))
        (folder / "meta.json").write_text(json.dumps(meta, ensure_ascii=False), "utf-8")
        _child("write", tmp)
        return (folder / "out.tif").read_bytes()


def describe_cog(data: bytes) -> CogInfo:
    """Read a GeoTIFF back with GDAL (in a child process, as :func:`density_cog` writes).

    Parameters
    ----------
    data
        The file's bytes.

    Returns
    -------
    CogInfo

    Raises
    ------
    RuntimeError
        If GDAL cannot read it.
    """
    with tempfile.TemporaryDirectory(prefix="pingan-cog-") as tmp:
        folder = Path(tmp)
        (folder / "in.tif").write_bytes(data)
        _child("read", tmp)
        info = json.loads((folder / "info.json").read_text("utf-8"))
        bands = [np.load(folder / f"band{i}.npy") for i in range(1, info["count"] + 1)]
    return CogInfo(profile=info["profile"], overviews=info["overviews"],
                   layout=info["layout"], tags=info["tags"], band_names=info["band_names"],
                   epsg=info["epsg"], bands=bands)


# --- the child: the only code that imports rasterio ---------------------------------------------


def _write(folder: Path) -> None:
    from rasterio.crs import CRS
    from rasterio.io import MemoryFile
    from rasterio.shutil import copy as copy_raster
    from rasterio.transform import Affine

    meta = json.loads((folder / "meta.json").read_text("utf-8"))
    density = np.load(folder / "density.npy")
    expected = np.load(folder / "expected.npy")
    height, width = density.shape
    profile = {"driver": "GTiff", "width": width, "height": height, "count": 2,
               "dtype": "float64", "crs": CRS.from_wkt(meta["crs_wkt"]),
               "transform": Affine(*meta["transform"]), "nodata": float("nan")}
    with MemoryFile() as staging:
        with staging.open(**profile) as ds:
            ds.write(density, 1)
            ds.write(expected, 2)
            for i, (name, unit) in enumerate(BANDS, start=1):
                ds.set_band_description(i, name)
                ds.update_tags(i, unit=unit)
            ds.update_tags(**meta["tags"])
        with staging.open() as src:
            copy_raster(src, str(folder / "out.tif"), driver="COG", BLOCKSIZE=BLOCK_SIZE,
                        COMPRESS="LZW", RESAMPLING="AVERAGE", OVERVIEW_COUNT=meta["overviews"])


def _read(folder: Path) -> None:
    import rasterio

    with rasterio.open(folder / "in.tif") as ds:
        profile = {k: (v.to_wkt() if k == "crs" and v is not None else
                       list(v)[:6] if k == "transform" else v)
                   for k, v in ds.profile.items()}
        nodata = profile.get("nodata")
        if isinstance(nodata, float) and math.isnan(nodata):
            profile["nodata"] = "nan"
        info = {"profile": profile, "overviews": ds.overviews(1), "count": ds.count,
                "layout": ds.tags(ns="IMAGE_STRUCTURE"), "tags": ds.tags(),
                "band_names": list(ds.descriptions),
                "epsg": ds.crs.to_epsg() if ds.crs is not None else None}
        for i in range(1, ds.count + 1):
            np.save(folder / f"band{i}.npy", ds.read(i))
    (folder / "info.json").write_text(json.dumps(info, default=str), "utf-8")


if __name__ == "__main__":
    {"write": _write, "read": _read}[sys.argv[1]](Path(sys.argv[2]))
