"""Shared fixtures: fresh databases on both backends, and the sample city generated once.

PostGIS tests use ``PINGAN_TEST_POSTGIS_URL`` (default: the local server's ``pingan_test``
database) and a fresh schema per test. When the server is unreachable they are skipped, unless
``PINGAN_REQUIRE_POSTGIS=1`` (set by CI), in which case they fail. A SpatiaLite test database is
a copy of a template file built once per worker (:class:`SpatialiteTemplates`).

The sample city (frames, files and a loaded SpatiaLite database) is built once per test run and
shared by every xdist worker: the first worker to ask builds it under a file lock in a folder of
the run's base temporary directory named after the generator's version (a hash of the sources
of ``geo/sample/`` and ``api/sample_files.py``); the others wait, then read it. Tests get the
frames, a read-only manifest, and their worker's own copy of the database.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import pickle
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
import sqlalchemy as sa
from filelock import FileLock

os.environ.setdefault("SPATIALITE_LIBRARY_PATH", "mod_spatialite")

POSTGIS_URL = os.environ.get(
    "PINGAN_TEST_POSTGIS_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/pingan_test")
REQUIRE_POSTGIS = os.environ.get("PINGAN_REQUIRE_POSTGIS") == "1"


def _postgis_available() -> str | None:
    """None when PostGIS can be used, else the reason."""
    try:
        eng = sa.create_engine(POSTGIS_URL)
        with eng.begin() as conn:
            conn.execute(sa.text("CREATE EXTENSION IF NOT EXISTS postgis"))
        eng.dispose()
        return None
    except Exception as exc:  # any failure to connect means "not available here"
        return f"PostGIS at {POSTGIS_URL} not available: {str(exc).splitlines()[0]}"


_POSTGIS_REASON: list[str | None] = []


def postgis_reason() -> str | None:
    if not _POSTGIS_REASON:
        _POSTGIS_REASON.append(_postgis_available())
    return _POSTGIS_REASON[0]


@contextlib.contextmanager
def postgis_schema() -> Iterator[str]:
    """A URL of a fresh, empty PostGIS schema, dropped afterwards.

    Skips the test when PostGIS is unreachable, or fails it under ``PINGAN_REQUIRE_POSTGIS``.
    """
    reason = postgis_reason()
    if reason:
        if REQUIRE_POSTGIS:
            pytest.fail(reason)
        pytest.skip(reason)
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(POSTGIS_URL)
    with admin.begin() as conn:
        conn.execute(sa.text(f"CREATE SCHEMA {schema}"))
    sep = "&" if "?" in POSTGIS_URL else "?"
    try:
        yield f"{POSTGIS_URL}{sep}options={quote(f'-csearch_path={schema},public')}"
    finally:
        with admin.begin() as conn:
            conn.execute(sa.text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


@pytest.fixture(params=["spatialite", pytest.param("postgis", marks=pytest.mark.postgis)])
def db_url(request: pytest.FixtureRequest, tmp_path) -> Iterator[str]:
    """A URL of a fresh, empty database on each backend."""
    if request.param == "spatialite":
        yield f"sqlite:///{tmp_path / 'test.db'}"
        return
    with postgis_schema() as url:
        yield url


class SpatialiteTemplates:
    """SpatiaLite files built once per worker and copied for each test that wants one.

    Creating a SpatiaLite file costs about half a second (the spatial metadata), and a loaded
    test city more; a copy of the finished file costs milliseconds and is the same database.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.extras: dict[str, object] = {}

    def copy_to(self, name: str, target: Path, build) -> object:
        """Copy the template ``name`` (built by ``build(engine)`` on first use) to ``target``.

        Returns what ``build`` returned (for example the keys' tokens).
        """
        from api.db import create_db_engine

        source = self.folder / f"{name}.db"
        if name not in self.extras:
            eng = create_db_engine(f"sqlite:///{source}")
            self.extras[name] = build(eng)
            with eng.begin() as conn:  # everything into the main file: it is copied alone
                conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
            eng.dispose()
        shutil.copyfile(source, target)
        return self.extras[name]


@pytest.fixture(scope="session")
def spatialite_templates(tmp_path_factory: pytest.TempPathFactory) -> SpatialiteTemplates:
    """This worker's SpatiaLite templates (see :class:`SpatialiteTemplates`)."""
    return SpatialiteTemplates(tmp_path_factory.mktemp("templates"))


def migrated_template(engine: sa.Engine) -> None:
    """Build step of the migrated (empty) template."""
    from api.db import migrate

    migrate(engine)


@pytest.fixture
def engine(db_url: str, spatialite_templates: SpatialiteTemplates):
    """A migrated engine on a fresh database (each backend)."""
    from api.db import create_db_engine, migrate

    if db_url.startswith("sqlite:///"):
        spatialite_templates.copy_to("migrated", Path(db_url.removeprefix("sqlite:///")),
                                     migrated_template)
        eng = create_db_engine(db_url)
    else:
        eng = create_db_engine(db_url)
        migrate(eng)
    yield eng
    eng.dispose()


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """PostGIS runs of a test, and tests of the sample city, are ``slow``.

    The fast subset runs every other test on SpatiaLite only, and never waits for the sample
    city to be generated and loaded (a quarter of a minute of one worker). The full suite (CI)
    runs both backends and the sample city; ``-m "not slow"`` is the quick loop while editing.
    """
    for item in items:
        if (item.get_closest_marker("postgis") is not None
                or "sample_cache" in getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)


# --- the sample city, once per run --------------------------------------------------------------

def sample_generator_version() -> str:
    """A hash of everything that decides the sample city's frames and files."""
    import api.sample_files
    import geo.sample

    package = Path(geo.sample.__file__).parent
    sources = [*sorted(package.glob("*.py")), Path(api.sample_files.__file__)]
    digest = hashlib.sha256()
    for path in sources:
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def _build_sample(folder: Path) -> None:
    from api.db import create_db_engine, migrate
    from api.demo import load_sample
    from api.sample_files import write_sample
    from geo.sample import generate_city

    city = generate_city()
    manifest = write_sample(city, folder / "files")
    engine = create_db_engine(f"sqlite:///{folder / 'sample.db'}")
    migrate(engine)
    load_sample(engine, manifest, timezone="Asia/Shanghai", echo=lambda _m: None)
    engine.dispose()
    with open(folder / "city.pickle", "wb") as fh:
        pickle.dump(city, fh, protocol=pickle.HIGHEST_PROTOCOL)


@pytest.fixture(scope="session")
def sample_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The folder of this run's sample city: ``city.pickle``, ``files/``, ``sample.db``.

    Shared by all workers: read it, never write into it.
    """
    base = tmp_path_factory.getbasetemp()
    # Under xdist each worker's base is a child of the run's folder; the run's folder is shared.
    run = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
    folder = run / f"sample-city-{sample_generator_version()}"
    with FileLock(str(folder) + ".lock"):
        if not (folder / "complete").exists():
            shutil.rmtree(folder, ignore_errors=True)  # a build that died half-way
            folder.mkdir(parents=True)
            _build_sample(folder)
            (folder / "complete").touch()
    return folder


@pytest.fixture(scope="session")
def sample_city(sample_cache: Path):
    """The sample city's frames (:class:`geo.sample.SampleCity`, default seed)."""
    with open(sample_cache / "city.pickle", "rb") as fh:
        return pickle.load(fh)


@pytest.fixture(scope="session")
def sample_manifest(sample_cache: Path) -> Path:
    """The manifest of the sample city's files (shared: copy the folder to change anything)."""
    return sample_cache / "files" / "sample.json"


@pytest.fixture(scope="session")
def sample_db(sample_cache: Path, tmp_path_factory: pytest.TempPathFactory):
    """The sample city loaded (through its files and manifest) into this worker's SpatiaLite."""
    from api.db import create_db_engine

    path = tmp_path_factory.mktemp("sample") / "sample.db"
    shutil.copyfile(sample_cache / "sample.db", path)
    engine = create_db_engine(f"sqlite:///{path}")
    yield engine
    engine.dispose()
