"""Small-count suppression and the liaison's jurisdiction, unit by unit and through the API."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from fastapi.responses import Response
from fastapi.testclient import TestClient

from api.app import create_app
from api.deps import SessionDep, SettingsDep, render_report
from api.privacy import Disclosure, suppress, suppressed_label
from api.services import Report
from tests.api.test_app_support import (
    DATA_VERSION,
    X0,
    Y0,
)


def test_suppress_hides_counts_below_the_threshold_and_what_derives_from_them():
    frame = pd.DataFrame({"code": ["a", "b", "c", "d", "e"], "n": [0, 1, 2, 3, 40],
                          "rate": [0.0, 0.5, 1.0, 1.5, 20.0]})
    out = suppress(frame, ["n"], ["rate"], min_count=3)
    assert out["n"].tolist() == [0, "<3", "<3", 3, 40]
    assert out["rate"].isna().tolist() == [False, True, True, False, False]
    assert out["suppressed"].tolist() == [False, True, True, False, False]
    assert frame["n"].tolist() == [0, 1, 2, 3, 40]  # the input is not modified


def test_suppress_with_several_count_columns_nulls_the_whole_row_of_derived_values():
    frame = pd.DataFrame({"theft": [5, 7], "fraud": [1, 0], "share": [0.6, 1.0]})
    out = suppress(frame, ["theft", "fraud"], ["share"], min_count=3)
    assert out["theft"].tolist() == [5, 7] and out["fraud"].tolist() == ["<3", 0]
    assert np.isnan(out["share"][0]) and out["share"][1] == 1.0


def test_suppress_only_where_allowed_and_with_another_threshold():
    frame = pd.DataFrame({"n": [1, 1, 4, 9]})
    out = suppress(frame, ["n"], min_count=5, where=np.array([True, False, True, True]))
    assert out["n"].tolist() == ["<5", 1, "<5", 9]
    assert suppressed_label(5) == "<5"
    assert suppress(frame, ["n"], min_count=1)["n"].tolist() == [1, 1, 4, 9]


def test_suppress_errors_name_the_problem():
    frame = pd.DataFrame({"n": [1]})
    with pytest.raises(ValueError, match="min_count must be >= 1; got 0"):
        suppress(frame, ["n"], min_count=0)
    with pytest.raises(ValueError, match=r"columns \['rate'\] are not in the frame"):
        suppress(frame, ["n"], ["rate"])


def test_disclosure_exemptions():
    codes = pd.Series(["C1", "C3", None], dtype="string")
    assert Disclosure(3, None).exempt(codes).tolist() == [True, True, True]
    assert Disclosure(3, frozenset({"C1"})).exempt(codes).tolist() == [True, False, False]
    assert Disclosure(3).exempt(codes).tolist() == [False, False, False]


def _ids(response) -> set[str]:
    return {i["id"] for i in response.json()["items"]}


def test_liaison_gets_only_incidents_of_their_district(client, city):
    h = city.headers("liaison")
    everything = client.get("/api/v1/incidents", headers=h)
    assert _ids(everything) == {"C1-1", "C1-2", "C1-3", "C1-4", "C1-5", "C1-2024", "C2-1",
                                "C2-2"}
    assert everything.json()["total"] == 8
    by_code = client.get("/api/v1/incidents", params={"community": ["C3", "C4"]}, headers=h)
    assert by_code.status_code == 200 and by_code.json()["total"] == 0
    east = client.get("/api/v1/incidents", headers=h,
                      params={"bbox": f"{X0 + 0.02},{Y0},{X0 + 0.06},{Y0 + 0.01}"})
    assert east.json()["total"] == 0
    for fmt in ("csv", "geojson"):
        text = client.get("/api/v1/incidents", params={"format": fmt, "community": "C3"},
                          headers=h).content.decode("utf-8-sig")
        assert "C3-" not in text
        full = client.get("/api/v1/incidents", params={"format": fmt}, headers=h)
        text = full.content.decode("utf-8-sig")
        assert "C2-2" in text and not any(f"{c}-" in text for c in ("C3", "C4", "OUT"))


def test_subdistrict_liaison_gets_their_subdistrict_only(client, city):
    got = client.get("/api/v1/incidents", headers=city.headers("liaison_s21"))
    assert _ids(got) == {"C3-1", "C3-2", "C3-3", "C3-4", "C3-noloc", "C4-1"}


def test_unassigned_incidents_are_in_no_jurisdiction(client, city):
    for role in ("liaison", "liaison_s21"):
        got = client.get("/api/v1/incidents", headers=city.headers(role),
                         params={"bbox": f"{X0 + 0.04},{Y0},{X0 + 0.05},{Y0 + 0.01}"})
        assert got.json()["total"] == 0


def test_suppress_for_key_follows_the_role(city):
    from api.auth import verify_token
    from api.privacy import suppress_for_key

    frame = pd.DataFrame({"code": ["C1", "C2", "C3", "C4"], "cases": [1, 2, 7, 1],
                          "case_rate_per_10k": [1.0, 4.0, 3.5, 5.0]})
    shown = {}
    with city.engine.connect() as conn:
        for role in ("admin", "liaison", "planner"):
            key = verify_token(city.engine, city.tokens[role])
            out = suppress_for_key(conn, key, frame, ["cases"], ["case_rate_per_10k"],
                                   min_count=3)
            shown[role] = out["cases"].tolist()
    assert shown == {"admin": [1, 2, 7, 1], "liaison": [1, 2, 7, "<3"],
                     "planner": ["<3", "<3", 7, "<3"]}


def _report(conn: SessionDep, settings: SettingsDep, format: str = "json") -> Response:
    rep = Report(pd.DataFrame({"code": ["C1"], "value": [0.5]}),
                 {"period": "2025", "metric_crs": "EPSG:4548"})
    return render_report(rep, format, conn, settings, filename="r")


def test_render_report_lays_the_service_provenance_over_the_request_one(city):
    app = create_app(city.settings, engine=city.engine)
    app.add_api_route("/report", _report)
    with TestClient(app) as c:
        body = c.get("/report").json()
    assert body["items"] == [{"code": "C1", "value": 0.5}]
    assert body["provenance"]["period"] == "2025"
    assert body["provenance"]["metric_crs"] == "EPSG:4548"
    assert body["provenance"]["data_version"] == DATA_VERSION
