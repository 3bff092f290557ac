"""Interactive maps that work offline: folium pages built from :mod:`geo` results.

Builders (each returns a :class:`folium.Map`; none queries a database):

- :func:`incident_map`: points with heat and clusters, a zoom-level grid above
  ``max_points`` incidents, or aggregated cells (:func:`aggregate_incidents`) for readers who
  may see aggregates only;
- :func:`rates_map`: case-rate choropleth classed with mapclassify;
- :func:`hotspot_map`: Gi* hot and cold spots;
- :func:`emerging_map`: emerging hot spots (ArcGIS Pro's categories) of grid cells;
- :func:`density_map`: a kernel density surface as grid cells;
- :func:`near_repeat_map`: near-repeat risk zones around recent incidents;
- :func:`alerts_map`: early-warning alerts of communities or districts;
- :func:`protection_map`: camera view sectors, blind spots, compound compliance;
- :func:`coverage_map`: facilities, service areas, gaps with their residents, new sites;
- :func:`standard_map`: communities by status band with each criterion and the to-do list.

Every map has a layer control, a legend, a scale bar and a title with the data period and the
generation time, in Chinese or English (:class:`MapOptions`). Pages load nothing from other
hosts: :func:`render_html` points every script and style sheet at pingan's vendored assets
(:func:`write_assets`, :func:`asset_files`), :func:`write_map` writes a page with its assets, and
:func:`export_png` takes a picture with headless Chromium.

For print: :func:`svg_map` draws a static SVG choropleth (projected, simplified, no tiles) and
:func:`print_pdf` prints a self-contained page to PDF with headless Chromium (the briefings).
"""

from maps.alerts import alerts_map
from maps.coverage import coverage_map
from maps.density import density_map
from maps.emerging import emerging_map
from maps.export import BrowserNotFoundError, export_png, find_browser, print_pdf
from maps.hotspots import hotspot_map
from maps.incidents import (
    DEFAULT_MAX_GRID_BYTES,
    DEFAULT_MAX_POINTS,
    IncidentCells,
    aggregate_incidents,
    incident_map,
)
from maps.nearrepeat import near_repeat_map
from maps.offline import (
    ASSET_DIR,
    DEFAULT_ASSET_BASE,
    RemoteAssetError,
    asset_files,
    asset_path,
    find_remote_urls,
    render_html,
    write_assets,
    write_map,
)
from maps.options import LANGUAGES, MapOptions
from maps.protection import protection_map
from maps.rates import RATE_COLUMNS, SCHEMES, classify, rates_map
from maps.standard import standard_map
from maps.svg import svg_map

#: The map kinds, as the API's ``/maps/<kind>`` and ``pingan maps --kind`` name them.
MAP_KINDS = ("incidents", "rates", "hotspots", "emerging", "kde", "near-repeat", "alerts",
             "protection", "coverage", "standard")

__all__ = [
    "ASSET_DIR",
    "DEFAULT_ASSET_BASE",
    "DEFAULT_MAX_GRID_BYTES",
    "DEFAULT_MAX_POINTS",
    "LANGUAGES",
    "MAP_KINDS",
    "RATE_COLUMNS",
    "SCHEMES",
    "BrowserNotFoundError",
    "IncidentCells",
    "MapOptions",
    "RemoteAssetError",
    "aggregate_incidents",
    "alerts_map",
    "asset_files",
    "asset_path",
    "classify",
    "coverage_map",
    "density_map",
    "emerging_map",
    "export_png",
    "find_browser",
    "find_remote_urls",
    "hotspot_map",
    "incident_map",
    "near_repeat_map",
    "print_pdf",
    "protection_map",
    "rates_map",
    "render_html",
    "standard_map",
    "svg_map",
    "write_assets",
    "write_map",
]
