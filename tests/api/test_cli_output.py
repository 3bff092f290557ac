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
