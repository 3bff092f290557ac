"""Tests of the sample city's files (api/sample_files.py): formats, bytes, reading back."""

from __future__ import annotations

import json
import re
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pyogrio
import pytest
import shapely

from api.sample_files import write_sample
from geo.china import gcj02_to_wgs84
from geo.layers import LAYERS
from geo.readers import read_layer
from geo.sample import SampleCity

REPO = Path(__file__).resolve().parents[2]
COMMITTED = REPO / "data" / "boundaries" / "communities.geojson"


@pytest.fixture(scope="module")
def city(sample_city: SampleCity) -> SampleCity:
    return sample_city


@pytest.fixture(scope="module")
def written(sample_manifest: Path) -> Path:
    return sample_manifest


@pytest.mark.slow
def test_committed_boundaries_equal_a_fresh_generation(written: Path) -> None:
    fresh = (written.parent / "communities.geojson").read_bytes()
    assert COMMITTED.read_bytes() == fresh


def test_written_files_are_byte_identical_for_the_same_city(
        city: SampleCity, written: Path, tmp_path: Path) -> None:
    again = write_sample(city, tmp_path)
    names = sorted(p.name for p in written.parent.iterdir())
    assert names == sorted(p.name for p in again.parent.iterdir())
    for name in names:
        assert (written.parent / name).read_bytes() == (tmp_path / name).read_bytes(), name


# --- files -------------------------------------------------------------------------------------


def test_manifest_lists_the_files_in_load_order(written: Path) -> None:
    manifest = json.loads(written.read_text(encoding="utf-8"))
    assert manifest["synthetic"] is True and manifest["seed"] == 20250101
    layers = [e["layer"] for e in manifest["layers"]]
    assert layers[0] == "communities" and layers[-1] == "incidents"
    assert set(layers) == {name for name, spec in LAYERS.items() if spec.stored}
    for entry in manifest["layers"]:
        assert (written.parent / entry["file"]).is_file()
        assert set(entry) >= {"layer", "file", "crs", "encoding", "gpkg_layer", "fields"}
    by_file = {e["file"]: e for e in manifest["layers"]}
    assert by_file["communities.geojson"]["fields"]["code"] == "社区代码"
    assert by_file["facilities_gcj02.csv"]["crs"] == "gcj02"
    assert by_file["compounds.zip"]["encoding"] == "gbk"
    assert by_file["compounds_points.gpkg"]["gpkg_layer"] == "compounds"


def test_compound_shapefile_is_gbk_without_cpg(written: Path) -> None:
    path = written.parent / "compounds.zip"
    with zipfile.ZipFile(path) as zf:
        names = sorted(zf.namelist())
        dbf = zf.read("compounds.dbf")
    assert names == ["compounds.dbf", "compounds.prj", "compounds.shp", "compounds.shx"]
    assert dbf[29] == 0  # no code page mark either: only --encoding tells
    assert "编号".encode("gbk") in dbf and "编号".encode() not in dbf
    frame = pyogrio.read_dataframe(path, encoding="gbk")
    assert {"编号", "名称", "fence", "cctv_entr", "anti_theft"} <= set(frame.columns)
    assert set(frame["fence"]) <= {"是", "否"}
    assert all(len(c.encode("gbk")) <= 10 for c in frame.columns if c != "geometry")


def test_csv_formats(written: Path) -> None:
    folder = written.parent
    head = (folder / "incidents.csv").read_text(encoding="utf-8").splitlines()[:2]
    assert head[0] == ("id,occurred_at,category,status,address,location_precision,"
                       "community_code,lon,lat")
    assert re.match(r"A2024000001,2024-01-01 \d\d:\d\d:\d\d,", head[1])
    fac = (folder / "facilities_gcj02.csv").read_text(encoding="utf-8").splitlines()[0]
    assert fac == "编号,类型,名称,启用日期,关闭日期,经度,纬度"
    geojson = json.loads((folder / "communities.geojson").read_text(encoding="utf-8"))
    assert set(geojson["features"][0]["properties"]) == {
        "社区代码", "社区名称", "街道代码", "街道", "区代码", "区", "常住人口", "户数"}


def test_facility_coordinates_are_gcj02(city: SampleCity, written: Path) -> None:
    table = pd.read_csv(written.parent / "facilities_gcj02.csv", dtype={"编号": str})
    lon, lat = gcj02_to_wgs84(table["经度"].to_numpy(), table["纬度"].to_numpy())
    x, y = city.facilities.geometry.x.to_numpy(), city.facilities.geometry.y.to_numpy()
    shift = np.hypot(table["经度"] - x, table["纬度"] - y)
    assert shift.min() > 1e-4  # GCJ-02 moves Beijing by hundreds of metres
    assert np.abs(lon - x).max() < 1e-6 and np.abs(lat - y).max() < 1e-6


@pytest.mark.slow  # over 2 s: outside the fast subset (-m "not slow")
def test_files_read_back_through_the_readers(city: SampleCity, written: Path) -> None:
    manifest = json.loads(written.read_text(encoding="utf-8"))
    frames: dict[str, list[pd.DataFrame]] = {}
    for e in manifest["layers"]:
        result = read_layer(written.parent / e["file"], e["layer"], crs=e["crs"],
                            encoding=e["encoding"], fields=e["fields"],
                            gpkg_layer=e["gpkg_layer"],
                            timezone=e["timezone"] or "Asia/Shanghai", strict=True)
        assert not result.warnings, e["file"]
        frames.setdefault(e["layer"], []).append(result.frame)
    comp = pd.concat(frames["compounds"]).set_index("id").loc[city.compounds["id"]]
    assert (comp["measures"].to_numpy() == city.compounds["measures"].to_numpy()).all()
    assert (comp["name"].to_numpy() == city.compounds["name"].to_numpy()).all()
    inc = frames["incidents"][0]
    assert (inc["occurred_at"].to_numpy() == city.incidents["occurred_at"].to_numpy()).all()
    assert (inc["id"].to_numpy() == city.incidents["id"].to_numpy()).all()
    fac = frames["facilities"][0]
    assert (fac["type"].to_numpy() == city.facilities["type"].to_numpy()).all()
    comm = frames["communities"][0]
    assert (comm["code"].to_numpy() == city.communities["code"].to_numpy()).all()
    assert shapely.equals(np.asarray(comm.geometry.array),
                          np.asarray(city.communities.geometry.array)).all()
    dev = frames["devices"][0]
    pd.testing.assert_frame_equal(pd.DataFrame(dev.drop(columns="geometry")),
                                  pd.DataFrame(city.devices.drop(columns="geometry")))
    pop = frames["population"][0]
    assert (pop["population"].to_numpy() == city.population["population"].to_numpy()).all()


def test_write_sample_rejects_other_objects(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="city must be a SampleCity"):
        write_sample({"communities": None}, tmp_path)  # type: ignore[arg-type]
