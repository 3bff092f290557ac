"""`pingan load` options for portal exports: --id-from-content and --snap-m (SpatiaLite)."""

from __future__ import annotations

from pathlib import Path

import pytest

from api.cli import main

DATA = Path(__file__).resolve().parents[1] / "data"
PORTAL_FIELDS = ["--field", "occurred_at=Date", "--field", "category=Primary Type",
                 "--field", "address=Block"]


@pytest.fixture
def db(tmp_path, monkeypatch) -> list[str]:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("PINGAN_DATABASE_URL", raising=False)
    return ["-d", str(tmp_path / "city.db"), "--timezone", "America/Chicago"]


@pytest.mark.slow  # over 2 s on a busy 2-core machine
def test_an_export_without_ids_loads_with_the_flag_and_reloads_as_updates(db, capsys):
    portal = str(DATA / "portal_incidents_no_id.csv")
    assert main([*db, "load", "incidents", portal, *PORTAL_FIELDS]) == 1
    err = capsys.readouterr().err
    assert "needs a 'id' column" in err and "or pass --id-from-content" in err
    assert main([*db, "load", "incidents", portal, *PORTAL_FIELDS, "--id-from-content"]) == 0
    assert "incidents: 5 read, 5 loaded, 0 updated, 0 rejected" in capsys.readouterr().out
    assert main([*db, "load", "incidents", portal, *PORTAL_FIELDS, "--id-from-content"]) == 0
    assert "incidents: 5 read, 0 loaded, 5 updated, 0 rejected" in capsys.readouterr().out
    assert main([*db, "status"]) == 0
    assert "incidents: 5 total" in capsys.readouterr().out


def test_snap_m_gives_shore_points_to_the_only_community_within_reach(db, capsys):
    assert main([*db, "load", "communities", str(DATA / "lakeshore_communities.geojson")]) == 0
    capsys.readouterr()
    shore = str(DATA / "lakeshore_incidents.csv")
    assert main([*db, "load", "incidents", shore]) == 0
    assert "  7 of the loaded incidents are in no community\n" in capsys.readouterr().out
    assert main([*db, "load", "incidents", shore, "--snap-m", "1"]) == 0
    out = capsys.readouterr().out
    assert ("  2 of the loaded incidents are in no community; 5 snapped within 1 m; 1 within "
            "1 m of two or more communities, left unassigned") in out
    # a boundary load re-assigns with each load's tolerance
    assert main([*db, "load", "communities", str(DATA / "lakeshore_communities.geojson")]) == 0
    out = capsys.readouterr().out
    assert ("incidents re-assigned: 0; in no community: 2; 5 snapped within their load's "
            "--snap-m; 1 within their load's --snap-m of two or more communities, left "
            "unassigned") in out
    assert main([*db, "status"]) == 0
    assert "incidents: 12 total; 10 in a community; 2 unassigned" in capsys.readouterr().out


@pytest.mark.parametrize("args, message", [
    (["incidents", "lakeshore_incidents.csv", "--snap-m", "-1"],
     "error: --snap-m must be a distance in metres >= 0; got -1.0"),
    (["communities", "lakeshore_communities.geojson", "--snap-m", "2"],
     "error: --snap-m applies to incidents only; not to 'communities'"),
    (["devices", "lakeshore_incidents.csv", "--id-from-content"],
     "error: --id-from-content applies to incidents only; not to 'devices'"),
])
@pytest.mark.slow  # over 2 s on a busy 2-core machine
def test_bad_uses_are_one_line_errors(db, capsys, args, message):
    args = [args[0], str(DATA / args[1]), *args[2:]]
    assert main([*db, "load", *args]) == 1
    assert capsys.readouterr().err.strip() == message
