"""Fixtures for service and route tests: a hand-made lattice city.

The sample city's fixtures (``sample_city``, ``sample_db``…) are in ``tests/conftest.py``.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa

from api.db import migrate
from api.loading import load_file

# The HTTP API tests' fixtures ``city``, ``client`` and ``fresh`` (named in __all__ so that
# linters keep these imports).
from tests.api.appcity import city_fixture, client_fixture, fresh_fixture
from tests.api.lattice import lattice_communities, lattice_incidents
from tests.conftest import SpatialiteTemplates

__all__ = ["city_fixture", "client_fixture", "fresh_fixture"]


def load_lattice(engine: sa.Engine, folder: Path) -> None:
    """Write the lattice city's files into ``folder`` and load them."""
    folder.mkdir(exist_ok=True)
    lattice_communities().to_file(folder / "c.geojson", driver="GeoJSON")
    pd.DataFrame({"code": ["L00", "L00"], "year": [2024, 2025],
                  "population": [8000, 12_000]}).to_csv(folder / "p.csv", index=False)
    lattice_incidents().to_csv(folder / "i.csv", index=False)
    load_file(engine, folder / "c.geojson", "communities")
    load_file(engine, folder / "p.csv", "population")
    # the incidents fall on the 15th of each month of 2024 and 2025: both years are covered
    load_file(engine, folder / "i.csv", "incidents", covers="2024-01-01..2025-12-31")


@pytest.fixture
def lattice_db(engine, db_url: str, spatialite_templates: SpatialiteTemplates, tmp_path: Path):
    """The lattice city loaded into a fresh database (each backend).

    On SpatiaLite the database is a copy of this worker's loaded lattice (built on first use).
    """
    if not db_url.startswith("sqlite:///"):
        load_lattice(engine, tmp_path)
        return engine

    def build(eng: sa.Engine) -> None:
        migrate(eng)
        load_lattice(eng, spatialite_templates.folder / "lattice-files")

    engine.dispose()
    target = Path(db_url.removeprefix("sqlite:///"))
    for suffix in ("-wal", "-shm"):
        Path(f"{target}{suffix}").unlink(missing_ok=True)
    spatialite_templates.copy_to("lattice", target, build)
    return engine
