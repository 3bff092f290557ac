"""CSV formula injection: every CSV pingan writes neutralises formulas; JSON keeps the text."""

from __future__ import annotations

import csv
import io

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from shapely.geometry import box

from api.app import create_app
from api.auth import create_key
from api.cli import main
from api.loading import load_file
from api.output import csv_text, to_csv_bytes
from api.settings import Settings

X0, Y0 = 116.30, 39.90


def rows_of(data: bytes, *, bom: bool = True) -> list[list[str]]:
    """Parse pingan's CSV (BOM, ``#`` provenance lines) as a spreadsheet would split it."""
    text = data.decode("utf-8")
    assert text.startswith("\ufeff") == bom
    return list(csv.reader(io.StringIO(text[1:] if bom else text, newline="")))


@pytest.mark.parametrize(("value", "expected"), [
    ("=1+2", "'=1+2"),
    ("  =SUM(A1:A9)", "'  =SUM(A1:A9)"),
    ("+86 10 1234", "'+86 10 1234"),
    ("-cmd|' /C calc'!A0", "'-cmd|' /C calc'!A0"),
    ("@SUM(1)", "'@SUM(1)"),
    ("\tfoo", "'\tfoo"),
    ("\rfoo", "'\rfoo"),
    ("\x00foo", "'\x00foo"),
    ("\t=1", "'\t=1"),
    ("＝1+2", "'＝1+2"),  # full-width, as a Chinese input method types it
    ("-1.96", "-1.96"),  # a plain number: read as the number, never as a formula
    ("+3", "+3"),
    (" -2.5e3 ", " -2.5e3 "),
    ("-1+2", "'-1+2"),  # arithmetic is a formula
    ("和平社区", "和平社区"),
    ("a=b", "a=b"),
    ("", ""),
])
def test_csv_text_prefixes_formulas_only(value, expected):
    assert csv_text(value) == expected


def test_to_csv_bytes_neutralises_text_quotes_fields_and_keeps_numbers():
    frame = pd.DataFrame({
        "name": ["=HYPERLINK(\"http://x\",\"y\")", "和平, 东区", "-1.96", "@x", None],
        "z": [-1.96, 2.0, np.nan, -0.5, 1e-3],
        "n": pd.array([1, -2, None, 4, 5], dtype="Int64"),
        "kind": pd.Categorical(["+1+1", "a", "a", "b", "+1+1"]),
        "=header": ["ok", "line\nbreak", "say \"hi\"", "", "\tx"],
    })
    data = to_csv_bytes(frame)
    rows = rows_of(data)
    assert rows[0] == ["name", "z", "n", "kind", "'=header"]
    assert rows[1] == ["'=HYPERLINK(\"http://x\",\"y\")", "-1.96", "1", "'+1+1", "ok"]
    assert rows[2] == ["和平, 东区", "2.0", "-2", "a", "line\nbreak"]
    assert rows[3] == ["-1.96", "", "", "a", "say \"hi\""]
    assert rows[4] == ["'@x", "-0.5", "4", "b", ""]
    assert rows[5] == ["", "0.001", "5", "'+1+1", "'\tx"]
    text = data.decode("utf-8")
    # RFC 4180: fields with commas, quotes or line breaks are quoted, quotes doubled
    assert '"\'=HYPERLINK(""http://x"",""y"")"' in text and '"和平, 东区"' in text
    assert '"line\nbreak"' in text and '"say ""hi"""' in text
    assert frame.loc[0, "name"].startswith("=")  # the caller's frame is not changed


@pytest.mark.parametrize("bom", [True, False])
@pytest.mark.parametrize("comments", [True, False])
def test_every_csv_form_is_neutralised(bom, comments):
    """With and without the BOM and the provenance lines (issue 12, item 9)."""
    frame = pd.DataFrame({"name": ["=1+2", "@x", "和平社区"], "z": [-1.96, 1.0, 2.0]})
    prov = {"note": "x,=cmd()", "period": "2025"}
    rows = rows_of(to_csv_bytes(frame, provenance=prov if comments else None, bom=bom),
                   bom=bom)
    if comments:
        assert rows[0] == ["# note: x", "'=cmd()"] and rows[1] == ["# period: 2025"]
        rows = rows[2:]
    assert rows == [["name", "z"], ["'=1+2", "-1.96"], ["'@x", "1.0"], ["和平社区", "2.0"]]


def test_provenance_lines_stay_one_line_without_formula_cells():
    data = to_csv_bytes(pd.DataFrame({"a": [1]}),
                        provenance={"period": "2025", "note": "x,=cmd()\n=2+3",
                                    "left_out": {"unassigned": 1, "no_location": 0}})
    lines = data.decode("utf-8")[1:].split("\n")
    assert lines[0] == "# period: 2025"
    assert lines[1] == "# note: x,'=cmd() =2+3"
    assert lines[2] == '# left_out: {"unassigned": 1, "no_location": 0}'
    assert lines[3:] == ["a", "1", ""]


def _communities(path):
    gpd.GeoDataFrame(
        {"code": ["C1", "C2", "C3"], "name": ["=1+2", "@SUM(A1)", "和平社区"],
         "district_code": ["D1", "D1", "D1"], "district": ["-2+3", "东城区", "东城区"],
         "population": [1000, 2000, 3000]},
        geometry=[box(X0 + 0.01 * i, Y0, X0 + 0.01 * (i + 1), Y0 + 0.01) for i in range(3)],
        crs="EPSG:4326").to_file(path, driver="GeoJSON")
    return path


def test_api_csv_is_neutralised_while_json_and_geojson_keep_the_text(engine, tmp_path):
    load_file(engine, _communities(tmp_path / "c.geojson"), "communities")
    token = create_key(engine, name="a", role="admin").token
    url = engine.url.render_as_string(hide_password=False)
    app = create_app(Settings(database_url=url, api={"rate_limit_per_minute": 0}), engine=engine)
    h = {"Authorization": f"Bearer {token}"}
    with TestClient(app) as c:
        as_csv = c.get("/api/v1/communities?format=csv", headers=h)
        forms = {(bom, comments): c.get(
            f"/api/v1/communities?format=csv&bom={bom}&csv_comments={comments}",
            headers=h).content for bom in ("true", "false") for comments in ("true", "false")}
        as_json = c.get("/api/v1/communities", headers=h).json()
        as_geojson = c.get("/api/v1/communities?format=geojson", headers=h).json()
    assert as_csv.status_code == 200
    table = [r for r in rows_of(as_csv.content) if r and not r[0].startswith("#")]
    header = table[0]
    by_code = {r[header.index("code")]: r for r in table[1:]}
    assert by_code["C1"][header.index("name")] == "'=1+2"
    assert by_code["C2"][header.index("name")] == "'@SUM(A1)"
    assert by_code["C3"][header.index("name")] == "和平社区"
    assert by_code["C1"][header.index("district")] == "'-2+3"
    assert by_code["C1"][header.index("population")] in ("1000", "1000.0")
    for (bom, comments), data in forms.items():
        table = [r for r in rows_of(data, bom=bom == "true") if r and not r[0].startswith("#")]
        assert table == [r for r in rows_of(as_csv.content) if r], (bom, comments)
        assert data.decode("utf-8-sig").startswith("#") == (comments == "true")
    names = {i["code"]: i["name"] for i in as_json["items"]}
    assert names == {"C1": "=1+2", "C2": "@SUM(A1)", "C3": "和平社区"}
    props = {f["properties"]["code"]: f["properties"] for f in as_geojson["features"]}
    assert props["C1"]["name"] == "=1+2" and props["C1"]["district"] == "-2+3"


def test_rejection_report_is_neutralised(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("PINGAN_DATABASE_URL", raising=False)
    db = str(tmp_path / "city.db")
    assert main(["-d", db, "load", "communities", str(_communities(tmp_path / "c.geojson"))]) == 0
    pd.DataFrame([
        {"id": "A1", "occurred_at": "2025-06-01 09:00", "category": "theft",
         "lon": X0 + 0.005, "lat": Y0 + 0.005},
        {"id": "A2", "occurred_at": "=HYPERLINK(\"http://evil\")", "category": "theft",
         "lon": X0 + 0.005, "lat": Y0 + 0.005},
        {"id": "A3", "occurred_at": "2025-06-01 09:00", "category": "theft",
         "lon": "@SUM(1)", "lat": Y0 + 0.005},
    ]).to_csv(tmp_path / "i.csv", index=False)
    assert main(["-d", db, "load", "incidents", str(tmp_path / "i.csv")]) == 0
    capsys.readouterr()
    report = rows_of((tmp_path / "pingan-rejected-incidents.csv").read_bytes())
    header = report[0]
    values = {r[header.index("id")]: r[header.index("value")] for r in report[1:]}
    assert values == {"A2": "'=HYPERLINK(\"http://evil\")", "A3": "'@SUM(1)"}
