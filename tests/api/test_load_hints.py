"""Loading hints end to end: the files users sent, loaded with `pingan load` and over HTTP.

The fixtures are in ``tests/data/loading`` (written by ``make_fixtures.py`` there): a GBK
shapefile without ``.cpg``, incidents with longitude and latitude swapped (in China and in a
city-portal export), GCJ-02 points loaded as WGS84 (and WGS84 points declared GCJ-02), and an
incident dated 2052.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from api.cli import main

DATA = Path(__file__).parents[1] / "data" / "loading"
GRID = DATA / "beijing_grid_communities.geojson"

GBK_HINT = ("文字疑似乱码 (text looks mis-decoded): gbk_communities_no_cpg.zip was read as "
            "ISO-8859-1 because no .cpg file names its encoding; read as GBK, its column names "
            "are 社区代码, 社区名称, 街道, 常住人口 (read now as ÉçÇø´úÂë, ÉçÇøÃû³Æ, ½ÖµÀ, "
            "³£×¡ÈË¿Ú): pass --encoding gbk (or gb18030)")
SWAP_CHINA_HINT = (
    "经纬度疑似颠倒 (longitude and latitude look swapped): 300 of 300 (100.0%) located rows are "
    "out of range or in no community; read with longitude and latitude swapped, 300 of those "
    "300 (100.0%) fall inside communities: pass --field lon=纬度 --field lat=经度")
SWAP_PORTAL_HINT = (
    "经纬度疑似颠倒 (longitude and latitude look swapped): 400 of 400 (100.0%) located rows are "
    "out of range or in no community; read with longitude and latitude swapped, 400 of those "
    "400 (100.0%) fall inside communities: pass --field lon=Latitude --field lat=Longitude")
GCJ_HINT = (
    "坐标系疑误 (coordinate system looks wrong): 279 of 2,000 (14.0%) loaded points are in no "
    "community; read as GCJ-02 (火星坐标) instead of EPSG:4326, 279 of those 279 (100.0%) fall "
    "inside communities: pass --crs gcj02")
WGS84_HINT = (
    "坐标系疑误 (coordinate system looks wrong): 72 of 500 (14.4%) loaded points are in no "
    "community; read as WGS84 instead of gcj02, 72 of those 72 (100.0%) fall inside "
    "communities: pass --crs EPSG:4326 instead of --crs gcj02")
PORTAL_FIELDS = ["--field", "id=ID", "--field", "occurred_at=Date",
                 "--field", "category=Primary Type"]


@pytest.fixture
def pingan(tmp_path, monkeypatch, capsys):
    """Run `pingan -d <a fresh SpatiaLite file> ...`; return (exit code, stdout, stderr)."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("PINGAN_DATABASE_URL", raising=False)
    db = str(tmp_path / "city.db")

    def run(*args: str) -> tuple[int, str, str]:
        code = main(["-d", db, *args])
        out, err = capsys.readouterr()
        return code, out, err

    return run


def warnings_of(err: str) -> list[str]:
    return [line.removeprefix("warning: ") for line in err.splitlines()
            if line.startswith("warning: ")]


def test_a_gbk_shapefile_without_cpg_asks_for_its_encoding(pingan):
    code, _, err = pingan("load", "communities", str(DATA / "gbk_communities_no_cpg.zip"))
    assert code == 1
    assert "columns: ÉçÇø´úÂë, ÉçÇøÃû³Æ, ½ÖµÀ, ³£×¡ÈË¿Ú. Map one with --field code=COLUMN" in err
    assert warnings_of(err) == [GBK_HINT]
    code, _, err = pingan("load", "communities", str(DATA / "gbk_communities_no_cpg.zip"),
                          "--field", "code=社区代码")
    assert code == 1
    assert "the file has no column '社区代码'" in err and warnings_of(err) == [GBK_HINT]
    code, out, err = pingan("load", "communities", str(DATA / "gbk_communities_no_cpg.zip"),
                            "--encoding", "gbk")
    assert code == 0 and "communities: 3 read, 3 loaded" in out
    assert warnings_of(err) == []


@pytest.mark.slow  # over 2 s on a busy 2-core machine
def test_swapped_columns_in_china_reject_every_row_and_say_why(pingan):
    assert pingan("load", "communities", str(GRID))[0] == 0
    code, _, err = pingan("load", "incidents", str(DATA / "swapped_incidents.csv"))
    assert code == 1
    assert "no valid rows (300 rejected)" in err
    assert warnings_of(err) == [
        "swapped_incidents.csv declares no CRS, so EPSG:4326 (longitude/latitude) is assumed, "
        "but its coordinates look projected (e.g. 39.9, 116.4); pass --crs EPSG:xxxx, or, if "
        "they are latitude first, --field lon=… --field lat=… with the columns exchanged",
        SWAP_CHINA_HINT]
    code, out, err = pingan("load", "incidents", str(DATA / "swapped_incidents.csv"),
                            "--field", "lon=纬度", "--field", "lat=经度")
    assert code == 0
    assert "300 read, 300 loaded" in out and "0 of the loaded incidents are in no community" in out
    assert warnings_of(err) == []


@pytest.mark.slow  # over 2 s on a busy 2-core machine
def test_swapped_columns_of_a_portal_export_load_outside_and_say_why(pingan):
    tz = ["--timezone", "America/Chicago"]
    assert pingan(*tz, "load", "communities", str(DATA / "chicago_communities.geojson"))[0] == 0
    code, out, err = pingan(*tz, "load", "incidents", str(DATA / "chicago_swapped_incidents.csv"),
                            *PORTAL_FIELDS)
    assert code == 0 and "400 of the loaded incidents are in no community" in out
    assert warnings_of(err) == [SWAP_PORTAL_HINT]
    code, out, err = pingan(*tz, "load", "incidents", str(DATA / "chicago_swapped_incidents.csv"),
                            *PORTAL_FIELDS, "--field", "lon=Latitude", "--field", "lat=Longitude")
    assert code == 0 and "0 of the loaded incidents are in no community" in out
    assert warnings_of(err) == []


@pytest.mark.slow  # over 2 s on a busy 2-core machine
def test_gcj02_points_loaded_as_wgs84_ask_for_crs_gcj02(pingan):
    assert pingan("load", "communities", str(GRID))[0] == 0
    code, out, err = pingan("load", "incidents", str(DATA / "gcj02_incidents.csv"))
    assert code == 0 and "279 of the loaded incidents are in no community" in out
    assert warnings_of(err) == [GCJ_HINT]
    code, out, err = pingan("load", "incidents", str(DATA / "gcj02_incidents.csv"),
                            "--crs", "gcj02")
    assert code == 0 and "2,000 updated" in out
    assert "0 of the loaded incidents are in no community" in out and warnings_of(err) == []


@pytest.mark.slow  # over 2 s on a busy 2-core machine
def test_wgs84_points_declared_gcj02_ask_for_wgs84(pingan):
    assert pingan("load", "communities", str(GRID))[0] == 0
    code, out, err = pingan("load", "incidents", str(DATA / "wgs84_incidents.csv"),
                            "--crs", "gcj02")
    assert code == 0 and "72 of the loaded incidents are in no community" in out
    assert warnings_of(err) == [WGS84_HINT]
    code, out, err = pingan("load", "incidents", str(DATA / "wgs84_incidents.csv"))
    assert code == 0 and "0 of the loaded incidents are in no community" in out
    assert warnings_of(err) == []


@pytest.mark.slow  # over 2 s on a busy 2-core machine
def test_a_future_incident_is_reported_as_written_in_the_loads_zone(pingan):
    assert pingan("load", "communities", str(GRID))[0] == 0
    code, out, err = pingan("load", "incidents", str(DATA / "future_incidents.csv"))
    assert code == 0 and "5 read, 4 loaded, 0 updated, 1 rejected" in out
    assert ("row 3 (id FT00002), occurred_at: occurred_at is in the future "
            "[value: 2052-01-05 10:00（Asia/Shanghai；原文 2052/1/5 10:00）]") in err
    code, _, err = pingan("--timezone", "America/Chicago", "load", "incidents",
                          str(DATA / "future_incidents.csv"))
    assert "[value: 2052-01-05 10:00（America/Chicago；原文 2052/1/5 10:00）]" in err


# --- over HTTP: the same report ---------------------------------------------------------------


def post(client, city, path: Path, layer: str, **form):
    return client.post(f"/api/v1/loads/{layer}", headers=city.headers("admin"),
                       files={"file": (path.name, path.read_bytes())}, data=form)


def test_the_upload_report_carries_the_hints(fresh):
    with fresh.client() as c:
        assert post(c, fresh, GRID, "communities").status_code == 200
        r = post(c, fresh, DATA / "gcj02_incidents.csv", "incidents")
        assert r.status_code == 200, r.text
        assert r.json()["incidents_unassigned"] == 279
        assert r.json()["warnings"] == [GCJ_HINT]
        r = post(c, fresh, DATA / "swapped_incidents.csv", "incidents")
        assert r.status_code == 422
        problem = r.json()
        assert problem["detail"].endswith(f"\nwarning: {SWAP_CHINA_HINT}")
        assert problem["report"]["warnings"][-1] == SWAP_CHINA_HINT
        r = post(c, fresh, DATA / "gbk_communities_no_cpg.zip", "communities")
        assert r.status_code == 422 and r.json()["detail"].endswith(f"\nwarning: {GBK_HINT}")
