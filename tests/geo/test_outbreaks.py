import datetime as dt
import itertools

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from geo.errors import InputError, ParameterError
from geo.outbreaks import background_incidents, plant_outbreaks

GK_117 = "EPSG:4548"
X0, Y0 = 440_000.0, 4_420_000.0


def communities(n=6):
    # Triangles and squares: rejection sampling must keep points inside non-rectangles too.
    shapes = []
    for i in range(n):
        x = X0 + i * 1000
        shapes.append(shapely.Polygon([(x, Y0), (x + 900, Y0), (x, Y0 + 900)]) if i % 2
                      else shapely.box(x, Y0, x + 900, Y0 + 900))
    return gpd.GeoDataFrame({"code": [f"c{i}" for i in range(n)]}, geometry=shapes, crs=GK_117)


def expected_weekly(n=6, weeks=60, first="2024-01-01"):
    mondays = pd.date_range(first, periods=weeks, freq="7D")
    means = np.outer(1 + 0.5 * np.sin(np.arange(weeks) / 5), np.arange(1, n + 1) * 2.0)
    return pd.DataFrame(means, index=mondays, columns=[f"c{i}" for i in range(n)])


def test_the_planting_rule():
    comm, expected = communities(), expected_weekly()
    start, end = dt.date(2024, 1, 3), dt.date(2024, 12, 31)
    planted = plant_outbreaks(comm, expected, start=start, end=end, n_outbreaks=30, seed=7)
    m = planted.manifest
    assert len(m) == 30 and m["outbreak"].tolist() == list(range(30))
    assert m["k"].tolist() == [2, 3, 5] * 10  # k in turn
    assert all(s.weekday() == 0 and s >= dt.date(2024, 1, 8) for s in m["start"])  # Mondays
    assert all(e == s + dt.timedelta(days=13) and e <= end for s, e in zip(m["start"], m["end"],
                                                                           strict=True))
    for row in m.itertuples():
        weeks = pd.to_datetime([row.start, row.start + dt.timedelta(days=7)])
        e = expected.loc[weeks, row.community].sum()
        assert row.expected == pytest.approx(e)
        assert row.added == round((row.k - 1) * e)
        mine = planted.incidents[planted.incidents["id"].str.startswith(
            f"outbreak-{row.outbreak:03d}-")]
        assert len(mine) == row.added
        assert (mine["community_code"] == row.community).all()
        polygon = comm.set_index("code").geometry[row.community]
        assert mine.within(polygon).all()
        local = mine["occurred_at"].dt.tz_convert("Asia/Shanghai").dt.date
        assert (local >= row.start).all() and (local <= row.end).all()
    # Outbreaks of one community are at least 4 weeks apart beyond the first one's end.
    for _, group in m.groupby("community"):
        starts = sorted(group["start"])
        assert all((b - a).days >= 7 * (2 + 4) for a, b in itertools.pairwise(starts))
    assert m["seed"].eq(7).all()
    assert planted.incidents["id"].is_unique
    assert planted.incidents.crs == comm.crs
    assert set(planted.incidents.columns) >= {"id", "occurred_at", "category", "status",
                                              "location_precision", "community_code"}


def test_seeded_and_reproducible():
    comm, expected = communities(), expected_weekly()
    options = {"start": dt.date(2024, 1, 1), "end": dt.date(2024, 12, 31), "n_outbreaks": 12}
    a = plant_outbreaks(comm, expected, seed=1, **options)
    b = plant_outbreaks(comm, expected, seed=1, **options)
    c = plant_outbreaks(comm, expected, seed=2, **options)
    pd.testing.assert_frame_equal(a.manifest, b.manifest)
    pd.testing.assert_frame_equal(a.incidents, b.incidents)
    assert not a.manifest[["community", "start"]].equals(c.manifest[["community", "start"]])


def test_background_counts_follow_the_expected_means():
    comm = communities(2)
    expected = expected_weekly(2, weeks=200)
    frame = background_incidents(comm, expected, seed=3)
    local = frame["occurred_at"].dt.tz_convert("Asia/Shanghai").dt.tz_localize(None)
    week = local.dt.to_period("W-SUN").dt.start_time
    counts = frame.groupby([week, frame["community_code"]]).size().unstack(fill_value=0)
    counts = counts.reindex(index=expected.index, columns=expected.columns, fill_value=0)
    # Same seed, same draws: the counts are numpy's Poisson draws of the means.
    np.testing.assert_array_equal(counts.to_numpy(),
                                  np.random.default_rng(3).poisson(expected.to_numpy()))
    # and they average to the means (200 weeks, means 1-9: within 3 standard errors).
    total, mean = counts.to_numpy().sum(axis=0), expected.to_numpy().sum(axis=0)
    assert np.all(np.abs(total - mean) < 3 * np.sqrt(mean))
    for code, polygon in zip(comm["code"], comm.geometry, strict=True):
        assert frame.loc[frame["community_code"] == code].within(polygon).all()


@pytest.mark.parametrize(("options", "error", "match"), [
    ({"start": dt.date(2024, 1, 1), "end": dt.date(2024, 1, 10)}, ParameterError, "window"),
    ({"ks": ()}, ParameterError, "ks"),
    ({"ks": (2, 0)}, ParameterError, "ks"),
    ({"n_outbreaks": 0}, ParameterError, "n_outbreaks"),
    ({"n_outbreaks": 60, "spacing_weeks": 20}, ParameterError, "space"),
    ({"start": "2024-01-01"}, ParameterError, "start"),
    ({"timezone": "Nowhere/Town"}, ParameterError, "timezone"),
])
def test_bad_options(options, error, match):
    options = {"start": dt.date(2024, 1, 1), "end": dt.date(2024, 12, 31), **options}
    with pytest.raises(error, match=match):
        plant_outbreaks(communities(), expected_weekly(), **options)


def test_bad_inputs():
    comm, expected = communities(), expected_weekly()
    span = {"start": dt.date(2024, 1, 1), "end": dt.date(2024, 12, 31)}
    with pytest.raises(InputError, match="no column"):
        plant_outbreaks(comm, expected.drop(columns="c3"), **span)
    with pytest.raises(InputError, match="no row"):
        plant_outbreaks(comm, expected.iloc[:20], **span)
    with pytest.raises(InputError, match="unique"):
        plant_outbreaks(pd.concat([comm, comm]), expected, **span)
    with pytest.raises(InputError, match="GeoDataFrame"):
        plant_outbreaks(pd.DataFrame(comm), expected, **span)
    with pytest.raises(InputError, match="DataFrame"):
        plant_outbreaks(comm, expected.to_numpy(), **span)
    with pytest.raises(InputError, match=">= 0"):
        background_incidents(comm, -expected)
    with pytest.raises(ParameterError, match="Mondays"):
        background_incidents(comm, expected.set_index(expected.index + pd.Timedelta(days=1)))
