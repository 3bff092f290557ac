"""The pingan command line: loads, reports, status and exit codes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
from shapely.geometry import box

from api.cli import main

X0, Y0 = 116.30, 39.90


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("PINGAN_DATABASE_URL", raising=False)
    return tmp_path


def communities_file(path: Path) -> Path:
    gdf = gpd.GeoDataFrame({"社区代码": ["C1", "C2"], "社区名称": ["甲社区", "乙社区"],
                            "常住人口": [5000, 6000]},
                           geometry=[box(X0, Y0, X0 + 0.01, Y0 + 0.01),
                                     box(X0 + 0.01, Y0, X0 + 0.02, Y0 + 0.01)],
                           crs="EPSG:4326")
    gdf.to_file(path, driver="GeoJSON")
    return path


def incidents_file(path: Path, n: int = 100, bad: bool = True) -> Path:
    rows = [{"编号": f"A{i:03d}", "发生时间": f"2025-06-{1 + i % 28:02d} 09:00",
             "类别": "theft", "经度": X0 + 0.0001 + 0.0299 * i / n, "纬度": Y0 + 0.005}
            for i in range(n)]
    if bad:
        rows[4]["发生时间"] = "not a time"
        rows[41]["经度"] = "east"
        rows[77]["编号"] = rows[76]["编号"]
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


def test_load_reports_exactly_the_bad_rows(workdir, capsys):
    db = str(workdir / "city.db")
    assert main(["-d", db, "load", "communities", str(communities_file(workdir / "c.geojson"))]
                ) == 0
    path = incidents_file(workdir / "i.csv")
    assert main(["-d", db, "load", "incidents", str(path), "--strict"]) == 1
    err = capsys.readouterr().err
    assert "4 rows rejected" in err or "4 of 100 rows rejected" in err
    assert main(["-d", db, "status"]) == 0
    assert "incidents: 0 total" in capsys.readouterr().out

    assert main(["-d", db, "load", "incidents", str(path)]) == 0
    out, err = capsys.readouterr()
    # rows 5, 42 and the duplicated id on rows 77 and 78: 4 rows, 96 loaded
    assert "incidents: 100 read, 96 loaded, 0 updated, 4 rejected" in out
    assert "row 5 (id A004), occurred_at: occurred_at is not a date and time" in err
    assert "row 42 (id A041), lon: lon must be a number [value: east]" in err
    assert "row 77 (id A076), id: id 'A076' appears 2 times in the file (rows 77, 78)" in err
    report = workdir / "pingan-rejected-incidents.csv"
    assert f"full report: {report}" in err
    raw = report.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # Excel-friendly UTF-8
    table = pd.read_csv(report, encoding="utf-8-sig")
    assert table["row"].tolist() == [5, 42, 42, 77, 78]

    assert main(["-d", db, "load", "incidents", str(path)]) == 0
    assert "0 loaded, 96 updated" in capsys.readouterr().out
    assert main(["-d", db, "status"]) == 0
    out = capsys.readouterr().out
    assert "incidents: 96 total; 65 in a community; 31 unassigned" in out
    assert "communities" in out and "recent loads" in out


def test_exit_codes(workdir, capsys):
    assert main([]) in (0, 2)
    assert main(["load", "rivers", "x.csv"]) == 2
    assert "'rivers' is not one of 'communities', 'population'" in capsys.readouterr().err
    assert main(["load", "roads", "missing.geojson"]) == 1
    assert "missing.geojson: no such file" in capsys.readouterr().err
    assert main(["load", "incidents", "missing.csv"]) == 1
    assert "missing.csv: no such file" in capsys.readouterr().err
    assert main(["load", "incidents", str(incidents_file(workdir / "i.csv")),
                 "--field", "nonsense"]) == 1
    assert "must look like target=source" in capsys.readouterr().err
    assert main(["--timezone", "Mars/Base", "status"]) == 1
    assert "timezone" in capsys.readouterr().err
    assert main(["-d", "mysql://x/y", "status"]) == 1
    assert "database URL must be" in capsys.readouterr().err


@pytest.mark.slow
def test_console_script_runs(workdir):
    exe = Path(sys.executable).with_name("pingan")
    out = subprocess.run([str(exe), "--help"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0
    assert "safe-community" in out.stdout and "load" in out.stdout
