"""Every metric command's output on the sample city equals the baseline, on both backends.

The baseline (``tests/data/cli_baseline``) was written by ``tests/cli_snapshot.py`` from main
before the restructuring issues began; a refactor or a storage change that moves a number
fails here. See :mod:`tests.cli_snapshot` for what is normalised.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cli_snapshot import COMMANDS, parse, run_all

BASELINE = Path(__file__).parents[1] / "data" / "cli_baseline"

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module", params=["spatialite",
                                        pytest.param("postgis", marks=pytest.mark.postgis)])
def sample_url(request: pytest.FixtureRequest, sample_db) -> Iterator[str]:
    if request.param == "spatialite":
        yield str(sample_db.url)
        return
    from api.db import create_db_engine, migrate
    from api.demo import load_sample
    from tests.conftest import postgis_schema

    manifest = request.getfixturevalue("sample_manifest")
    with postgis_schema() as url:
        engine = create_db_engine(url)
        migrate(engine)
        load_sample(engine, manifest, timezone="Asia/Shanghai", echo=lambda _m: None)
        engine.dispose()
        yield url


@pytest.mark.parametrize("name", list(COMMANDS))
def test_output_equals_baseline(sample_url: str, name: str) -> None:
    suffix = "csv" if "--format" in COMMANDS[name] else "json"
    expected = parse((BASELINE / f"{name}.{suffix}").read_text(encoding="utf-8"))
    got = parse(run_all(sample_url, names=[name])[name])
    assert got == expected
