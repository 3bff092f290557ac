"""Settings: one validated object built at start-up and passed down.

Values come, in increasing priority, from the defaults here, a TOML file (``pingan.toml`` in the
working directory, or the file named by ``PINGAN_CONFIG``), and environment variables with the
``PINGAN_`` prefix (nested groups use ``__``: ``PINGAN_CASES__EXCLUDE_STATUSES='["withdrawn"]'``).
The database URL is also ``PINGAN_DATABASE_URL``. Nothing is read at import time.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from geo.cases import CaseDefinition
from geo.period import DEFAULT_TIMEZONE

__all__ = ["ApiSettings", "CaseSettings", "GeoSettings", "MapSettings", "PeriodSettings",
           "Settings",
           "load_settings", "normalise_database_url"]


class CaseSettings(BaseModel):
    """Which incident records count as a case (发案), and how categories are named.

    By default every record counts, and categories are matched as the data writes them;
    ``categories_map`` names a raw → canonical mapping file (:mod:`geo.categories`).

    ``include_categories`` is either absent (every category counts) or a non-empty list: an
    empty list would count nothing and is refused when the settings are read.
    """

    exclude_categories: list[str] = Field(default_factory=list)
    exclude_statuses: list[str] = Field(default_factory=list)
    include_categories: list[str] | None = None
    categories_map: Path | None = Field(
        None, description="CSV mapping raw categories to canonical names (columns raw,"
                          "canonical); requested categories then match by canonical name")

    @field_validator("include_categories")
    @classmethod
    def _not_empty(cls, value: list[str] | None) -> list[str] | None:
        if value is not None and not [v for v in value if v.strip()]:
            raise ValueError("cases.include_categories must name at least one category, or "
                             "be left out for every category; got an empty list")
        return value

    def to_definition(self) -> CaseDefinition:
        """The case definition these settings describe (the one rule every path uses)."""
        return CaseDefinition(
            include_categories=None if self.include_categories is None
            else tuple(self.include_categories),
            exclude_categories=tuple(self.exclude_categories),
            exclude_statuses=tuple(self.exclude_statuses))


class GeoSettings(BaseModel):
    """Options of the spatial computations."""

    metric_crs: str | None = Field(
        None, description="Projected CRS for distances and areas; default: from the data")
    arc_segments: int = Field(64, ge=8, le=1024,
                              description="segments per full circle of camera arcs and buffers")
    detour_factor: float = Field(1.0, ge=1.0, le=3.0)
    service_radius_m: dict[str, float] = Field(default_factory=dict)
    camera_kinds: list[str] = Field(
        default_factory=lambda: ["camera", "dome", "ptz", "face", "plate"])
    grid_cell_m: float = Field(250.0, ge=50.0)
    permutations: int = Field(999, ge=99)
    seed: int = 12345


class ApiSettings(BaseModel):
    """Options of the HTTP server."""

    secret_key: str | None = Field(
        None, description="Signs session cookies; default: generated once and kept in the db")
    session_minutes: int = Field(480, ge=5)
    rate_limit_per_minute: int = Field(600, ge=0, description="per key; 0 disables")
    max_upload_mb: float = Field(200.0, gt=0)
    max_unzipped_mb: float = Field(
        1000.0, gt=0, description="largest total uncompressed size of a zipped upload")
    min_count_shown: int = Field(
        3, ge=2, description="counts below this are released as '<3' to planner and client keys")
    min_grid_cell_m: float = Field(250.0, ge=50.0)
    min_kde_bandwidth_m: float = Field(
        500.0, ge=0.0, description="smallest kernel density bandwidth for planner and client keys")
    category_groups: dict[str, list[str]] = Field(
        default_factory=dict,
        description="category groups released to planner and client keys (name -> categories)")
    auth_failures_per_minute: int = Field(
        20, ge=0, description="failed authentications per client address and per key prefix; "
                              "0 disables")
    allowed_origins: list[str] = Field(
        default_factory=list,
        description="origins (https://host[:port]) besides the server's own that browser "
                    "sessions may send changes from: the public address of a reverse proxy")

    @field_validator("allowed_origins")
    @classmethod
    def _origins(cls, value: list[str]) -> list[str]:
        pattern = re.compile(r"^https?://[^/?#\s]+/?$")
        bad = [v for v in value if not pattern.match(v.strip())]
        if bad:
            raise ValueError(f"allowed_origins must be scheme://host[:port] without a path; "
                             f"got {bad}")
        return [v.strip().rstrip("/") for v in value]


class PeriodSettings(BaseModel):
    """The range of dates a period may cover."""

    first: dt.date = dt.date(1900, 1, 1)
    last: dt.date = dt.date(2100, 12, 31)


class MapSettings(BaseModel):
    """Options of the maps."""

    tile_url: str | None = Field(None, description="XYZ tile URL template; none by default")
    tile_attribution: str = ""
    tiles_crs: Literal["wgs84", "gcj02"] | None = Field(
        None, description="the coordinates the tiles are drawn in: wgs84, or gcj02 (most "
                          "Chinese web tiles; every overlay is then shifted to GCJ-02 for "
                          "display). BD-09 (Baidu) tiling is out of scope. Default: wgs84, or "
                          "gcj02 when tiles_gcj02 is true")
    tiles_gcj02: bool = Field(False, description="older name of tiles_crs = 'gcj02' (still "
                                                 "accepted)")
    language: Literal["zh", "en"] = "zh"
    browser: str | None = Field(
        None, description="Chromium for PNG export (a path or command); default: found on PATH")

    @field_validator("tiles_crs", mode="before")
    @classmethod
    def _tile_crs(cls, value: Any) -> Any:
        if not isinstance(value, str):
            return value
        name = value.strip().lower().replace("-", "")
        if name in ("bd09", "baidu"):
            raise ValueError(f"maps.tiles_crs = {value!r}: BD-09 (Baidu) tiling is out of scope; "
                             "pingan draws on wgs84 or gcj02 tiles only")
        if name not in ("wgs84", "gcj02"):
            raise ValueError(f"maps.tiles_crs must be 'wgs84' or 'gcj02'; got {value!r}")
        return name

    @model_validator(mode="after")
    def _one_tile_crs(self) -> MapSettings:
        # tiles_gcj02 is the older name of tiles_crs = 'gcj02': both are kept in step
        if self.tiles_crs is None:
            self.tiles_crs = "gcj02" if self.tiles_gcj02 else "wgs84"
        elif self.tiles_gcj02 and self.tiles_crs != "gcj02":
            raise ValueError(f"maps.tiles_gcj02 = true contradicts maps.tiles_crs = "
                             f"{self.tiles_crs!r}; give tiles_crs alone")
        self.tiles_gcj02 = self.tiles_crs == "gcj02"
        return self


class Settings(BaseSettings):
    """Every setting of pingan."""

    model_config = SettingsConfigDict(env_prefix="PINGAN_", env_nested_delimiter="__",
                                      extra="forbid")

    database_url: str = "sqlite:///pingan.db"
    timezone: str = DEFAULT_TIMEZONE
    # pydantic copies model defaults per instance, so sharing these objects is safe.
    cases: CaseSettings = CaseSettings()
    geo: GeoSettings = GeoSettings()
    api: ApiSettings = ApiSettings()
    maps: MapSettings = MapSettings()
    periods: PeriodSettings = PeriodSettings()

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"timezone must be an IANA name such as Asia/Shanghai; "
                             f"got {value!r}") from None
        return value

    @field_validator("database_url")
    @classmethod
    def _normalise_url(cls, value: str) -> str:
        return normalise_database_url(value)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Order the sources: arguments, environment, then the TOML file."""
        path = os.environ.get("PINGAN_CONFIG", "pingan.toml")
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        if Path(path).is_file():
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=path))
        return tuple(sources)


def normalise_database_url(value: str) -> str:
    """Turn a database setting into a SQLAlchemy URL.

    A plain file path (``city.db``) is a SpatiaLite file; ``postgresql://`` and ``postgres://``
    use the psycopg 3 driver.

    Raises
    ------
    ValueError
        If the URL names a backend pingan does not support.
    """
    v = value.strip()
    if "://" not in v:
        return f"sqlite:///{v}"
    scheme, rest = v.split("://", 1)
    if scheme in ("postgresql", "postgres", "postgresql+psycopg"):
        return f"postgresql+psycopg://{rest}"
    if scheme in ("sqlite", "spatialite", "sqlite+pysqlite"):
        return f"sqlite://{rest}"
    raise ValueError(f"database URL must be a SpatiaLite file (sqlite:///path.db) or PostGIS "
                     f"(postgresql://...); got scheme {scheme!r}")


def load_settings(**overrides: Any) -> Settings:
    """Build the settings from the file, the environment and explicit overrides.

    Raises
    ------
    pydantic.ValidationError
        If a value is invalid; the message names the setting.
    """
    return Settings(**{k: val for k, val in overrides.items() if val is not None})
