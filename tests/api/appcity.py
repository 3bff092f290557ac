"""Shared fixtures of the HTTP API tests: a small hand-made city on both backends, with keys.

The city (EPSG:4326, around 116.30E 39.90N):

    district D1 (东城区): C1 (subdistrict S11, 10,000 residents), C2 (S12, 5,000)
    district D2 (西城区): C3 (S21, 20,000), C4 (S21, 2,000)

four squares of 0.01 degrees in a row from west to east (C1, C2, C3, C4). Incidents of 2025
sit in tight clusters at the centre of one 250 m cell of the fixed grid (EPSG:4548, cell edges
at multiples of 250 m) inside each community: C1 5, C2 2, C3 4, C4 1, and one outside every
community (east of C4, unassigned). One more 2025 record has no location but the community
code C3, and one record of 2024 lies in C1. Inventories: two cameras in C1 (one faulty), two
compounds in C1, police offices in C1 and C3 and a police station in C2. So for 2025:

    community counts  C1 5, C2 2, C3 5, C4 1 (+1 unassigned)
    grid counts       C1 5, C2 2, C3 4, C4 1, outside 1 (1 record has no location)

The other ``test_app_*`` modules import the fixtures (``city_fixture``, registered as ``city``,
``client_fixture`` as ``client``, ``fresh_fixture`` as ``fresh``) from here.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyproj
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from shapely.geometry import LineString, box

from api.app import create_app
from api.auth import create_key, revoke_key
from api.db import create_db_engine, migrate
from api.loading import load_file
from api.settings import Settings
from tests.conftest import SpatialiteTemplates

X0, Y0 = 116.30, 39.90
CELL_M = 250.0
GRID_CRS = "EPSG:4548"

COMMUNITIES = [
    # code, name, subdistrict_code, subdistrict, district_code, district, population, west edge
    ("C1", "和平社区", "S11", "东华门街道", "D1", "东城区", 10000.0, X0),
    ("C2", "安定社区", "S12", "安定门街道", "D1", "东城区", 5000.0, X0 + 0.01),
    ("C3", "金融街社区", "S21", "金融街街道", "D2", "西城区", 20000.0, X0 + 0.02),
    ("C4", "月坛社区", "S21", "金融街街道", "D2", "西城区", 2000.0, X0 + 0.03),
]
#: Incidents of 2025 per community cluster ("OUT" is east of C4, in no community).
CLUSTERS = {"C1": 5, "C2": 2, "C3": 4, "C4": 1, "OUT": 1}
#: Counts of 2025 by community (C3 includes the record with no location).
COUNTS_2025 = {"C1": 5, "C2": 2, "C3": 5, "C4": 1}
POPULATION = {c[0]: c[6] for c in COMMUNITIES}
ROLES = ("admin", "liaison", "planner", "client")


@functools.cache
def _transformer(source: str, target: str) -> pyproj.Transformer:
    return pyproj.Transformer.from_crs(source, target, always_xy=True)


def cell_of(lon: float, lat: float) -> tuple[int, int]:
    """The (ix, iy) of the 250 m grid cell holding a point."""
    x, y = _transformer("EPSG:4326", GRID_CRS).transform(lon, lat)
    return int(x // CELL_M), int(y // CELL_M)


def cell_centre(ix: int, iy: int, dx_m: float = 0.0, dy_m: float = 0.0) -> tuple[float, float]:
    """lon, lat of a point ``dx_m, dy_m`` from the centre of cell (ix, iy)."""
    x, y = (ix + 0.5) * CELL_M + dx_m, (iy + 0.5) * CELL_M + dy_m
    lon, lat = _transformer(GRID_CRS, "EPSG:4326").transform(x, y)
    return float(lon), float(lat)


@functools.cache
def cluster_cells() -> dict[str, tuple[int, int]]:
    """The cell of each cluster: the cell holding the middle of its community."""
    middles = {c[0]: (c[7] + 0.005, Y0 + 0.005) for c in COMMUNITIES}
    middles["OUT"] = (X0 + 0.045, Y0 + 0.005)
    return {k: cell_of(*v) for k, v in middles.items()}


def incident_rows() -> list[dict[str, object]]:
    """The incidents of the city (see the module docstring)."""
    rows: list[dict[str, object]] = []
    for code, n in CLUSTERS.items():
        ix, iy = cluster_cells()[code]
        for i in range(n):
            lon, lat = cell_centre(ix, iy, dx_m=-40.0 + 20.0 * i, dy_m=10.0 * (i % 2))
            month = 1 + i % 9
            rows.append({"id": f"{code}-{i + 1}", "occurred_at": f"2025-0{month}-15 10:00:00",
                         "category": "fraud" if i == 0 else "theft", "status": "filed",
                         "address": f"{code}胡同{i + 1}号", "lon": lon, "lat": lat,
                         "location_precision": "exact", "community_code": None})
    rows.append({"id": "C3-noloc", "occurred_at": "2025-06-01 12:00:00", "category": "theft",
                 "status": "filed", "address": "C3胡同无号", "lon": None, "lat": None,
                 "location_precision": "address", "community_code": "C3"})
    lon, lat = cell_centre(*cluster_cells()["C1"], dx_m=60.0)
    rows.append({"id": "C1-2024", "occurred_at": "2024-03-01 09:00:00", "category": "theft",
                 "status": "filed", "address": "C1胡同旧号", "lon": lon, "lat": lat,
                 "location_precision": "exact", "community_code": None})
    return rows


@functools.cache
def incident_points() -> dict[str, tuple[float, float]]:
    """Incident id -> (lon, lat) of every located incident."""
    return {str(r["id"]): (float(r["lon"]), float(r["lat"]))
            for r in incident_rows() if r["lon"] is not None}


def write_city(directory: Path) -> tuple[Path, Path]:
    """Write the communities (GeoJSON) and incidents (CSV) files."""
    comms = gpd.GeoDataFrame(
        {"code": [c[0] for c in COMMUNITIES], "name": [c[1] for c in COMMUNITIES],
         "subdistrict_code": [c[2] for c in COMMUNITIES],
         "subdistrict": [c[3] for c in COMMUNITIES],
         "district_code": [c[4] for c in COMMUNITIES], "district": [c[5] for c in COMMUNITIES],
         "population": [c[6] for c in COMMUNITIES]},
        geometry=[box(c[7], Y0, c[7] + 0.01, Y0 + 0.01) for c in COMMUNITIES], crs="EPSG:4326")
    c_path = directory / "communities.geojson"
    comms.to_file(c_path, driver="GeoJSON")
    i_path = directory / "incidents.csv"
    pd.DataFrame(incident_rows()).to_csv(i_path, index=False)
    return c_path, i_path


def write_inventories(directory: Path) -> dict[str, Path]:
    """Write the devices, compounds and facilities (CSV) of the city."""
    mid = {c[0]: (c[7] + 0.005, Y0 + 0.005) for c in COMMUNITIES}
    files = {
        "devices": [
            {"id": "V1", "kind": "camera", "azimuth_deg": 90, "fov_deg": 90, "range_m": 60,
             "status": "working", "lon": mid["C1"][0], "lat": mid["C1"][1] + 0.002},
            {"id": "V2", "kind": "dome", "range_m": 40, "status": "faulty",
             "lon": mid["C1"][0], "lat": mid["C1"][1] - 0.002}],
        "compounds": [
            {"id": "K1", "name": "和平里小区", "population": 3000,
             "measures": "fence,gate_guard,lighting,cctv_entrances,access_control",
             "lon": mid["C1"][0] - 0.002, "lat": mid["C1"][1]},
            {"id": "K2", "name": "和平西里", "population": 1000, "measures": "fence",
             "lon": mid["C1"][0] + 0.002, "lat": mid["C1"][1]}],
        "facilities": [
            {"id": "F1", "type": "police_office", "name": "和平警务室", "lon": mid["C1"][0],
             "lat": mid["C1"][1]},
            {"id": "F2", "type": "police_station", "name": "安定派出所", "lon": mid["C2"][0],
             "lat": mid["C2"][1]},
            {"id": "F3", "type": "police_office", "name": "金融街警务室", "lon": mid["C3"][0],
             "lat": mid["C3"][1]}],
    }
    out = {}
    for layer, rows in files.items():
        out[layer] = directory / f"{layer}.csv"
        pd.DataFrame(rows).to_csv(out[layer], index=False)
    return out


def write_roads(directory: Path) -> Path:
    """Write the city's streets (GeoJSON): a grid every 0.0025 degrees over the four squares.

    Every facility lies on a crossing. The street along the southern edge is a one-way
    secondary road (eastbound); the rest are residential.
    """
    lines, classes, oneway = [], [], []
    for k in range(5):
        y = Y0 + 0.0025 * k
        lines.append(LineString([(X0, y), (X0 + 0.04, y)]))
        classes.append("secondary" if k == 0 else "residential")
        oneway.append("yes" if k == 0 else "no")
    for k in range(17):
        x = X0 + 0.0025 * k
        lines.append(LineString([(x, Y0), (x, Y0 + 0.01)]))
        classes.append("residential")
        oneway.append("no")
    path = directory / "roads.geojson"
    gpd.GeoDataFrame({"highway": classes, "oneway": oneway}, geometry=lines,
                     crs="EPSG:4326").to_file(path, driver="GeoJSON")
    return path


#: The data version after :func:`load_city` (one per load).
DATA_VERSION = 6


def load_city(engine: sa.Engine, directory: Path) -> None:
    """Load the city into a migrated database (data version :data:`DATA_VERSION`)."""
    from api.roads import load_roads

    c_path, i_path = write_city(directory)
    load_file(engine, c_path, "communities")
    load_file(engine, i_path, "incidents")
    for layer, path in write_inventories(directory).items():
        load_file(engine, path, layer)
    load_roads(engine, write_roads(directory))


@dataclass
class City:
    """A loaded city with an app and a token per role."""

    engine: sa.Engine
    settings: Settings
    tokens: dict[str, str]
    backend: str

    def client(self, **settings_overrides: object) -> TestClient:
        """A client of an app on this city's database (settings may be overridden)."""
        settings = Settings(**{**self.settings.model_dump(), **settings_overrides})
        return TestClient(create_app(settings, engine=self.engine))

    def headers(self, role: str) -> dict[str, str]:
        """Authorization header of a role's key (``liaison`` is D1's liaison)."""
        return {"Authorization": f"Bearer {self.tokens[role]}"}


def make_keys(engine: sa.Engine) -> dict[str, str]:
    """One key per role, a liaison of D2's subdistrict S21, and an expired and a revoked key."""
    import datetime as dt

    tokens = {
        "admin": create_key(engine, name="管理员", role="admin").token,
        "liaison": create_key(engine, name="东城联络员", role="liaison",
                              jurisdictions=["D1"]).token,
        "liaison_s21": create_key(engine, name="金融街联络员", role="liaison",
                                  jurisdictions=["S21"]).token,
        "planner": create_key(engine, name="规划", role="planner").token,
        "client": create_key(engine, name="dashboard", role="client").token,
        "expired": create_key(engine, name="old", role="admin", expires_in_days=1,
                              now=dt.datetime(2020, 1, 1)).token,
    }
    revoked = create_key(engine, name="gone", role="admin")
    revoke_key(engine, revoked.key.id)
    tokens["revoked"] = revoked.token
    return tokens


def app_settings(url: str) -> Settings:
    """Settings of the test apps: no rate limits, the given database."""
    return Settings(database_url=url, api={"rate_limit_per_minute": 0,
                                           "auth_failures_per_minute": 0})


def log_in(client: TestClient, token: str, *, next: str | None = None,
           follow_redirects: bool = False):
    """Log a test client in through the form, as a browser does; return the POST's response."""
    import re

    page = client.get("/login")
    field = re.search(r'name="login_token" value="([^"]+)"', page.text)
    assert field is not None, page.text
    data = {"key": token, "login_token": field.group(1)}
    if next is not None:
        data["next"] = next
    return client.post("/login", data=data, follow_redirects=follow_redirects)


def page_csrf(client: TestClient) -> str:
    """The CSRF token of a logged-in client's session, as the map workspace's page holds it."""
    import re

    page = client.get("/map", headers={"Accept": "text/html"})
    field = re.search(r'<meta name="csrf-token" content="([^"]+)"', page.text)
    assert field is not None, page.text[:500]
    return field.group(1)


def loaded_city_template(templates: SpatialiteTemplates) -> Callable[[sa.Engine], object]:
    """Build step of the SpatiaLite template of the loaded city: its keys' tokens."""
    def build(engine: sa.Engine) -> dict[str, str]:
        migrate(engine)
        files = templates.folder / "city-files"
        files.mkdir(exist_ok=True)
        load_city(engine, files)
        return make_keys(engine)

    return build


@pytest.fixture(name="city", scope="module",
                params=["spatialite", pytest.param("postgis", marks=pytest.mark.postgis)])
def city_fixture(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
                 spatialite_templates: SpatialiteTemplates) -> Iterator[City]:
    """The city, loaded once per module and backend (tests must not write to it).

    On SpatiaLite it is a copy of a city loaded once per worker (the same database).
    """
    from tests.conftest import postgis_schema

    tmp = tmp_path_factory.mktemp("city")
    if request.param == "spatialite":
        url = f"sqlite:///{tmp / 'city.db'}"
        tokens = spatialite_templates.copy_to("city", tmp / "city.db",
                                              loaded_city_template(spatialite_templates))
        engine = create_db_engine(url)
        yield City(engine, app_settings(url), dict(tokens), request.param)
        engine.dispose()
        return
    with postgis_schema() as url:
        engine = create_db_engine(url)
        migrate(engine)
        load_city(engine, tmp)
        tokens = make_keys(engine)
        yield City(engine, app_settings(url), tokens, request.param)
        engine.dispose()


@pytest.fixture(name="client", scope="module")
def client_fixture(city: City) -> Iterator[TestClient]:
    """A client of the city's app."""
    with city.client() as c:
        yield c


@pytest.fixture(name="fresh")
def fresh_fixture(db_url: str, spatialite_templates: SpatialiteTemplates, tmp_path: Path
                  ) -> Iterator[City]:
    """A city of its own (function scope, both backends) for tests that write.

    On SpatiaLite it is a copy of a city loaded once per worker (the same database).
    """
    if db_url.startswith("sqlite:///"):
        tokens = spatialite_templates.copy_to("city", Path(db_url.removeprefix("sqlite:///")),
                                              loaded_city_template(spatialite_templates))
        engine = create_db_engine(db_url)
    else:
        engine = create_db_engine(db_url)
        migrate(engine)
        load_city(engine, tmp_path)
        tokens = make_keys(engine)
    yield City(engine, app_settings(db_url), dict(tokens), engine.dialect.name)
    engine.dispose()
