"""Values longer than their database column are rejected per row, on both backends.

PostgreSQL would fail the whole load on them (``value too long for type character varying``),
SQLite would store them silently: the readers reject them with the row, field, length and
maximum, and the rest of the file lands.
"""

from __future__ import annotations

import pandas as pd
import pytest
import sqlalchemy as sa

from api.loading import load_file
from api.models import LAYER_TABLES, incidents
from geo.layers import LAYERS
from geo.readers import RejectedRowsError
from tests.api.test_loading import count, write_communities, write_incidents

#: Fields stored under another column name.
_STORED_AS = {("incidents", "community_code"): "reported_community"}


def test_layer_max_lengths_equal_the_database_columns():
    checked = 0
    for name, table in LAYER_TABLES.items():
        for f in LAYERS[name].fields:
            if f.type != "str":
                continue
            column = table.c[_STORED_AS.get((name, f.name), f.name)]
            assert isinstance(column.type, sa.String)
            assert f.max_length == column.type.length, (name, f.name)
            checked += 1
    assert checked == 22


def _long_values_file(path):
    """130 incidents: record 6's id has 150 characters, record 101's category 101, record
    121's address 501 and record 126's community code 65."""
    write_incidents(path, 130)
    df = pd.read_csv(path, dtype=str)
    df["address"] = "某路1号"
    df["community_code"] = pd.NA
    df.loc[5, "id"] = "I" * 150
    df.loc[100, "category"] = "盗" * 101
    df.loc[120, "address"] = "路" * 501
    df.loc[125, "community_code"] = "C" * 65
    df.to_csv(path, index=False)
    return path


@pytest.mark.parametrize("batch_rows", [None, 64], ids=["whole", "streaming"])
def test_over_length_values_are_rejected_per_row(engine, tmp_path, batch_rows):
    load_file(engine, write_communities(tmp_path / "c.geojson"), "communities")
    path = _long_values_file(tmp_path / "i.csv")
    rep = load_file(engine, path, "incidents", batch_rows=batch_rows)
    assert (rep.rows_read, rep.rows_rejected, rep.rows_loaded) == (130, 4, 126)
    got = [(r.row, r.field, r.reason) for r in rep.rejections]
    assert got == [
        (6, "id", "id is 150 characters long; at most 100 fit"),
        (101, "category", "category is 101 characters long; at most 100 fit"),
        (121, "address", "address is 501 characters long; at most 500 fit"),
        (126, "community_code", "community_code is 65 characters long; at most 64 fit"),
    ]
    assert rep.rejections[0].value == "I" * 77 + "..."
    assert count(engine, incidents) == 126
    assert count(engine, incidents, incidents.c.id.in_(["I" * 150, "I000100", "I000120",
                                                         "I000125"])) == 0
    with pytest.raises(RejectedRowsError, match="4 of 130 rows rejected"):
        load_file(engine, path, "incidents", batch_rows=batch_rows, strict=True)


def test_over_length_inventory_values_are_rejected(engine, tmp_path):
    path = tmp_path / "f.csv"
    pd.DataFrame([
        {"id": "F1", "type": "police_station", "name": "站" * 201, "lon": 116.4, "lat": 39.9},
        {"id": "F2", "type": "x" * 65, "name": "二号", "lon": 116.41, "lat": 39.9},
        {"id": "F3", "type": "police_office", "name": "三号", "lon": 116.42, "lat": 39.9},
    ]).to_csv(path, index=False)
    rep = load_file(engine, path, "facilities")
    assert [(r.row, r.field, r.reason) for r in rep.rejections] == [
        (1, "name", "name is 201 characters long; at most 200 fit"),
        (2, "type", "type is 65 characters long; at most 64 fit"),
    ]
    assert rep.rows_loaded == 1
