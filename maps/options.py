"""What every map shares: language, basemap, title and display precision.

A :class:`MapOptions` is built once from the settings (``api.settings.MapSettings``) and the
request, and passed to every map builder. It holds nothing about where the page is served from:
that is :func:`maps.offline.render_html`'s ``asset_base``.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from geo.period import DEFAULT_TIMEZONE

__all__ = ["LANGUAGES", "MAX_SIMPLIFY_M", "Language", "MapOptions"]

Language = Literal["zh", "en"]
#: Languages of the labels.
LANGUAGES: tuple[str, ...] = ("zh", "en")

#: Largest display simplification tolerance, metres.
MAX_SIMPLIFY_M = 10.0

_TILE_PLACEHOLDERS = ("{z}", "{x}", "{y}")
_TILE_SCHEME = re.compile(r"^(https?://|/|\./|\.\./)", re.IGNORECASE)


@dataclass(frozen=True)
class MapOptions:
    """Options shared by every map.

    Attributes
    ----------
    language
        ``zh`` (default) or ``en``: every label, legend entry and tooltip field name.
    tile_url
        XYZ tile URL template of a basemap (``https://tiles.example.org/{z}/{x}/{y}.png``,
        or a path on pingan's own server such as ``/tiles/{z}/{x}/{y}.png``); ``None`` (the
        default) draws no basemap: community boundaries are the base.
    tile_attribution
        Attribution shown for the tiles (plain text).
    tiles_gcj02
        The tiles are drawn in GCJ-02 (as most Chinese web tiles are): every overlay is
        shifted from WGS84 to GCJ-02 so that it lines up with them. Ignored without
        ``tile_url``.
    tile_max_zoom
        Highest zoom level the tile server has.
    title
        Title of the page; ``None`` for the map kind's default title.
    period_label
        The data period shown under the title (``2025``, ``2025-Q3``...); ``None`` for the
        period of the result drawn.
    generated_at
        Time of generation shown under the title (naive times are in ``timezone``); ``None``
        for the time the map is built.
    timezone
        IANA time zone of the times shown (incident times, generation time).
    simplify_m
        Tolerance, metres, of the simplification of community boundaries and other areas for
        display, in a metric CRS (``shapely.coverage_simplify`` when the polygons form a
        coverage, so neighbours keep sharing their edges; ``shapely.simplify`` with topology
        preserved otherwise); 0 keeps every vertex. At most 10 m: about 5 pixels at zoom 16.
    coordinate_decimals
        Decimals of the degrees of points and small shapes (sectors, grid cells) written into
        the page (6 is about 0.1 m). Incident points keep this precision.
    boundary_decimals
        Decimals of the degrees of the simplified boundaries and areas (5 is about 1 m, well
        under ``simplify_m``); shared vertices round alike, so neighbours still share edges.
        Community outlines are written packed in these units (integer steps, about half the
        text of GeoJSON; ``maps.page.feature_collection``).
    """

    language: Language = "zh"
    tile_url: str | None = None
    tile_attribution: str = ""
    tiles_gcj02: bool = False
    tile_max_zoom: int = 18
    title: str | None = None
    period_label: str | None = None
    generated_at: dt.datetime | None = None
    timezone: str = DEFAULT_TIMEZONE
    simplify_m: float = 10.0
    coordinate_decimals: int = 6
    boundary_decimals: int = 5

    def __post_init__(self) -> None:
        if self.language not in LANGUAGES:
            raise ValueError(f"language must be one of {LANGUAGES}; got {self.language!r}")
        if self.tile_url is not None:
            if not isinstance(self.tile_url, str) or not _TILE_SCHEME.match(self.tile_url):
                raise ValueError(
                    "tile_url must be an http(s) URL or a path starting with '/', './' or "
                    f"'../'; got {self.tile_url!r}"
                )
            missing = [p for p in _TILE_PLACEHOLDERS if p not in self.tile_url]
            if missing:
                raise ValueError(
                    f"tile_url must be an XYZ template with {{z}}, {{x}} and {{y}}; "
                    f"{self.tile_url!r} lacks {', '.join(missing)}"
                )
        if not isinstance(self.tile_max_zoom, int) or not 1 <= self.tile_max_zoom <= 24:
            raise ValueError(f"tile_max_zoom must be an integer in [1, 24]; "
                             f"got {self.tile_max_zoom!r}")
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError, TypeError):
            raise ValueError(f"timezone must be an IANA name such as Asia/Shanghai; "
                             f"got {self.timezone!r}") from None
        if (isinstance(self.simplify_m, bool) or not isinstance(self.simplify_m, int | float)
                or not 0 <= self.simplify_m <= MAX_SIMPLIFY_M):
            raise ValueError(f"simplify_m must be a number of metres in [0, {MAX_SIMPLIFY_M:g}]; "
                             f"got {self.simplify_m!r}")
        for name in ("coordinate_decimals", "boundary_decimals"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or not 4 <= value <= 9:
                raise ValueError(f"{name} must be an integer in [4, 9]; got {value!r}")
        if self.generated_at is not None and not isinstance(self.generated_at, dt.datetime):
            raise TypeError(f"generated_at must be a datetime or None; "
                            f"got {type(self.generated_at).__name__}")

    @property
    def shift_gcj02(self) -> bool:
        """Whether overlays are shifted to GCJ-02 (GCJ-02 tiles are configured)."""
        return self.tiles_gcj02 and self.tile_url is not None

    def generated_label(self) -> str:
        """Return the generation time as shown on the page, in :attr:`timezone`."""
        zone = ZoneInfo(self.timezone)
        when = self.generated_at or dt.datetime.now(zone)
        if when.tzinfo is None:
            when = when.replace(tzinfo=zone)
        return when.astimezone(zone).strftime("%Y-%m-%d %H:%M")
