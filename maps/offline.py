"""Offline pages: every script, style sheet and image a map loads comes from pingan itself.

folium and branca point their elements at CDNs (Leaflet, jQuery, Bootstrap, Font Awesome,
awesome-markers and the plugins on jsDelivr and cdnjs; branca's colormap loads d3). On an
intranet with no internet such a page is blank. :func:`render_html` renders a map and rewrites
every ``<script src>`` and style-sheet ``<link>`` it finds:

- files pingan vendors (``maps/assets/``, see its ``LICENSES.md``) point to ``asset_base``
  (``assets/`` next to a page written to disk, which works opened as ``file://``;
  ``/maps/assets/`` when the API serves the page);
- files pingan's maps do not use (Bootstrap, Glyphicons, Font Awesome and awesome-markers,
  which folium's Map loads for marker icons pingan does not draw) are dropped, and so is
  jQuery unless the page's own script calls it (folium's ``Popup`` does);
- anything else raises :class:`RemoteAssetError`, so a new folium version that adds a CDN file
  fails loudly instead of making a page that silently fetches from the internet.

Finally the page is checked for any ``src``, ``href`` of a style sheet, CSS ``url()`` or
``@import`` that still points to another host.

The rewriting is done on the rendered text rather than on the element tree because folium and
branca add these links during rendering (``JSCSSMixin.render`` adds them to the figure's header,
and branca's colormap adds its d3 link itself); changing the class-level link lists instead would
change every folium map in the process.
"""

from __future__ import annotations

import html
import re
import shutil
from collections.abc import Iterator
from pathlib import Path, PurePosixPath

import folium

__all__ = [
    "ASSET_DIR",
    "ASSET_SCHEME",
    "DEFAULT_ASSET_BASE",
    "RemoteAssetError",
    "asset_files",
    "asset_path",
    "find_remote_urls",
    "render_html",
    "write_assets",
    "write_map",
]

#: Folder of the vendored assets inside the package.
ASSET_DIR = Path(__file__).resolve().parent / "assets"
#: Prefix of pingan's own asset links in elements, replaced by ``asset_base`` on rendering.
ASSET_SCHEME = "pingan-asset:"
#: Where a page written to disk finds its assets (a folder next to it).
DEFAULT_ASSET_BASE = "assets/"

_JQUERY = "jquery/jquery.min.js"
# Page scripts that call jQuery (folium's Popup and keep-in-front templates do): only then is the
# vendored jQuery linked; pingan's own maps do not need it.
_USES_JQUERY = re.compile(r"(?<![\w$.])\$\(|\bjQuery\(")

# Which vendored file replaces each CDN file folium 0.17-0.20 and branca 0.7-0.8 link to; None
# drops the link. Matched on the URL without its host's version, so a patch release of folium that
# bumps a CDN version still maps (the vendored version is recorded in assets/LICENSES.md).
_CDN_FILES: tuple[tuple[re.Pattern[str], str | None], ...] = tuple(
    (re.compile(pattern), target) for pattern, target in (
        (r"/leaflet@[\d.]+/dist/leaflet\.js$", "leaflet/leaflet.js"),
        (r"/leaflet@[\d.]+/dist/leaflet\.css$", "leaflet/leaflet.css"),
        (r"/leaflet\.markercluster/[\d.]+/leaflet\.markercluster\.js$",
         "leaflet.markercluster/leaflet.markercluster.js"),
        (r"/leaflet\.markercluster/[\d.]+/MarkerCluster\.css$",
         "leaflet.markercluster/MarkerCluster.css"),
        (r"/leaflet\.markercluster/[\d.]+/MarkerCluster\.Default\.css$",
         "leaflet.markercluster/MarkerCluster.Default.css"),
        (r"/folium(@main)?/folium/templates/leaflet_heat\.min\.js$",
         "leaflet.heat/leaflet-heat.js"),
        (r"/d3/3\.[\d.]+/d3\.min\.js$", "d3/d3.min.js"),
        (r"/jquery-[\d.]+\.min\.js$", _JQUERY),
        (r"/jquery/[\d.]+/jquery\.min\.js$", _JQUERY),
        (r"/bootstrap@[\d.]+/dist/", None),
        (r"/bootstrap/[\d.]+/css/bootstrap-glyphicons\.css$", None),
        (r"/@fortawesome/fontawesome-free@[\d.]+/", None),
        (r"/Leaflet\.awesome-markers/[\d.]+/", None),
        (r"/folium/templates/leaflet\.awesome\.rotate\.min\.css$", None),
    )
)

_SCRIPT_LINK = re.compile(r'[ \t]*<script src="([^"]+)"></script>[ \t]*\n?')
_CSS_LINK = re.compile(r'[ \t]*<link rel="stylesheet" href="([^"]+)"\s*/?>[ \t]*\n?')
_REMOTE = re.compile(
    r"""(?:\b(?:src|href)\s*=\s*["']?|url\(\s*["']?|@import\s+["'])"""
    r"""\s*((?:https?:)?//[^"'\s)>]+)""",
    re.IGNORECASE,
)
_ANCHOR_HREF = re.compile(r"""<a\b[^>]*?\bhref\s*=\s*["']?(?=(?:https?:)?//)""", re.IGNORECASE)


class RemoteAssetError(ValueError):
    """A page would load a file from another host."""


def _asset_url(relative: str, asset_base: str) -> str:
    return html.escape(asset_base.rstrip("/") + "/" + relative, quote=True)


def _local(url: str) -> str | None:
    """Return the vendored file replacing ``url``: ``""`` drops it, ``None`` is unknown."""
    if url.startswith(ASSET_SCHEME):
        return url[len(ASSET_SCHEME):]
    for pattern, target in _CDN_FILES:
        if pattern.search(url):
            return "" if target is None else target
    return None


def render_html(m: folium.Map, *, asset_base: str = DEFAULT_ASSET_BASE) -> str:
    """Render a map to a complete HTML page that loads nothing from other hosts.

    Parameters
    ----------
    m
        A map made by a pingan builder (or any folium map using only the files pingan vendors).
    asset_base
        URL prefix of the assets: ``assets/`` (default) for a page written next to an
        ``assets`` folder (:func:`write_map`), ``/maps/assets/`` when the API serves them.

    Returns
    -------
    str
        The page. Render a map once: folium adds elements to it while rendering, so a second
        rendering repeats some ``addTo`` calls (harmless to Leaflet, but larger).

    Raises
    ------
    TypeError
        If ``m`` is not a folium Map.
    RemoteAssetError
        If the page links a script or style sheet that pingan does not vendor, or still
        points a ``src``, style sheet or CSS ``url()`` to another host.
    """
    if not isinstance(m, folium.Map):
        raise TypeError(f"m must be a folium.Map; got {type(m).__name__}")
    if not isinstance(asset_base, str) or not asset_base:
        raise ValueError(f"asset_base must be a non-empty URL prefix; got {asset_base!r}")
    page = m.get_root().render()
    unknown: list[str] = []
    body = page.split("</head>", 1)[-1]
    needs_jquery = bool(_USES_JQUERY.search(body))

    def rewrite(match: re.Match[str], tag: str) -> str:
        url = html.unescape(match.group(1))
        local = _local(url)
        if local is None:
            unknown.append(url)
            return match.group(0)
        if not local or (local == _JQUERY and not needs_jquery):
            return ""
        href = _asset_url(local, asset_base)
        if tag == "script":
            return f'    <script src="{href}"></script>\n'
        return f'    <link rel="stylesheet" href="{href}"/>\n'

    page = _SCRIPT_LINK.sub(lambda mt: rewrite(mt, "script"), page)
    page = _CSS_LINK.sub(lambda mt: rewrite(mt, "css"), page)
    if unknown:
        raise RemoteAssetError(
            f"the map links files pingan does not vendor: {sorted(set(unknown))}; add them "
            "to maps/assets (see its README.md) or drop the element that needs them"
        )
    remote = find_remote_urls(page)
    if remote:
        raise RemoteAssetError(f"the page would still load from other hosts: {remote[:5]}")
    return page


def find_remote_urls(page: str) -> list[str]:
    """List the URLs of other hosts a page would load: ``src``, ``href``, CSS ``url()``.

    Links of ``<a>`` elements (followed only when clicked) are not loads and are left out.
    Tile URL templates inside scripts are not attributes and are not listed either.

    Parameters
    ----------
    page
        HTML text.

    Returns
    -------
    list of str
        The absolute or protocol-relative URLs found, in order.
    """
    anchors = {m.end() for m in _ANCHOR_HREF.finditer(page)}
    out = []
    for match in _REMOTE.finditer(page):
        if match.start(1) in anchors:
            continue
        out.append(match.group(1))
    return out


def _vendored() -> list[Path]:
    return sorted(p for p in ASSET_DIR.rglob("*") if p.is_file())


def asset_files() -> Iterator[tuple[str, Path]]:
    """Yield every vendored asset as ``(relative POSIX path, absolute file path)``.

    The API serves each at ``/maps/assets/<relative path>``.
    """
    for path in _vendored():
        yield path.relative_to(ASSET_DIR).as_posix(), path


def asset_path(name: str) -> Path:
    """Return the file of the asset called ``name`` (``leaflet/leaflet.js``).

    Parameters
    ----------
    name
        Relative POSIX path of the asset, as in :func:`asset_files`.

    Returns
    -------
    pathlib.Path

    Raises
    ------
    KeyError
        If there is no such asset (including any name that tries to leave the folder).
    """
    parts = PurePosixPath(name).parts
    if not parts or any(p in ("..", "") or p.startswith("/") for p in parts):
        raise KeyError(f"no map asset {name!r}")
    path = ASSET_DIR.joinpath(*parts)
    if not path.is_file() or ASSET_DIR not in path.resolve().parents:
        raise KeyError(f"no map asset {name!r}")
    return path


def write_assets(directory: str | Path) -> Path:
    """Copy every vendored asset (with its licence) into ``directory``.

    Parameters
    ----------
    directory
        Target folder, created when missing; existing files of the same names are replaced.

    Returns
    -------
    pathlib.Path
        The folder.
    """
    out = Path(directory)
    for relative, source in asset_files():
        target = out / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
    return out


def write_map(m: folium.Map, path: str | Path, *, assets: bool = True) -> Path:
    """Write a map as an HTML page that works opened from disk, with its assets beside it.

    Parameters
    ----------
    m
        The map.
    path
        The page to write (``.html``); its folder is created when missing.
    assets
        Also copy the assets to an ``assets`` folder next to the page (:func:`write_assets`);
        pass False when writing many pages into one folder after the first.

    Returns
    -------
    pathlib.Path
        The page.

    Raises
    ------
    RemoteAssetError
        As :func:`render_html`.
    """
    page = Path(path)
    page.parent.mkdir(parents=True, exist_ok=True)
    text = render_html(m, asset_base=DEFAULT_ASSET_BASE)
    page.write_text(text, encoding="utf-8")
    if assets:
        write_assets(page.parent / "assets")
    return page
