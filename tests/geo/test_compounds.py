"""Tests for geo.compounds: hand-drawn geometry in EPSG:4548 metres, handed over in EPSG:4326."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from geo.compounds import compound_compliance

GK = 4548  # CGCS2000 3-degree Gauss-Kruger CM 117E: Beijing's metric CRS
X0, Y0 = 500_000.0, 4_400_000.0  # on the central meridian, about 39.7 N


def _frame(data, geoms):
    return gpd.GeoDataFrame(data, geometry=gpd.GeoSeries(geoms, crs=GK).to_crs(4326).to_numpy(),
                            crs=4326)


def _box(x0, y0, x1, y1):
    return shapely.box(X0 + x0, Y0 + y0, X0 + x1, Y0 + y1)


def _communities(codes=("A",), boxes=((0, 0, 100, 100),), population=(500.0,)):
    return _frame(
        {"code": list(codes), "name": [f"c{c}" for c in codes], "population": list(population)},
        [_box(*b) for b in boxes],
    )


def _compounds():
    return _frame(
        {
            "id": ["full", "no-light", "in-b", "gone"],
            "name": ["Full", "No light", "In B", "Gone"],
            "measures": ["access_control,cctv_entrances,fence,gate_guard,lighting",
                         "access_control,cctv_entrances,fence,gate_guard",
                         "fence,gate_guard,lighting,access_control,cctv_entrances,patrol",
                         "fence"],
            "removed_on": pd.to_datetime([None, None, None, "2023-06-01"]),
        },
        # "in-b" straddles the boundary; its representative point lies in B
        [_box(10, 10, 20, 20), shapely.Point(X0 + 50, Y0 + 50), _box(95, 10, 180, 20),
         shapely.Point(X0 + 60, Y0 + 60)],
    )


def test_a_compound_missing_one_required_measure_does_not_comply():
    comm = _communities(codes=("A", "B"), boxes=((0, 0, 100, 100), (100, 0, 200, 100)),
                        population=(1.0, 1.0))
    res = compound_compliance(_compounds(), comm, period="2024")
    assert res.frame.loc["A", "compounds_total"] == 2
    assert res.frame.loc["A", "compounds_compliant"] == 1
    assert res.frame.loc["A", "compound_compliance_ratio"] == 0.5
    assert res.frame.loc["B", "compound_compliance_ratio"] == 1.0
    per = res.compounds.set_index("id")
    assert "gone" not in per.index  # removed before 2024
    assert not per.loc["no-light", "compliant"]
    assert per.loc["no-light", "missing_measures"] == "lighting"
    assert per.loc["full", "missing_measures"] == ""
    assert per.loc["in-b", "community_code"] == "B"
    rates = res.measure_rates.set_index(["code", "measure"])
    assert rates.loc[("A", "lighting"), "measure_presence_rate"] == 0.5
    assert rates.loc[("A", "fence"), "measure_presence_rate"] == 1.0
    assert rates.loc[("B", "patrol"), "measure_presence_rate"] == 1.0
    assert rates.loc[("A", "intercom"), "measure_presence_rate"] == 0.0
    assert bool(rates.loc[("A", "lighting"), "required"])
    assert rates.loc[("A", "lighting"), "group"] == "physical"


def test_compliance_with_custom_requirements_and_no_compounds():
    comm = _communities(codes=("A", "C"), boxes=((0, 0, 100, 100), (500, 0, 600, 100)),
                        population=(1.0, 1.0))
    res = compound_compliance(_compounds(), comm, required_physical=["fence"],
                              required_technical=[])
    assert res.frame.loc["A", "compound_compliance_ratio"] == 1.0  # "gone" counts too
    assert res.frame.loc["A", "compounds_total"] == 3
    assert np.isnan(res.frame.loc["C", "compound_compliance_ratio"])
    assert res.compounds_unassigned == 1  # "in-b" is in no community here


def test_compliance_errors():
    comm = _communities()
    comps = _compounds()
    with pytest.raises(ValueError, match="at least one measure must be required"):
        compound_compliance(comps, comm, required_physical=(), required_technical=())
    with pytest.raises(TypeError, match="required_physical must be a collection"):
        compound_compliance(comps, comm, required_physical="fence")
    with pytest.raises(ValueError, match="without commas"):
        compound_compliance(comps, comm, required_technical=["cctv,alarm"])
    with pytest.raises(ValueError, match="compounds lacks column"):
        compound_compliance(comps.drop(columns="measures"), comm)
    with pytest.raises(ValueError, match="different CRSs"):
        compound_compliance(comps.to_crs(GK), comm)
