"""Database tables (SQLAlchemy Core + GeoAlchemy2), the same on SpatiaLite and PostGIS.

Conventions: geometries are EPSG:4326; instants are naive UTC ``DateTime`` columns (the same
meaning on both backends, converted at the edges); calendar dates are ``Date``. Inventories are
never deleted: a ``--replace`` load marks rows missing from the new file as removed/closed, and
communities missing from a new boundary file as retired.

The schema itself is created by the Alembic migrations in ``api/migrations``; these objects
describe it for queries and must match them.
"""

from __future__ import annotations

import sqlalchemy as sa
from geoalchemy2 import Geometry

__all__ = [
    "LAYER_TABLES",
    "api_keys",
    "audit_log",
    "batch_cell_counts",
    "batch_month_counts",
    "batch_rates",
    "batch_runs",
    "communities",
    "community_population",
    "compounds",
    "devices",
    "facilities",
    "incidents",
    "load_coverage",
    "loads",
    "meta",
    "metadata",
    "period_day_counts",
    "period_month_counts",
    "prepared_results",
    "profiles",
    "roads",
    "saved_areas",
    "sessions",
]

metadata = sa.MetaData()

SRID = 4326


def _geom(kind: str, *, nullable: bool = False) -> sa.Column:
    return sa.Column("geom", Geometry(kind, srid=SRID, spatial_index=True), nullable=nullable)


loads = sa.Table(
    "loads", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("layer", sa.String(32), nullable=False),
    sa.Column("file_name", sa.String(500), nullable=False),
    sa.Column("sha256", sa.String(64), nullable=False),
    sa.Column("loaded_at", sa.DateTime, nullable=False),
    sa.Column("rows_read", sa.Integer, nullable=False),
    sa.Column("rows_loaded", sa.Integer, nullable=False),
    sa.Column("rows_updated", sa.Integer, nullable=False),
    sa.Column("rows_rejected", sa.Integer, nullable=False),
    sa.Column("rows_removed", sa.Integer, nullable=False, server_default="0"),
    sa.Column("replace", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("source_crs", sa.String(200)),
    sa.Column("options", sa.Text),
    sa.Column("loaded_by", sa.String(200)),
    # An incidents load's snapping tolerance in ground metres (NULL: none); re-assignments
    # apply it again to the incidents the load last wrote.
    sa.Column("snap_m", sa.Float),
)

meta = sa.Table(
    "meta", metadata,
    sa.Column("key", sa.String(64), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
)

communities = sa.Table(
    "communities", metadata,
    sa.Column("code", sa.String(64), primary_key=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("subdistrict_code", sa.String(64), index=True),
    sa.Column("subdistrict", sa.String(200)),
    sa.Column("district_code", sa.String(64), index=True),
    sa.Column("district", sa.String(200)),
    sa.Column("population", sa.Float),
    sa.Column("households", sa.Float),
    sa.Column("retired_on", sa.Date),
    sa.Column("load_id", sa.Integer, sa.ForeignKey("loads.id"), nullable=False),
    _geom("MULTIPOLYGON"),
)

community_population = sa.Table(
    "community_population", metadata,
    sa.Column("code", sa.String(64), primary_key=True),
    sa.Column("year", sa.Integer, primary_key=True),
    sa.Column("population", sa.Float, nullable=False),
    sa.Column("load_id", sa.Integer, sa.ForeignKey("loads.id"), nullable=False),
    # The day residents were counted on; NULL: 1 July of ``year`` (geo.exposure).
    sa.Column("reference_date", sa.Date),
)

#: The days each incidents load covers, per district present in it (geo.completeness).
load_coverage = sa.Table(
    "load_coverage", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("load_id", sa.Integer, sa.ForeignKey("loads.id"), nullable=False, index=True),
    sa.Column("district_code", sa.String(64)),
    sa.Column("first_day", sa.Date, nullable=False),
    sa.Column("last_day", sa.Date, nullable=False),
)

incidents = sa.Table(
    "incidents", metadata,
    sa.Column("id", sa.String(100), primary_key=True),
    sa.Column("occurred_at", sa.DateTime, nullable=False, index=True),
    sa.Column("category", sa.String(100), nullable=False, index=True),
    sa.Column("status", sa.String(100)),
    sa.Column("address", sa.String(500)),
    sa.Column("location_precision", sa.String(16), nullable=False),
    sa.Column("reported_community", sa.String(64)),
    # The assigned community: by the point when there is one, else by the reported code.
    sa.Column("community_code", sa.String(64)),
    # How: 'point' (a community contains the point), 'snap' (the only community within the
    # load's snap_m), 'code' (no point; the reported code); NULL in no community.
    sa.Column("assigned_by", sa.String(8)),
    # The record key of the cell-key release method (geo/release.py), drawn from the id.
    sa.Column("rkey", sa.BigInteger),
    sa.Column("load_id", sa.Integer, sa.ForeignKey("loads.id"), nullable=False),
    _geom("POINT", nullable=True),
    sa.Index("ix_incidents_community_time", "community_code", "occurred_at"),
)

devices = sa.Table(
    "devices", metadata,
    sa.Column("id", sa.String(100), primary_key=True),
    sa.Column("kind", sa.String(64), nullable=False, index=True),
    sa.Column("azimuth_deg", sa.Float),
    sa.Column("fov_deg", sa.Float),
    sa.Column("range_m", sa.Float),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("installed_on", sa.Date),
    sa.Column("removed_on", sa.Date),
    sa.Column("load_id", sa.Integer, sa.ForeignKey("loads.id"), nullable=False),
    _geom("POINT"),
)

compounds = sa.Table(
    "compounds", metadata,
    sa.Column("id", sa.String(100), primary_key=True),
    sa.Column("name", sa.String(200)),
    sa.Column("kind", sa.String(64)),
    sa.Column("households", sa.Float),
    sa.Column("population", sa.Float),
    sa.Column("measures", sa.Text, nullable=False, server_default=""),
    sa.Column("removed_on", sa.Date),
    sa.Column("load_id", sa.Integer, sa.ForeignKey("loads.id"), nullable=False),
    _geom("GEOMETRY"),
)

facilities = sa.Table(
    "facilities", metadata,
    sa.Column("id", sa.String(100), primary_key=True),
    sa.Column("type", sa.String(64), nullable=False, index=True),
    sa.Column("name", sa.String(200)),
    sa.Column("opened_on", sa.Date),
    sa.Column("closed_on", sa.Date),
    sa.Column("load_id", sa.Integer, sa.ForeignKey("loads.id"), nullable=False),
    _geom("POINT"),
)

#: The road network: one row per edge of the noded graph (:class:`geo.noding.RoadEdges`), its
#: ends ``u``/``v`` numbered per load (OSM node ids for extracts). A roads load stores a whole
#: network; ``--replace`` marks the edges of the earlier network removed, never deletes them.
roads = sa.Table(
    "roads", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("u", sa.BigInteger, nullable=False),
    sa.Column("v", sa.BigInteger, nullable=False),
    sa.Column("road_class", sa.String(32), nullable=False),
    sa.Column("oneway", sa.Boolean, nullable=False),
    sa.Column("speed_kmh", sa.Float),
    sa.Column("bridge", sa.Boolean, nullable=False),
    sa.Column("tunnel", sa.Boolean, nullable=False),
    sa.Column("layer", sa.Integer, nullable=False),
    sa.Column("name", sa.String(200)),
    sa.Column("source_row", sa.BigInteger),
    sa.Column("length_m", sa.Float, nullable=False),
    sa.Column("removed_on", sa.Date, index=True),
    sa.Column("load_id", sa.Integer, sa.ForeignKey("loads.id"), nullable=False),
    _geom("LINESTRING"),
)

api_keys = sa.Table(
    "api_keys", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("prefix", sa.String(16), nullable=False, unique=True),
    sa.Column("key_hash", sa.String(128), nullable=False),
    sa.Column("jurisdictions", sa.Text, nullable=False, server_default="[]"),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("expires_at", sa.DateTime),
    sa.Column("revoked_at", sa.DateTime),
    sa.Column("last_used_at", sa.DateTime),
)

audit_log = sa.Table(
    "audit_log", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("at", sa.DateTime, nullable=False, index=True),
    sa.Column("key_id", sa.Integer),
    sa.Column("key_name", sa.String(200)),
    sa.Column("role", sa.String(16)),
    sa.Column("action", sa.String(32), nullable=False, index=True),
    sa.Column("endpoint", sa.String(300)),
    sa.Column("params", sa.Text),
    sa.Column("rows", sa.Integer),
    sa.Column("status", sa.Integer),
    sa.Column("client", sa.String(100)),
    # Events the row stands for: a window of rate-limited requests is one row with a count.
    sa.Column("count", sa.Integer, nullable=False, server_default="1"),
)

#: Browser sessions (server-side): only the SHA-256 of the session id is stored, with a
#: fingerprint of the key's role and jurisdictions at login.
sessions = sa.Table(
    "sessions", metadata,
    sa.Column("id_hash", sa.String(64), primary_key=True),
    sa.Column("key_id", sa.Integer, sa.ForeignKey("api_keys.id"), nullable=False, index=True),
    sa.Column("fingerprint", sa.String(64), nullable=False),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("expires_at", sa.DateTime, nullable=False, index=True),
    sa.Column("ended_at", sa.DateTime),
    sa.Column("end_reason", sa.String(16)),
    sa.Column("client", sa.String(100)),
)

#: Areas of the map workspace saved and named per key: the area as asked for (``spec``, JSON),
#: resolved again on every read (a liaison's against the jurisdiction of that moment).
saved_areas = sa.Table(
    "saved_areas", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("key_id", sa.Integer, sa.ForeignKey("api_keys.id"), nullable=False, index=True),
    sa.Column("name", sa.String(100), nullable=False),
    sa.Column("spec", sa.Text, nullable=False),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.UniqueConstraint("key_id", "name", name="uq_saved_areas_key_name"),
)

profiles = sa.Table(
    "profiles", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(200), nullable=False, index=True),
    sa.Column("version", sa.String(64), nullable=False),
    sa.Column("content", sa.Text, nullable=False),
    sa.Column("content_hash", sa.String(64), nullable=False),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("created_by", sa.String(200)),
    sa.UniqueConstraint("name", "version", name="uq_profiles_name_version"),
)

# Answers stored per data version so a restart keeps them (api/prepared.py): the landing
# dashboard's parts. ``key`` is a SHA-256 of what was computed, for which world and role, with
# which settings and code.
prepared_results = sa.Table(
    "prepared_results", metadata,
    sa.Column("key", sa.String(64), primary_key=True),
    sa.Column("data_version", sa.Integer, nullable=False),
    sa.Column("payload", sa.Text, nullable=False),
    sa.Column("created_at", sa.DateTime, nullable=False),
)

# What ``pingan batch --to-db`` writes (api/batch_store.py): a run and its results.
batch_runs = sa.Table(
    "batch_runs", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("archive", sa.String(1000), nullable=False),
    sa.Column("period", sa.String(64), nullable=False),
    sa.Column("categories", sa.Text, nullable=False),  # JSON list, [] for every category
    sa.Column("assigned", sa.Boolean, nullable=False),
    sa.Column("cell_m", sa.Float, nullable=False),
    sa.Column("seed", sa.Integer, nullable=False),
    sa.Column("permutations", sa.Integer, nullable=False),
    sa.Column("timezone", sa.String(64), nullable=False),
    sa.Column("data_version", sa.Integer, nullable=False),
    sa.Column("partitions", sa.Integer, nullable=False),
    sa.Column("workers", sa.Integer, nullable=False),
    sa.Column("records", sa.BigInteger, nullable=False),
    sa.Column("seconds", sa.Float, nullable=False),
    sa.Column("finished_at", sa.DateTime, nullable=False),
    sa.Column("run_by", sa.String(200)),
)

batch_month_counts = sa.Table(
    "batch_month_counts", metadata,
    sa.Column("run_id", sa.Integer, sa.ForeignKey("batch_runs.id"), nullable=False, index=True),
    sa.Column("year", sa.Integer, nullable=False),
    sa.Column("month", sa.Integer, nullable=False),
    sa.Column("community_code", sa.String(64)),
    sa.Column("category", sa.String(100)),
    sa.Column("status", sa.String(100)),
    sa.Column("location", sa.String(8), nullable=False),
    sa.Column("count", sa.BigInteger, nullable=False),
)

batch_cell_counts = sa.Table(
    "batch_cell_counts", metadata,
    sa.Column("run_id", sa.Integer, sa.ForeignKey("batch_runs.id"), nullable=False, index=True),
    sa.Column("year", sa.Integer, nullable=False),
    sa.Column("month", sa.Integer, nullable=False),
    sa.Column("category", sa.String(100)),
    sa.Column("status", sa.String(100)),
    sa.Column("ix", sa.BigInteger, nullable=False),
    sa.Column("iy", sa.BigInteger, nullable=False),
    sa.Column("count", sa.BigInteger, nullable=False),
)

batch_rates = sa.Table(
    "batch_rates", metadata,
    sa.Column("run_id", sa.Integer, sa.ForeignKey("batch_runs.id"), primary_key=True),
    sa.Column("community_code", sa.String(64), primary_key=True),
    sa.Column("cases", sa.BigInteger, nullable=False),
    sa.Column("population", sa.Float),
    sa.Column("case_rate_per_10k", sa.Float),
    sa.Column("case_rate_per_10k_annual", sa.Float),
    sa.Column("case_rate_eb_per_10k_annual", sa.Float),
    sa.Column("hotspot_class", sa.String(32)),
)


def _period_counts(name: str, unit: str) -> sa.Table:
    """Incidents counted by community x local day (or month) x category x status.

    Kept exact in the transaction of every write to ``incidents`` by
    :mod:`api.period_tables`. ``community_code`` and ``status`` hold ``''`` for a missing
    value (key columns cannot be NULL); ``unit`` is the local day, or the first day of the
    local month, in the time zone recorded in ``meta`` (``period_tables_timezone``).
    """
    return sa.Table(
        name, metadata,
        sa.Column(unit, sa.Date, primary_key=True),
        sa.Column("community_code", sa.String(64), primary_key=True),
        sa.Column("category", sa.String(100), primary_key=True),
        sa.Column("status", sa.String(100), primary_key=True),
        sa.Column("records", sa.BigInteger, nullable=False),
        # the sum of the records' keys (geo/release.py), for the cell-key method
        sa.Column("key_sum", sa.BigInteger, nullable=False),
        # records without coordinates
        sa.Column("unlocated", sa.BigInteger, nullable=False),
    )


period_day_counts = _period_counts("period_day_counts", "day")
period_month_counts = _period_counts("period_month_counts", "month")

#: The table behind each loadable layer.
LAYER_TABLES: dict[str, sa.Table] = {
    "communities": communities,
    "population": community_population,
    "incidents": incidents,
    "devices": devices,
    "compounds": compounds,
    "facilities": facilities,
}
