"""The roll-up unit of a community and the declared ratio specs, on hand-made layers."""

import numpy as np
import pandas as pd
import pytest

from geo.errors import InputError, ParameterError
from geo.rollup import (
    COVERAGE_RATIOS,
    COVERAGE_SUMS,
    PROTECTION_RATIOS,
    PROTECTION_SUMS,
    Ratio,
    roll_up_metrics,
    unit_keys,
)

# c4 has no subdistrict code; s2 is named twice, differently ("West" first in layer order);
# c5 has no district code.
LAYER = pd.DataFrame({
    "code": ["c1", "c2", "c3", "c4", "c5"],
    "subdistrict_code": ["s1", "s2", "s2", None, "s3"],
    "subdistrict": ["East", "West", "West-2", "Lost", None],
    "district_code": ["d1", "d1", "d2", "d2", None],
    "district": [None, "North", "South", "South", "Nowhere"],
})


def test_unit_keys_by_subdistrict():
    keys = unit_keys(LAYER, "subdistrict")
    assert keys.index.tolist() == ["c1", "c2", "c3", "c4", "c5"]
    assert keys.index.name == "code"
    assert keys["unit"].tolist()[:3] == ["s1", "s2", "s2"]
    assert pd.isna(keys.loc["c4", "unit"])  # missing code: no unit, never its name
    assert keys.loc["c5", "unit"] == "s3"
    # a unit's name is the first name given for it in layer order, for all its communities
    assert keys.loc["c2", "name"] == "West" and keys.loc["c3", "name"] == "West"
    assert keys.loc["c1", "name"] == "East"
    assert pd.isna(keys.loc["c4", "name"]) and pd.isna(keys.loc["c5", "name"])


def test_unit_keys_by_district_take_the_first_name_that_is_given():
    keys = unit_keys(LAYER, "district")
    assert keys["unit"].tolist()[:4] == ["d1", "d1", "d2", "d2"]
    assert pd.isna(keys.loc["c5", "unit"])
    # c1 gives no district name: d1 is named by c2
    assert keys.loc["c1", "name"] == "North"
    assert keys.loc["c4", "name"] == "South"


def test_unit_keys_of_the_city():
    keys = unit_keys(LAYER, "city")
    assert keys["unit"].tolist() == ["city"] * 5
    assert keys["name"].isna().all()


def test_unit_keys_for_codes_the_layer_lacks():
    keys = unit_keys(LAYER, "district", codes=["c3", "zz", "c1"])
    assert keys.index.tolist() == ["c3", "zz", "c1"]
    assert keys.loc["c3", "unit"] == "d2" and keys.loc["c1", "unit"] == "d1"
    assert pd.isna(keys.loc["zz", "unit"])
    assert unit_keys(LAYER, "city", codes=["zz"])["unit"].tolist() == ["city"]


def test_unit_keys_read_codes_as_text():
    layer = pd.DataFrame({"code": [110101001, 110101002], "district_code": [110101, 110102]})
    keys = unit_keys(layer, "district")
    assert keys.index.tolist() == ["110101001", "110101002"]
    assert keys["unit"].tolist() == ["110101", "110102"]
    assert keys["name"].isna().all()  # no name column


def test_unit_keys_skip_communities_without_a_code():
    layer = LAYER.assign(code=["c1", None, "c3", "c4", "c5"])
    assert unit_keys(layer, "subdistrict").index.tolist() == ["c1", "c3", "c4", "c5"]


def test_unit_keys_errors():
    with pytest.raises(ParameterError, match="level must be one of subdistrict, district, city; "
                                             "got 'street'"):
        unit_keys(LAYER, "street")
    # names never stand in for a missing code column
    with pytest.raises(InputError, match=r"must have the column\(s\) district_code"):
        unit_keys(LAYER.drop(columns="district_code"), "district")
    with pytest.raises(InputError, match=r"must have the column\(s\) code"):
        unit_keys(LAYER.drop(columns="code"), "city")
    # two communities with one code: which unit it is in would be ambiguous
    twice = pd.concat([LAYER, LAYER.iloc[[1]].assign(subdistrict_code="s9")])
    with pytest.raises(InputError, match=r"must be unique; got duplicates \['c2'\]"):
        unit_keys(twice, "subdistrict")
    with pytest.raises(TypeError, match="communities must be a DataFrame"):
        unit_keys(LAYER.to_dict(), "city")


# --------------------------------------------------------------------------- ratio specs

def test_ratio_spec_columns():
    assert Ratio("a", "b").columns == ("a", "b")
    weighted = Ratio.weighted_mean("share", "area_km2")
    assert weighted == Ratio(("share", "area_km2"), "area_km2", 1.0)
    assert weighted.columns == ("share", "area_km2", "area_km2")


PROTECTION = pd.DataFrame({
    "camera_count": [10.0, 2.0, 0.0],
    "cameras_working": [8.0, 1.0, 0.0],
    "area_km2": [1.5, 0.5, 2.0],
    "population": [3000.0, 1000.0, 4000.0],
    "camera_area_share": [0.5, 0.2, np.nan],
    "incidents_total": [4.0, 0.0, 6.0],
    "incidents_in_view": [1.0, 0.0, 3.0],
    "incidents_in_view_share": [0.25, np.nan, 0.5],
    "compounds_total": [0.0, 0.0, 2.0],
    "compounds_compliant": [0.0, 0.0, 1.0],
}, index=pd.Index(["c1", "c2", "c3"], name="code"))
UNITS = pd.DataFrame({"code": ["c1", "c2", "c3"], "district_code": ["d1", "d1", None],
                      "district": ["North", "North", None]})


def test_protection_ratios_are_recomputed_from_sums():
    out = roll_up_metrics(PROTECTION, UNITS, level="district", sums=PROTECTION_SUMS,
                          ratios=PROTECTION_RATIOS)
    assert out.index.tolist() == ["d1", "unknown"]
    d1 = out.loc["d1"]
    assert d1["name"] == "North" and d1["communities"] == 2
    assert d1["camera_count"] == 12 and d1["area_km2"] == 2.0
    assert d1["camera_working_ratio"] == pytest.approx(9 / 12)
    assert d1["camera_density_per_km2"] == pytest.approx(12 / 2.0)
    assert d1["cameras_per_1000_residents"] == pytest.approx(12 / 4000 * 1000)
    # area-weighted: (0.5 × 1.5 + 0.2 × 0.5) / 2.0
    assert d1["camera_area_share"] == pytest.approx(0.425)
    assert d1["incidents_in_view_share"] == pytest.approx(1 / 4)
    assert np.isnan(d1["compound_compliance_ratio"])  # no compounds: 0 / 0
    unknown = out.loc["unknown"]
    assert pd.isna(unknown["name"])
    assert np.isnan(unknown["camera_working_ratio"])  # no cameras
    assert np.isnan(unknown["camera_area_share"])  # its only share is undefined
    assert unknown["compound_compliance_ratio"] == pytest.approx(0.5)


def test_coverage_ratios_leave_undefined_parts_out_of_both_sides():
    frame = pd.DataFrame({
        "population": [1000.0, 3000.0, 500.0],
        "area_km2": [1.0, 3.0, 4.0],
        "facility_uncovered_population": [100.0, 0.0, 500.0],
        "facility_covered_area_share": [0.9, 1.0, 0.0],
        "facility_covered_population_share": [0.9, 1.0, 0.0],
        "facility_distance_m": [400.0, 200.0, np.nan],
    }, index=pd.Index(["c1", "c2", "c3"]))
    city = roll_up_metrics(frame, UNITS, level="city", sums=COVERAGE_SUMS,
                           ratios=COVERAGE_RATIOS)
    assert city.index.tolist() == ["city"]
    row = city.loc["city"]
    assert row["name"] == "全市 (city)"
    assert row["facility_uncovered_population"] == 600
    assert row["facility_covered_area_share"] == pytest.approx((0.9 + 3.0 + 0.0) / 8.0)
    assert row["facility_covered_population_share"] == pytest.approx(3900 / 4500)
    # c3's distance is undefined: its residents are out of the denominator too
    assert row["facility_distance_m"] == pytest.approx((400 * 1000 + 200 * 3000) / 4000)


def test_roll_up_metrics_errors():
    with pytest.raises(ParameterError, match="level must be one of"):
        roll_up_metrics(PROTECTION, UNITS, level="province", sums=[], ratios={})
    with pytest.raises(ValueError, match=r"frame lacks columns \['households'\]"):
        roll_up_metrics(PROTECTION, UNITS, level="city", sums=["households"], ratios={})
    with pytest.raises(ValueError, match=r"frame lacks columns \['area'\]"):
        roll_up_metrics(PROTECTION, UNITS, level="city", sums=[],
                        ratios={"x": Ratio.weighted_mean("camera_area_share", "area")})
