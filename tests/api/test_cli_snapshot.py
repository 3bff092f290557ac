"""Every metric command's output on the sample city equals the baseline, on both backends.

The baseline (``tests/data/cli_baseline``) was written by ``tests/cli_snapshot.py`` from main
before the restructuring issues began; a refactor or a storage change that moves a number
fails here. See :mod:`tests.cli_snapshot` for what is normalised.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from urllib.parse import quote

import pytest
import sqlalchemy as sa

from tests.cli_snapshot import COMMANDS, parse, run_all

BASELINE = Path(__file__).parents[1] / "data" / "cli_baseline"

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module", params=["spatialite",
                                        pytest.param("postgis", marks=pytest.mark.postgis)])
def sample_url(request: pytest.FixtureRequest, sample_db) -> str:
    if request.param == "spatialite":
        return str(sample_db.url)
    from api.db import create_db_engine, migrate
    from api.demo import load_sample
    from tests.conftest import POSTGIS_URL, REQUIRE_POSTGIS, postgis_reason

    reason = postgis_reason()
    if reason:
        if REQUIRE_POSTGIS:
            pytest.fail(reason)
        pytest.skip(reason)
    manifest = request.getfixturevalue("sample_manifest")
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(POSTGIS_URL)
    with admin.begin() as conn:
        conn.execute(sa.text(f"CREATE SCHEMA {schema}"))
    sep = "&" if "?" in POSTGIS_URL else "?"
    url = f"{POSTGIS_URL}{sep}options={quote(f'-csearch_path={schema},public')}"
    engine = create_db_engine(url)
    migrate(engine)
    load_sample(engine, manifest, timezone="Asia/Shanghai", echo=lambda _m: None)
    engine.dispose()
    request.addfinalizer(lambda: _drop(admin, schema))
    return url


def _drop(admin: sa.Engine, schema: str) -> None:
    with admin.begin() as conn:
        conn.execute(sa.text(f"DROP SCHEMA {schema} CASCADE"))
    admin.dispose()


@pytest.mark.parametrize("name", list(COMMANDS))
def test_output_equals_baseline(sample_url: str, name: str) -> None:
    suffix = "csv" if "--format" in COMMANDS[name] else "json"
    expected = parse((BASELINE / f"{name}.{suffix}").read_text(encoding="utf-8"))
    got = parse(run_all(sample_url, names=[name])[name])
    assert got == expected
