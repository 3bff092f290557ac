"""Fixtures for service and route tests: a hand-made lattice city.

The sample city's fixtures (``sample_city``, ``sample_db``…) are in ``tests/conftest.py``.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from api.loading import load_file

# The HTTP API tests' fixtures ``city``, ``client`` and ``fresh`` (named in __all__ so that
# linters keep these imports).
from tests.api.appcity import city_fixture, client_fixture, fresh_fixture
from tests.api.lattice import lattice_communities, lattice_incidents

__all__ = ["city_fixture", "client_fixture", "fresh_fixture"]


@pytest.fixture
def lattice_db(engine, tmp_path: Path):
    """The lattice city loaded into a fresh database (each backend)."""
    lattice_communities().to_file(tmp_path / "c.geojson", driver="GeoJSON")
    pd.DataFrame({"code": ["L00", "L00"], "year": [2024, 2025],
                  "population": [8000, 12_000]}).to_csv(tmp_path / "p.csv", index=False)
    lattice_incidents().to_csv(tmp_path / "i.csv", index=False)
    load_file(engine, tmp_path / "c.geojson", "communities")
    load_file(engine, tmp_path / "p.csv", "population")
    # the incidents fall on the 15th of each month of 2024 and 2025: both years are covered
    load_file(engine, tmp_path / "i.csv", "incidents", covers="2024-01-01..2025-12-31")
    return engine
