"""What the command line writes for people and machines: whole people in tables, CSV that
pandas reads, provenance beside it, site plans with their places (issue 12, items 9-11).

On the sample city (the demo database).
"""

from __future__ import annotations

import json

import pytest

from api.cli import main

pytestmark = pytest.mark.slow  # over 2 s: outside the fast subset (-m "not slow")


@pytest.fixture(scope="module")
def db(sample_db):
    return str(sample_db.url)


def run(capsys, *args: str) -> str:
    code = main(list(args))
    out, err = capsys.readouterr()
    assert code == 0, err
    return out


def test_people_are_whole_numbers_in_tables_totals_from_unrounded(capsys, db):
    args = ["-d", db, "coverage", "--type", "police_office", "--period", "2025"]
    rows = json.loads(run(capsys, *args, "--format", "json"))["items"]
    city = json.loads(run(capsys, *args, "--level", "city", "--format", "json"))["items"][0]
    uncovered = [r["facility_uncovered_population"] for r in rows]
    # JSON keeps the fractions; the city's figure is the sum of the unrounded values
    assert any(abs(u - round(u)) > 0.01 for u in uncovered)
    assert city["facility_uncovered_population"] == pytest.approx(sum(uncovered))
    assert round(sum(uncovered)) != sum(round(u) for u in uncovered)
    table = run(capsys, *args)
    first = rows[0]["facility_uncovered_population"]
    line = next(x for x in table.splitlines() if x.split()[:2] == ["1", rows[0]["code"]])
    assert line.endswith(f"{round(first):,}") and f"{first:,.3f}" not in table
    city_table = run(capsys, *args, "--level", "city")
    assert city_table.rstrip().endswith(f"{round(sum(uncovered)):,}")


def test_csv_file_reads_in_pandas_with_its_provenance_beside_it(capsys, db, tmp_path):
    import io

    import pandas as pd

    out = tmp_path / "gaps.csv"
    run(capsys, "-d", db, "gaps", "--type", "service_station", "--period", "2025",
        "--format", "csv", "--out", str(out))
    data = out.read_bytes()
    assert data.startswith("\ufeffcode,name,".encode())  # the BOM stays by default (Excel)
    frame = pd.read_csv(out, encoding="utf-8-sig", dtype={"code": str})
    assert list(frame.columns) == ["code", "name", "gap_area_m2", "population"]
    side = tmp_path / "gaps.csv.provenance.json"
    doc = json.loads(side.read_text(encoding="utf-8"))
    assert doc["describes"] == {"media_type": "text/csv", "rows": len(frame),
                                "columns": list(frame.columns), "file": "gaps.csv"}
    geo = json.loads(run(capsys, "-d", db, "gaps", "--type", "service_station", "--period",
                         "2025", "--format", "geojson"))
    drop = {"generated_at"}
    assert ({k: v for k, v in doc["provenance"].items() if k not in drop}
            == {k: v for k, v in geo["pingan"].items() if k not in drop})
    assert frame["population"].sum() == pytest.approx(sum(f["properties"]["population"]
                                                          for f in geo["features"]))
    # to the terminal: the same CSV; --no-bom for machines; --csv-comments, the old form
    printed = run(capsys, "-d", db, "gaps", "--type", "service_station", "--period", "2025",
                  "--format", "csv", "--no-bom")
    assert printed.startswith("code,name,")
    assert pd.read_csv(io.StringIO(printed)).shape == frame.shape
    old = tmp_path / "old.csv"
    run(capsys, "-d", db, "gaps", "--type", "service_station", "--period", "2025",
        "--format", "csv", "--out", str(old), "--csv-comments")
    assert old.read_bytes().startswith("\ufeff# period: 2025\n".encode())
    assert not (tmp_path / "old.csv.provenance.json").exists()


def test_plan_sites_before_is_coverage_and_sites_say_where_they_are(capsys, db, tmp_path):
    """Issue 12, item 11: plan-sites' "before" was 33.4 % where coverage said 33.2 %."""
    import pandas as pd

    base = ["-d", db, "--type", "service_station", "--period", "2025"]
    city = json.loads(run(capsys, base[0], base[1], "coverage", *base[2:], "--level", "city",
                          "--format", "json"))["items"][0]
    args = [base[0], base[1], "plan-sites", *base[2:], "--add", "2", "--time-limit-s", "30"]
    plan = json.loads(run(capsys, *args, "--format", "json"))
    pv = plan["provenance"]
    assert pv["coverage_before"] == pytest.approx(city["facility_covered_population_share"],
                                                  rel=1e-9)
    assert pv["population_total"] == pytest.approx(city["population"], rel=1e-12)
    assert pv["coverage_after"] > pv["coverage_before"]
    for item in plan["items"]:
        assert 115 < item["lon"] < 118 and 39 < item["lat"] < 41
        assert len(item["community_code"]) == 12 and item["community_name"]
    table = run(capsys, "--lang", "en", *args)
    assert f"({pv['coverage_before']:.1%}) before" in table
    table = run(capsys, "--lang", "zh", *args)
    assert f"选址前 {pv['population_covered_before']:,.0f} ({pv['coverage_before']:.1%})" in table
    assert "所在社区" in table and plan["items"][0]["community_name"] in table
    out = tmp_path / "sites.csv"
    run(capsys, *args, "--format", "csv", "--out", str(out))
    frame = pd.read_csv(out, encoding="utf-8-sig", dtype={"community_code": str})
    assert {"community_code", "community_name", "lon", "lat"} <= set(frame.columns)
    assert frame["community_code"].tolist() == [i["community_code"] for i in plan["items"]]
