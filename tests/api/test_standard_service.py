"""The standard over stored data: a hand-scored profile on the lattice city (both backends)."""

from __future__ import annotations

import pandas as pd
import pytest

from api.loading import load_file
from api.profiles import ProfileConflictError, put_profile
from api.release import Visibility
from api.services import ServiceContext
from api.services.standard import active_profile, standard_report, todo_report
from api.settings import Settings
from api.settings import Settings as _Settings
from geo.errors import NotFoundError
from geo.profile import ProfileError, load_profile
from tests.api.lattice import centre, l00_population

ADMIN = Visibility.admin(_Settings(database_url="sqlite:///unused.db"))

PROFILE = """
name = "lattice test profile"
version = "1"
effective_date = 2025-01-01
source_notes = "hand-made for tests"

[bands]
meets_min_score = 80
partly_min_score = 50

[[criteria]]
id = "rate"
label_zh = "发案率"
label_en = "Case rate"
metric = "case_rate_per_10k_annual"
operator = "<="
threshold = 15
weight = 50
required = true
params = { period = "year" }
source = "test"

[[criteria]]
id = "cameras"
label_zh = "视频覆盖"
label_en = "Camera coverage"
metric = "camera_area_share"
operator = ">="
threshold = 0.02
weight = 30
params = { period = "year" }
source = "test"

[[criteria]]
id = "police"
label_zh = "警务室"
label_en = "Police office"
metric = "facility_covered_area_share"
operator = ">="
threshold = 0.5
weight = 20
params = { period = "year", facility_type = "police_office", radius_m = 500 }
source = "test"
"""


@pytest.fixture
def city(lattice_db, tmp_path):
    lon, lat = centre("L11")
    pd.DataFrame([{"id": "D1", "kind": "dome", "range_m": 100, "lon": lon, "lat": lat}]
                 ).to_csv(tmp_path / "d.csv", index=False)
    load_file(lattice_db, tmp_path / "d.csv", "devices")
    rows = [{"id": f"F{c}", "type": "police_office", "lon": centre(c)[0], "lat": centre(c)[1]}
            for c in ("L00", "L33")]
    pd.DataFrame(rows).to_csv(tmp_path / "f.csv", index=False)
    load_file(lattice_db, tmp_path / "f.csv", "facilities")
    return ServiceContext(lattice_db, Settings(database_url="sqlite:///unused.db"))


@pytest.mark.slow  # over 2 s on a busy 2-core machine
def test_scores_bands_and_todo(city):
    prof = load_profile(PROFILE)
    rep = standard_report(city, ADMIN, profile=prof, period="2025")
    f = rep.frame.set_index("code")
    # L00: rate 50 fails (required), no cameras, its own police office -> score 20, fails
    assert (f.loc["L00", "score"], f.loc["L00", "status"]) == (20, "fails")
    # L11: rate 11 passes, the 100 m dome covers ~3.3 % of it, no office within reach -> 80
    assert (f.loc["L11", "score"], f.loc["L11", "status"]) == (80, "meets")
    # L33: rate 5 passes, no cameras, its own office -> 70, partly
    assert (f.loc["L33", "score"], f.loc["L33", "status"]) == (70, "partly")
    # L01: rate 10 passes only -> 50, partly
    assert (f.loc["L01", "score"], f.loc["L01", "status"]) == (50, "partly")
    assert f.loc["L00", "todo"] == "rate,cameras"
    todo = todo_report(city, ADMIN, "L00", profile=prof, period="2025").frame
    assert todo["criterion_id"].tolist() == ["rate", "cameras"]
    assert todo["value"].iloc[0] == pytest.approx(
        60 / l00_population("2025") * 1e4 * 365.25 / 365)
    assert rep.provenance["profile"] == "lattice test profile 1"
    with pytest.raises(NotFoundError, match="no community with code 'ZZ'"):
        todo_report(city, ADMIN, "ZZ", profile=prof, period="2025")


@pytest.mark.slow  # over 2 s on a busy 2-core machine
def test_creation_rate_roll_up(city):
    prof = load_profile(PROFILE)
    d = standard_report(city, ADMIN, profile=prof, period="2025", level="district").frame
    d = d.set_index("code")
    # D1 (L0x, L1x): only L11 meets
    assert d.loc["D1", "meets"] == 1 and d.loc["D1", "communities"] == 8
    assert d.loc["D1", "creation_rate"] == pytest.approx(1 / 8)
    assert d.loc["D1", "creation_rate_pop"] == pytest.approx(
        10_000 / (l00_population("2025") + 70_000))
    city_row = standard_report(city, ADMIN, profile=prof, period="2025", level="city").frame
    assert city_row["communities"].iloc[0] == 16


@pytest.mark.slow  # over 2 s on a busy 2-core machine
def test_stored_profile_becomes_active(city):
    assert active_profile(city).name.startswith("北京市平安社区创建标准")
    put_profile(city.engine, PROFILE, created_by="test")
    assert active_profile(city).name == "lattice test profile"
    rep = standard_report(city, ADMIN, period="2025")  # the active profile, by default
    assert rep.provenance["profile"] == "lattice test profile 1"
    with pytest.raises(ProfileConflictError, match="already stored with other content"):
        put_profile(city.engine, PROFILE.replace("threshold = 15", "threshold = 16"))
    with pytest.raises(ProfileError, match="operator"):
        put_profile(city.engine, PROFILE.replace('"<="', '"=<"'))
