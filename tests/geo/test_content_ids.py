"""Incident ids drawn from content, for exports without an id column."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
from shapely.geometry import Point

from geo.content_ids import content_ids
from geo.errors import InputError, ParameterError
from geo.readers import read_layer

DATA = Path(__file__).resolve().parents[1] / "data"
PORTAL = DATA / "portal_incidents_no_id.csv"
FIELDS = {"occurred_at": "Date", "category": "Primary Type", "address": "Block"}


def expected_id(*values: str, n: int = 1) -> str:
    digest = hashlib.sha256("\x1f".join(values).encode("utf-8")).hexdigest()[:20]
    return f"h:{digest}-{n}"


def test_ids_hash_the_values_and_number_identical_rows():
    a = pd.Series(["x", "y", "x", None, "x"])
    b = pd.Series([1.5, 2, 1.5, None, 1.5], dtype=object)
    ids = content_ids([a, b])
    assert ids.tolist() == [expected_id("x", "1.5"), expected_id("y", "2"),
                            expected_id("x", "1.5", n=2), expected_id("", ""),
                            expected_id("x", "1.5", n=3)]
    assert str(ids.dtype) == "string"
    # the separator keeps ("ab", "c") apart from ("a", "bc")
    assert content_ids([pd.Series(["ab"]), pd.Series(["c"])])[0] != content_ids(
        [pd.Series(["a"]), pd.Series(["bc"])])[0]


def test_ids_need_aligned_columns():
    with pytest.raises(InputError, match="at least one column"):
        content_ids([])
    with pytest.raises(InputError, match="same index"):
        content_ids([pd.Series(["a"]), pd.Series(["b"], index=[5])])


def test_portal_export_without_ids_reads_with_ids_from_its_raw_text():
    res = read_layer(PORTAL, "incidents", fields=FIELDS, timezone="America/Chicago",
                     id_from_content=True)
    ids = res.frame["id"].tolist()
    # time, longitude, latitude (file order), category, address, community code: raw text
    first = ("2024-03-02 08:15:00", "-87.627800", "41.884000", "THEFT", "001XX N STATE ST", "")
    assert ids[0] == expected_id(*first)
    assert ids[1] == expected_id(*first, n=2)  # the identical second row
    assert ids[4] == expected_id("2024-03-04 14:00:00", *first[1:])
    assert len(set(ids)) == 5 and res.rows_rejected == 0
    assert res.field_sources.get("id") is None


def test_content_ids_ignore_status_and_the_order_of_the_lon_lat_mapping(tmp_path):
    base = read_layer(PORTAL, "incidents", fields=FIELDS, id_from_content=True).frame["id"]
    raw = pd.read_csv(PORTAL, dtype=str)
    raw["Status"] = "CLOSED"
    raw = raw.rename(columns={"Longitude": "X坐标", "Latitude": "Y坐标"})
    raw.to_csv(tmp_path / "edited.csv", index=False)
    swapped = read_layer(tmp_path / "edited.csv", "incidents", id_from_content=True,
                         fields={**FIELDS, "lon": "Y坐标", "lat": "X坐标"}, crs="EPSG:4326")
    # the swapped mapping puts every point near the South Pole, with the same ids
    assert (swapped.frame.geometry.y < -87).all()
    assert swapped.frame["id"].tolist() == base.tolist()
    right = read_layer(tmp_path / "edited.csv", "incidents", id_from_content=True,
                       fields={**FIELDS, "lon": "X坐标", "lat": "Y坐标"})
    assert right.frame["id"].tolist() == base.tolist()


def test_vector_files_hash_the_geometry_as_written(tmp_path):
    frame = gpd.GeoDataFrame(
        {"time": ["2025-01-01 08:00", "2025-01-01 08:00"], "type": ["盗窃", "盗窃"],
         "地址": ["东四北大街1号", "东四北大街1号"]},
        geometry=[Point(500_000.0, 4_400_000.0)] * 2, crs="EPSG:32650")
    frame.to_file(tmp_path / "a.geojson", driver="GeoJSON")
    res = read_layer(tmp_path / "a.geojson", "incidents", id_from_content=True)
    # GeoJSON is typed: the time is read as a date-time and hashed as its text; the point as
    # WKB in the file's CRS (before it is converted to EPSG:4326)
    wkb = Point(500_000.0, 4_400_000.0).wkb_hex
    first = ("2025-01-01 08:00:00", wkb, "盗窃", "东四北大街1号", "")
    assert res.frame["id"].tolist() == [expected_id(*first), expected_id(*first, n=2)]


def test_without_the_flag_the_refusal_names_it():
    with pytest.raises(InputError, match=r"needs a 'id' column .* --field id=COLUMN, or pass "
                                         r"--id-from-content to draw ids from each row's time"):
        read_layer(PORTAL, "incidents", fields=FIELDS)


def test_the_flag_refuses_a_file_with_ids_and_other_layers(tmp_path):
    path = tmp_path / "with_ids.csv"
    shutil.copy(PORTAL, path)
    raw = pd.read_csv(path, dtype=str)
    raw.insert(0, "案件编号", [f"A{i}" for i in range(len(raw))])
    raw.to_csv(path, index=False)
    with pytest.raises(InputError, match="column '案件编号' holds the ids; --id-from-content is "
                                         "for files without an id column"):
        read_layer(path, "incidents", fields=FIELDS, id_from_content=True)
    with pytest.raises(ParameterError, match="applies to incidents only; not to 'devices'"):
        read_layer(path, "devices", id_from_content=True)
