"""Write the synthetic sample city (:mod:`geo.sample`) as files: ``pingan sample``, the demo.

:mod:`geo.sample.manifest` decides what goes into each file; this module writes the bytes:
hand-formatted GeoJSON (byte-stable), CSVs with Unix line ends, GeoParquet, a zipped GBK
Shapefile with fixed header dates and no ``.cpg`` (so readers need ``--encoding``), and a
GeoPackage written with GDAL's "current date" pinned. The same city always gives byte-identical
files.
"""

from __future__ import annotations

import json
import tempfile
import zipfile
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyogrio

from geo.sample import SampleCity
from geo.sample.manifest import (
    COMMUNITIES_FILE,
    COMPOUND_POINTS_FILE,
    COMPOUND_POINTS_LAYER,
    COMPOUNDS_FILE,
    DEVICES_FILE,
    FACILITIES_FILE,
    FIXED_FILE_DATE,
    INCIDENTS_FILE,
    MANIFEST_FILE,
    POPULATION_FILE,
    ROADS_FILE,
    community_features,
    compound_points,
    compound_polygons,
    facility_table,
    incident_table,
    population_table,
    sample_manifest,
)

__all__ = ["write_sample"]


def write_sample(city: SampleCity, out_dir: str | Path) -> Path:
    """Write the sample city as files in the formats pingan reads, with a manifest.

    Files (in ``out_dir``): ``communities.geojson`` (Chinese field names), ``population.csv``,
    ``facilities_gcj02.csv`` (GCJ-02 coordinates, Chinese headers and type names),
    ``devices.parquet`` (GeoParquet), ``compounds.zip`` (zipped Shapefile of the compound
    polygons, GBK without ``.cpg``, one 是/否 column per measure), ``compounds_points.gpkg``
    (layer ``compounds``: the compounds given as points), ``incidents.csv`` (naive local times)
    and the manifest ``sample.json`` listing them in load order with the CRS, encoding, layer and
    field mapping each needs. The same city always gives byte-identical files.

    Parameters
    ----------
    city
        A city from :func:`geo.sample.generate_city`.
    out_dir
        Directory to write into (created if missing; existing files of these names are
        replaced).

    Returns
    -------
    pathlib.Path
        Path of the manifest ``sample.json``.

    Raises
    ------
    TypeError
        If ``city`` is not a :class:`~geo.sample.SampleCity`.
    """
    if not isinstance(city, SampleCity):
        raise TypeError(f"city must be a SampleCity from generate_city(); "
                        f"got {type(city).__name__}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    _write_communities(city, out / COMMUNITIES_FILE)
    _write_csv(population_table(city.population), out / POPULATION_FILE)
    _write_csv(facility_table(city.facilities), out / FACILITIES_FILE)
    city.devices.to_parquet(out / DEVICES_FILE, index=False)
    _write_compound_polygons(city, out / COMPOUNDS_FILE)
    points = compound_points(city.compounds)
    gpkg = out / COMPOUND_POINTS_FILE
    gpkg.unlink(missing_ok=True)
    if len(points):
        _write_geopackage(points, gpkg)
    _write_csv(incident_table(city.incidents), out / INCIDENTS_FILE)
    roads = out / ROADS_FILE
    roads.unlink(missing_ok=True)
    city.roads.to_file(roads, driver="GeoJSON", engine="pyogrio", COORDINATE_PRECISION=7)
    manifest = sample_manifest(city.seed, with_compound_points=bool(len(points)),
                               outbreaks=city.outbreaks, outbreak_rule=city.outbreak_rule)
    path = out / MANIFEST_FILE
    path.write_text(json.dumps(manifest, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return path


def _write_csv(frame: pd.DataFrame, path: Path) -> None:
    frame.to_csv(path, index=False, encoding="utf-8", lineterminator="\n")


def _write_communities(city: SampleCity, path: Path) -> None:
    """GeoJSON with one feature per line, written by hand for byte-stable formatting."""
    features = [json.dumps(f, ensure_ascii=False, separators=(",", ":"))
                for f in community_features(city.communities)]
    text = ('{"type":"FeatureCollection","name":"communities",'
            '"synthetic":true,"features":[\n' + ",\n".join(features) + "\n]}\n")
    path.write_text(text, encoding="utf-8")


def _write_compound_polygons(city: SampleCity, zip_path: Path) -> None:
    """The compound polygons as a zipped GBK Shapefile without ``.cpg``."""
    shp = compound_polygons(city.compounds)
    with tempfile.TemporaryDirectory() as tmp:
        shp_path = Path(tmp) / "compounds.shp"
        pyogrio.write_dataframe(shp, shp_path, driver="ESRI Shapefile", encoding="GBK",
                                layer_options={"DBF_DATE_LAST_UPDATE": FIXED_FILE_DATE})
        with zipfile.ZipFile(zip_path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            for ext in (".shp", ".shx", ".dbf", ".prj"):  # no .cpg: readers need --encoding
                data = shp_path.with_suffix(ext).read_bytes()
                if ext == ".dbf":
                    data = _dbf_without_codepage(data)
                info = zipfile.ZipInfo(f"compounds{ext}", date_time=(2025, 12, 31, 0, 0, 0))
                info.compress_type = zipfile.ZIP_DEFLATED
                zf.writestr(info, data)


def _write_geopackage(points: gpd.GeoDataFrame, path: Path) -> None:
    """A GeoPackage layer whose header dates are pinned, so the bytes do not change by day."""
    previous = pyogrio.get_gdal_config_option("OGR_CURRENT_DATE")
    pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": f"{FIXED_FILE_DATE}T00:00:00Z"})
    try:
        points.to_file(path, layer=COMPOUND_POINTS_LAYER, driver="GPKG", engine="pyogrio")
    finally:
        pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": previous})


def _dbf_without_codepage(data: bytes) -> bytes:
    """Clear the DBF language-driver byte, so only ``--encoding`` tells readers it is GBK."""
    return data[:29] + b"\x00" + data[30:]
