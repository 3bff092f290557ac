"""CSV for machines (issue 12, item 9): header and rows only, the provenance beside them.

Over HTTP a CSV links to the provenance of the same request (``Link: rel="describedby"``,
``format=provenance``), which the same trust layer answers; ``bom=false`` leaves out the
byte-order mark and ``csv_comments=true`` restores the old leading ``# key: value`` lines.
"""

from __future__ import annotations

import io
import re
from urllib.parse import parse_qsl, urlsplit

import pandas as pd
import pytest

from api.provenance import PROVENANCE_MEDIA_TYPE


def _link(response) -> str:
    match = re.match(r'<([^>]*)>; rel="describedby"', response.headers["link"])
    assert match, response.headers["link"]
    return match.group(1)


def test_pandas_reads_the_csv_and_the_link_gives_its_provenance(client, city):
    h = city.headers("planner")
    params = {"period": "2025", "district": "东城区", "format": "csv"}
    response = client.get("/api/v1/rates", params=params, headers=h)
    assert response.status_code == 200
    assert response.content.startswith("\ufeffcode,".encode())  # the BOM, then the header
    frame = pd.read_csv(io.BytesIO(response.content), encoding="utf-8-sig")
    assert list(frame["code"]) == ["C1", "C2"]
    # the link: same path, same query, format=provenance, percent-encoded (a header is Latin-1)
    url = _link(response)
    url.encode("ascii")
    parts = urlsplit(url)
    assert parts.path == "/api/v1/rates"
    assert sorted(parse_qsl(parts.query)) == sorted({**params, "format": "provenance"}.items())
    described = client.get(url, headers=h)
    assert described.status_code == 200
    assert described.headers["content-type"].startswith(PROVENANCE_MEDIA_TYPE)
    doc = described.json()
    assert doc["describes"] == {"media_type": "text/csv", "rows": 2,
                                "columns": list(frame.columns)}
    as_json = client.get("/api/v1/rates", params={**params, "format": "json"}, headers=h).json()
    drop = {"generated_at"}
    assert ({k: v for k, v in doc["provenance"].items() if k not in drop}
            == {k: v for k, v in as_json["provenance"].items() if k not in drop})
    assert doc["provenance"]["release"]["min_count_shown"] == 3  # the planner's release rule


def test_bom_and_comment_lines_are_options(client, city):
    h = city.headers("admin")
    base = {"period": "2025", "format": "csv"}
    plain = client.get("/api/v1/rates", params={**base, "bom": "false"}, headers=h).content
    assert plain.startswith(b"code,")
    assert pd.read_csv(io.BytesIO(plain))["code"].tolist()[:4] == ["C1", "C2", "C3", "C4"]
    old = client.get("/api/v1/rates", params={**base, "csv_comments": "true"}, headers=h)
    text = old.content.decode("utf-8")
    assert text.startswith("\ufeff# data_version: ")
    assert "\n# period: 2025\n" in text
    both = client.get("/api/v1/rates", params={**base, "csv_comments": "true", "bom": "false"},
                      headers=h).content
    assert both.startswith(b"# data_version: ")
    assert client.get("/api/v1/rates", params={**base, "bom": "maybe"},
                      headers=h).status_code == 422


def test_a_paginated_csv_links_to_its_page(client, city):
    h = city.headers("admin")
    response = client.get("/api/v1/incidents", params={"format": "csv", "limit": 3,
                                                        "offset": 2}, headers=h)
    assert response.headers["cache-control"] == "no-store"
    assert len(pd.read_csv(io.BytesIO(response.content), encoding="utf-8-sig")) == 3
    described = client.get(_link(response), headers=h)
    assert described.headers["cache-control"] == "no-store"
    assert described.json()["provenance"]["page"] == {"total": 15, "limit": 3, "offset": 2}


def test_the_provenance_of_a_place_outside_the_jurisdiction_is_refused_too(client, city):
    h = city.headers("liaison")
    for fmt in ("csv", "provenance"):
        r = client.get("/api/v1/rates", params={"period": "2025", "district": "D2",
                                                "format": fmt}, headers=h)
        assert r.status_code == 403, (fmt, r.text)
    assert client.get("/api/v1/rates", params={"period": "2025", "format": "provenance"}
                      ).status_code == 401


@pytest.mark.slow  # over 2 s: outside the fast subset (-m "not slow")
def test_every_csv_route_links_to_its_provenance(client, city):
    spec = client.app.openapi()
    h = city.headers("admin")
    checked = []
    for route, ops in spec["paths"].items():
        op = ops.get("get", {})
        fmt = next((p for p in op.get("parameters", []) if p["name"] == "format"), None)
        if fmt is None or "csv" not in fmt["schema"].get("enum", []):
            continue
        assert "provenance" in fmt["schema"]["enum"], route
        assert "Link" in op["responses"]["200"]["headers"], route
        path = route.replace("{code}", "C1")
        params = {"format": "csv", "period": "2025", "type": "police_office"}
        response = client.get(path, params=params, headers=h)
        assert response.status_code == 200, (route, response.text)
        described = client.get(_link(response), headers=h)
        assert described.status_code == 200, route
        header = response.content.decode("utf-8-sig").split("\n", 1)[0]
        assert header.split(",") == described.json()["describes"]["columns"], route
        checked.append(route)
    assert len(checked) >= 17, checked
