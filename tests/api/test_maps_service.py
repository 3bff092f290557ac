"""The maps service on the sample city: pages in the configured local time."""

from __future__ import annotations

import re

from api.release import Visibility
from api.services import ServiceContext
from api.services.maps import build_map
from api.settings import Settings
from api.settings import Settings as _Settings
from maps import render_html

ADMIN = Visibility.admin(_Settings(database_url="sqlite:///unused.db"))


def test_incident_map_shows_local_times_and_months(sample_db, sample_city):
    inc = sample_city.incidents
    local = inc["occurred_at"].dt.tz_convert("Asia/Shanghai")
    # the earliest incident of 2025 in Beijing time: on 1 January locally, 31 December in UTC
    first = inc.loc[local[local.dt.year == 2025].idxmin()]
    when = first["occurred_at"].tz_convert("Asia/Shanghai")
    assert when.tz_convert("UTC").year == 2024
    settings = Settings(database_url=str(sample_db.url), timezone="Asia/Shanghai")
    html = render_html(build_map(ServiceContext(sample_db, settings), ADMIN, "incidents",
                                 period="2025-01").map)
    assert when.strftime("%Y-%m-%d %H:%M") in html
    assert when.tz_convert("UTC").strftime("%Y-%m-%d %H:%M") not in html
    months = set(re.findall(r'"(20\d\d-\d\d)"', html))
    assert "2025-01" in months and "2024-12" not in months
