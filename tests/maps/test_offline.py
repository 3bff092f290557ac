import hashlib
import json
import re
from pathlib import Path

import branca.colormap
import folium
import pytest
from folium.elements import JSCSSMixin
from folium.template import Template

import maps
from maps import (
    ASSET_DIR,
    RemoteAssetError,
    asset_files,
    asset_path,
    find_remote_urls,
    render_html,
    write_assets,
    write_map,
)

LINK = re.compile(r'<(?:script src|link rel="stylesheet" href)="([^"]+)"')


@pytest.fixture
def pages(all_maps):
    return {kind: render_html(m) for kind, m in all_maps.items()}


def test_no_page_names_another_host(pages):
    for kind, html in pages.items():
        assert "http://" not in html and "https://" not in html, kind
        assert find_remote_urls(html) == [], kind


def test_pages_link_only_vendored_files_that_exist(pages):
    for kind, html in pages.items():
        links = LINK.findall(html)
        assert "assets/leaflet/leaflet.js" in links, kind
        assert "assets/pingan/pingan-maps.js" in links, kind
        for link in links:
            assert link.startswith("assets/"), (kind, link)
            assert (ASSET_DIR / link.removeprefix("assets/")).is_file(), (kind, link)
    # jQuery, Bootstrap and the icon fonts folium's Map asks for are dropped
    assert not any("jquery" in h or "bootstrap" in h or "fontawesome" in h
                   for h in pages.values())
    assert "leaflet.markercluster" in pages["incidents"]
    assert "leaflet.markercluster" not in pages["rates"]


def test_asset_base_is_a_parameter(rates, communities):
    html = render_html(maps.rates_map(communities, rates), asset_base="/maps/assets/")
    assert '<script src="/maps/assets/leaflet/leaflet.js"></script>' in html
    with pytest.raises(ValueError, match=r"asset_base must be a non-empty"):
        render_html(maps.rates_map(communities, rates), asset_base="")


def test_plain_folium_map_and_branca_colormap_are_rewritten():
    m = folium.Map(tiles=None)
    branca.colormap.LinearColormap(["red", "blue"], vmin=0, vmax=1).add_to(m)
    html = render_html(m)
    assert 'src="assets/d3/d3.min.js"' in html
    assert 'href="assets/leaflet/leaflet.css"' in html
    assert re.findall(r"https?://", html) == []


def test_jquery_is_linked_only_when_the_page_calls_it():
    m = folium.Map(tiles=None)
    folium.Marker([39.9, 116.4], popup="需要 jQuery").add_to(m)
    html = render_html(m)
    assert '<script src="assets/jquery/jquery.min.js"></script>' in html
    assert "bootstrap" not in html
    assert "jquery" not in render_html(folium.Map(tiles=None))


class _Remote(JSCSSMixin):
    default_js = [("remote", "https://cdn.example.org/lib.js")]  # noqa: RUF012
    _template = Template("")


def test_unknown_remote_file_is_refused():
    m = folium.Map(tiles=None)
    _Remote().add_to(m)
    with pytest.raises(RemoteAssetError, match=r"does not vendor: \['https://cdn.example.org"):
        render_html(m)


def test_render_html_refuses_other_objects():
    with pytest.raises(TypeError, match=r"folium\.Map"):
        render_html("<html>")


def test_find_remote_urls():
    html = ('<img src="https://a.org/x.png"><a href="https://leafletjs.com">L</a>'
            '<style>.x{background:url(//b.org/y.png)}</style><link href="/local.css">'
            '<script src="assets/x.js"></script>')
    assert find_remote_urls(html) == ["https://a.org/x.png", "//b.org/y.png"]


def test_write_map_writes_page_and_assets(tmp_path, communities, rates):
    page = write_map(maps.rates_map(communities, rates), tmp_path / "out" / "rates.html")
    assert page.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    for link in LINK.findall(page.read_text(encoding="utf-8")):
        assert (page.parent / link).is_file(), link
    assert (page.parent / "assets" / "LICENSES.md").is_file()
    assert (page.parent / "assets" / "leaflet" / "images" / "layers.png").is_file()


def test_asset_files_and_paths(tmp_path):
    names = dict(asset_files())
    assert {"leaflet/leaflet.js", "leaflet.heat/leaflet-heat.js", "d3/d3.min.js",
            "pingan/pingan-maps.js", "LICENSES.md"} <= set(names)
    assert asset_path("leaflet/leaflet.css") == names["leaflet/leaflet.css"]
    for bad in ("../offline.py", "leaflet/../../offline.py", "/etc/passwd", "nope.js", ""):
        with pytest.raises(KeyError, match="no map asset"):
            asset_path(bad)
    out = write_assets(tmp_path / "a")
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()) == sorted(
        names)


def test_licences_record_every_vendored_file_with_its_checksum():
    text = (ASSET_DIR / "LICENSES.md").read_text(encoding="utf-8")
    recorded = dict(reversed(line.split("  ", 1)) for line in text.splitlines()
                    if re.fullmatch(r"[0-9a-f]{64}  \S+", line))
    vendored = [rel for rel, _ in asset_files()
                if not rel.startswith("pingan/") and not rel.endswith(".md")]
    assert sorted(recorded) == sorted(vendored)
    for rel, digest in recorded.items():
        assert hashlib.sha256(Path(asset_path(rel)).read_bytes()).hexdigest() == digest, rel
    for package in ("leaflet` | 1.9.4", "leaflet.markercluster` | 1.5.3", "leaflet.heat` | 0.2.0",
                    "d3` | 3.5.5", "jquery` | 3.7.1"):
        assert package in text


def test_operator_tiles_are_kept(communities, rates):
    options = maps.MapOptions(tile_url="https://tiles.intranet.example/{z}/{x}/{y}.png",
                              tile_attribution="市测绘院")
    html = render_html(maps.rates_map(communities, rates, options=options))
    assert "https://tiles.intranet.example/{z}/{x}/{y}.png" in html
    assert json.dumps("市测绘院") in html
    assert find_remote_urls(html) == []
