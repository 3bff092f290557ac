"""Every map kind in headless Chromium: drawn, no JavaScript error, no request to another host.

Pages are written with their assets to a temporary folder and opened as ``file://`` (once served
by a local ``http.server`` with operator tiles from the same server). Requests are read from
Chromium's performance log (DevTools ``Network`` events), errors from the console log and from
``error`` events recorded by a script installed before each page. Skipped when Chromium,
chromedriver or Selenium is missing, unless ``PINGAN_REQUIRE_BROWSER=1`` (CI).
"""

from __future__ import annotations

import http.server
import io
import json
import os
import shutil
import tempfile
import threading
import time
from urllib.parse import urlparse

import pytest
from PIL import Image

import maps
from maps import export_png, render_html, write_assets, write_map

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CHROMIUM = os.environ.get("PINGAN_CHROMIUM", "chromium")
CHROMEDRIVER = os.environ.get("PINGAN_CHROMEDRIVER", "chromedriver")
REQUIRE = os.environ.get("PINGAN_REQUIRE_BROWSER") == "1"
WIDTH, HEIGHT = 1000, 700
INTERNAL_SCHEMES = {"file", "data", "blob", "about", "chrome", "chrome-untrusted", "devtools"}
RECORD_ERRORS = """
window.__errors = [];
window.addEventListener('error', function (e) { window.__errors.push(String(e.message)); });
window.addEventListener('unhandledrejection', function (e) {
  window.__errors.push('unhandled rejection: ' + String(e.reason));
});
"""


def _unavailable() -> str | None:
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed"
    for exe in (CHROMIUM, CHROMEDRIVER):
        if shutil.which(exe) is None:
            return f"{exe} is not installed (Debian packages chromium, chromium-driver)"
    return None


@pytest.fixture(scope="module")
def driver():
    reason = _unavailable()
    if reason:
        if REQUIRE:
            pytest.fail(reason)
        pytest.skip(reason)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="pingan-test-chromium-")
    opts = webdriver.ChromeOptions()
    opts.binary_location = shutil.which(CHROMIUM)
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run",
                 "--disable-quic", "--disable-extensions", "--disable-default-apps",
                 "--hide-scrollbars", f"--window-size={WIDTH},{HEIGHT}",
                 f"--user-data-dir={profile}"):
        opts.add_argument(flag)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    d = webdriver.Chrome(service=Service(shutil.which(CHROMEDRIVER)), options=opts)
    d.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": RECORD_ERRORS})
    d.set_window_size(WIDTH, HEIGHT)
    yield d
    d.quit()
    shutil.rmtree(profile, ignore_errors=True)


def open_page(d, url: str, timeout_s: float = 20.0) -> dict:
    """Load a page, wait for the runtime's drawn flag; return requests, errors and timing."""
    d.get("about:blank")
    d.get_log("performance")
    d.get_log("browser")
    d.get(url)
    deadline = time.monotonic() + timeout_s
    while not d.execute_script("return window.__pinganDrawn === true"):
        if time.monotonic() > deadline:
            pytest.fail(f"{url} never signalled it was drawn; errors: "
                        f"{d.execute_script('return window.__errors')}, "
                        f"console: {d.get_log('browser')}")
        time.sleep(0.05)
    # Late requests (tiles, images) get a moment to show up in the log; this only makes the
    # offline check stricter, it never decides what a test waits for.
    time.sleep(0.2)
    requests = []
    for entry in d.get_log("performance"):
        msg = json.loads(entry["message"])["message"]
        if msg["method"] == "Network.requestWillBeSent":
            requests.append(msg["params"]["request"]["url"])
    console = [e for e in d.get_log("browser") if e["level"] == "SEVERE"]
    return {"requests": requests, "console": console,
            "errors": d.execute_script("return window.__errors")}


def assert_offline(result: dict, *, allowed_hosts: tuple[str, ...] = ()) -> None:
    assert result["console"] == []
    assert result["errors"] == []
    assert result["requests"], "the page made no request at all: the log is not working"
    for url in result["requests"]:
        parsed = urlparse(url)
        if parsed.scheme in INTERNAL_SCHEMES:
            continue
        assert parsed.netloc in allowed_hosts, url


def centre_colours(png: bytes) -> int:
    """Distinct colours in the middle of the picture, where the communities are drawn."""
    image = Image.open(io.BytesIO(png)).convert("RGB")
    w, h = image.size
    crop = image.crop((w // 4, h // 4, 3 * w // 4, 3 * h // 4))
    return len(crop.getcolors(maxcolors=1 << 20) or [])


def drawn_pixels(png: bytes) -> int:
    """Pixels in the middle of the picture that are not its background colour."""
    image = Image.open(io.BytesIO(png)).convert("RGB")
    w, h = image.size
    colours = image.crop((w // 4, h // 4, 3 * w // 4, 3 * h // 4)).getcolors(
        maxcolors=1 << 20) or []
    return sum(n for n, _ in colours) - max((n for n, _ in colours), default=0)


# kind -> (least interactive SVG paths, text the legend shows)
EXPECT = {
    "incidents": (4, "入室盗窃"),
    "incidents_grid": (4, "每格发案数"),
    "incidents_cells": (5, "每格发案数"),
    "rates": (4, "无数据 (1 个社区)"),
    "hotspots": (4, "热点（99% 置信） (1)"),
    "hotspots_grid": (7, "无相邻单元 (1)"),
    "protection": (4 + 2 + 1 + 1 + 3, "物防技防未达标 (2)"),
    "coverage": (4 + 2 + 2, "建议新址 (1)"),
    "standard": (4, "待补数据 (1 个社区)"),
}


@pytest.mark.parametrize("kind", list(EXPECT))
def test_map_draws_offline_from_disk(kind, driver, all_maps, tmp_path):
    page = write_map(all_maps[kind], tmp_path / f"{kind}.html")
    result = open_page(driver, page.as_uri())
    assert_offline(result)
    least_paths, legend_text = EXPECT[kind]
    paths = driver.execute_script("return document.querySelectorAll('path.leaflet-interactive')"
                                  ".length")
    assert paths >= least_paths
    assert legend_text in driver.find_element("css selector", ".pingan-legend").text
    assert driver.find_element("css selector", ".pingan-title").text.startswith(
        driver.title)
    assert driver.find_elements("css selector", ".leaflet-control-layers-overlays input")
    assert driver.find_elements("css selector", ".leaflet-control-scale-line")
    png = driver.get_screenshot_as_png()
    # A blank map is one colour; boundaries and filled shapes add colours and pixels.
    assert centre_colours(png) >= 3 and drawn_pixels(png) > 1000


def settled(d, script: str, expected, timeout_s: float = 10.0):
    """Poll ``return <script>`` until it gives ``expected`` (the runtime redraws on a timer)."""
    deadline = time.monotonic() + timeout_s
    value = d.execute_script(f"return {script}")
    while value != expected and time.monotonic() < deadline:
        time.sleep(0.05)
        value = d.execute_script(f"return {script}")
    return value


COUNT_TEXT = "document.querySelector('.pingan-count').textContent"


def controller(driver):
    return driver.execute_script(
        "var k = Object.keys(window).filter(function (n) { return n.indexOf('pinganIncidents')"
        " === 0; }); return k.length === 1 ? k[0] : null;")


def test_incident_points_filter_by_month_and_category(driver, all_maps, tmp_path):
    page = write_map(all_maps["incidents"], tmp_path / "incidents.html")
    assert_offline(open_page(driver, page.as_uri()))
    name = controller(driver)
    assert driver.execute_script(f"return {name}.cluster.getLayers().length") == 6
    assert driver.execute_script(f"return {name}.heat._latlngs.length") == 6
    assert driver.find_element("css selector", ".pingan-count").text == "显示 6 起"
    from selenium.webdriver.support.ui import Select

    Select(driver.find_element("css selector", ".pingan-period select")).select_by_index(2)
    assert settled(driver, COUNT_TEXT, "显示 2 起") == "显示 2 起"  # February
    # switch off theft in the layer control: February keeps its fraud case only
    box = driver.find_elements("css selector", ".leaflet-control-layers-overlays input")[3]
    box.click()
    assert settled(driver, COUNT_TEXT, "显示 1 起") == "显示 1 起"
    assert driver.execute_script(f"return {name}.cluster.getLayers().length") == 1
    # a marker's popup shows the incident's fields as text (the address's markup is not run)
    driver.execute_script(f"{name}.cluster.fire('click', {{layer: {name}._marker(2)}});")
    popup = driver.execute_script(
        "return document.querySelector('.leaflet-popup-content').textContent")
    assert "A3" in popup and "<script>x</script>路" in popup


def test_incident_grid_draws_cells_on_canvas(driver, all_maps, tmp_path):
    page = write_map(all_maps["incidents_grid"], tmp_path / "grid.html")
    assert_offline(open_page(driver, page.as_uri()))
    name = controller(driver)
    drawn = driver.execute_script(f"return {name}.grid.drawnCells")
    assert 1 <= drawn <= 6
    painted = driver.execute_script(
        "var c = document.querySelector('canvas.pingan-grid');"
        "var d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data, n = 0;"
        "for (var i = 3; i < d.length; i += 4) { if (d[i] > 0) { n++; } } return n;")
    assert painted > 100
    assert driver.execute_script(f"return {name}.shown") == 6
    legend = driver.find_element("css selector", ".pingan-legend").text
    assert "1" in legend.split("每格发案数")[1]
    from selenium.webdriver.support.ui import Select

    Select(driver.find_element("css selector", ".pingan-period select")).select_by_index(1)
    assert settled(driver, f"{name}.shown", 2) == 2  # January


class _Handler(http.server.SimpleHTTPRequestHandler):
    tile = b""

    def do_GET(self):
        if self.path.startswith("/tiles/"):
            self.send_response(200)
            self.send_header("Content-Type", "image/png")
            self.send_header("Content-Length", str(len(self.tile)))
            self.end_headers()
            self.wfile.write(self.tile)
            return
        super().do_GET()

    def log_message(self, *args):
        pass


def test_served_page_with_operator_tiles_in_gcj02(driver, communities, rates, tmp_path):
    buffer = io.BytesIO()
    Image.new("RGB", (256, 256), (200, 230, 200)).save(buffer, format="PNG")
    handler = type("Handler", (_Handler,), {"tile": buffer.getvalue()})
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), lambda *a, **k: handler(*a, directory=str(tmp_path), **k))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        host = f"127.0.0.1:{server.server_address[1]}"
        options = maps.MapOptions(tile_url=f"http://{host}/tiles/{{z}}/{{x}}/{{y}}.png",
                                  tile_attribution="测试底图", tiles_gcj02=True)
        html = render_html(maps.rates_map(communities, rates, options=options),
                           asset_base="/maps/assets/")
        (tmp_path / "rates.html").write_text(html, encoding="utf-8")
        write_assets(tmp_path / "maps" / "assets")
        result = open_page(driver, f"http://{host}/rates.html")
        assert_offline(result, allowed_hosts=(host,))
        assert any("/tiles/" in u for u in result["requests"])
        assert any(u.endswith("/maps/assets/leaflet/leaflet.js") for u in result["requests"])
        assert driver.execute_script(
            "return document.querySelectorAll('img.leaflet-tile-loaded').length") > 0
        assert "测试底图" in driver.find_element("css selector",
                                               ".leaflet-control-attribution").text
    finally:
        server.shutdown()
        thread.join()


def test_png_export(all_maps, tmp_path):
    reason = _unavailable()
    if reason:
        if REQUIRE:
            pytest.fail(reason)
        pytest.skip(reason)
    page = write_map(all_maps["standard"], tmp_path / "standard.html")
    out = export_png(page, tmp_path / "png" / "standard.png", width=800, height=600,
                     browser=CHROMIUM)
    png = out.read_bytes()
    assert Image.open(io.BytesIO(png)).size == (800, 600)
    assert centre_colours(png) > 20
    with pytest.raises(ValueError, match="does not exist"):
        export_png(tmp_path / "missing.html", tmp_path / "x.png", browser=CHROMIUM)
    with pytest.raises(ValueError, match="width must be an integer"):
        export_png(page, tmp_path / "x.png", width=10, browser=CHROMIUM)
    with pytest.raises(maps.BrowserNotFoundError, match="no Chromium found"):
        export_png(page, tmp_path / "x.png", browser="no-such-browser-here")


def test_options_in_english_reach_the_page(driver, communities, evaluation, tmp_path):
    options = maps.MapOptions(language="en", period_label="2025")
    page = write_map(maps.standard_map(communities, evaluation, options=options),
                     tmp_path / "standard_en.html")
    assert_offline(open_page(driver, page.as_uri()))
    assert driver.title == "Safe-community standard"
    assert "Data period: 2025" in driver.find_element("css selector", ".pingan-title").text
    assert "Partly meets (1 communities)" in driver.find_element(
        "css selector", ".pingan-legend").text
