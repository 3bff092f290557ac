"""Early-warning alerts on the sample city find its planted outbreaks with few false alerts.

The sample city plants 36 outbreaks of two weeks (12 each of k = 2, 3, 5 times the expected
count; :mod:`geo.sample.outbreaks`). Replaying the weekly community alerts of the service
(:func:`api.services.alerts.alerts_result`, its defaults) as of every Sunday from the first
outbreak week to the end of 2025, without looking ahead, an outbreak is found when its
community alerts in one of its two weeks. Targets (issue 13): at least 90 % of the outbreaks
with k ≥ 3 found, at most 1 false alert per 100 community-weeks outside the outbreaks.
Measured (``bench/alerts.py`` prints them): 23 of 24 (96 %; every k = 5, 11 of 12 k = 3) and
0.32 false alerts per 100 community-weeks; the test asserts the recall target and at most 0.7
false alerts, so a change that doubled them fails.
"""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pandas as pd
import pytest

from api.release import Visibility
from api.services import ServiceContext
from api.services.alerts import alerts_report, alerts_result
from api.settings import Settings
from geo.sample.outbreaks import FIRST_DAY, LAST_DAY

pytestmark = pytest.mark.slow  # over 2 s: outside the fast subset (-m "not slow")


@pytest.fixture(scope="module")
def ctx(sample_db):
    return ServiceContext(sample_db, Settings(database_url="sqlite://"))


def replay(ctx) -> pd.DataFrame:
    admin = Visibility.admin(ctx.settings)
    weeks = []
    sunday = FIRST_DAY + dt.timedelta(days=6)
    while sunday <= LAST_DAY:
        frame = alerts_result(ctx, admin, level="community", as_of=sunday).frame
        weeks.append(frame[["unit", "step", "alert", "method"]])
        sunday += dt.timedelta(days=7)
    return pd.concat(weeks, ignore_index=True)


def test_planted_outbreaks_are_alerted_with_few_false_alerts(ctx, sample_city):
    weekly = replay(ctx)
    manifest = sample_city.outbreaks
    inside = np.zeros(len(weekly), dtype=bool)
    found = []
    for row in manifest.itertuples():
        mine = ((weekly["unit"] == row.community) & (weekly["step"] >= row.start)
                & (weekly["step"] <= row.end)).to_numpy()
        assert mine.sum() == 2  # both weeks of the outbreak were tested
        inside |= mine
        found.append(bool(weekly.loc[mine, "alert"].any()))
    hits = pd.Series(found, index=manifest.index)
    recall_3 = float(hits[manifest["k"] >= 3].mean())
    false_per_100 = 100 * float(weekly.loc[~inside, "alert"].sum()) / int((~inside).sum())
    assert recall_3 >= 0.9, recall_3
    assert false_per_100 <= 0.7, false_per_100
    assert hits[manifest["k"] == 5].all()
    # two years of history are never complete in 2024-2025: EARS C2 ran everywhere
    assert set(weekly["method"]) == {"ears_c2"}


def test_the_manifest_lists_the_outbreaks(sample_manifest, sample_city):
    doc = json.loads(sample_manifest.read_text("utf-8"))["outbreaks"]
    assert doc["module"] == "geo.sample.outbreaks" and doc["seed"] == 20250113
    assert len(doc["list"]) == 36 and doc["rule"] == sample_city.outbreak_rule
    first = sample_city.outbreaks.iloc[0]
    assert doc["list"][0]["community"] == first["community"]
    assert doc["list"][0]["start"] == first["start"].isoformat()


def test_a_planner_sees_the_outbreak_alert_without_figures(ctx, sample_city):
    planner = Visibility("planner", None, protected=True, raw=False, unassigned=False)
    row = sample_city.outbreaks.set_index("outbreak").loc[32]  # k = 5 from 14 July 2025
    sunday = row["start"] + dt.timedelta(days=6)
    rep = alerts_report(ctx, planner, as_of=sunday)
    assert row["community"] in set(rep.frame["unit"])
    assert "observed" not in rep.frame and "q_value" not in rep.frame
    assert rep.frame["alert"].all() and "notes" not in rep.provenance
    admin = alerts_report(ctx, Visibility.admin(ctx.settings), as_of=sunday,
                          alerts_only=True).frame
    # the planner's units are the admin's alerts with at least 3 cases
    assert set(rep.frame["unit"]) == set(admin.loc[admin["observed"] >= 3, "unit"])
