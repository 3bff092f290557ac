"""Benchmark the web workspace's pages in headless Chromium: first visit, warm, restarted.

Run ``python bench/workspace.py [--db sample.db] [--roles admin,liaison] [--warm 3]`` from the
repository root (needs Debian's ``chromium`` and ``chromium-driver`` and the dev extra's
selenium). For each page of :data:`PAGES` and each role it

1. starts a real pingan server (``pingan serve`` in a subprocess, as ``bench/api_load.py``
   does) on a copy of the sample city as loaded (nothing stored yet: no ``pingan prepare``):
   the **first visit after a load** is the first load of the page on that fresh server (empty
   result cache, new process, every part computed);
2. logs a fresh headless Chromium in through the login form (landing on a page that computes
   nothing, so the login is not timed), then loads the page and reads, relative to the start
   of that navigation, the Paint Timing API's ``first-contentful-paint`` (FCP) and the page's
   own ``performance.mark`` (``landing-ready``: every part of the landing drawn);
3. loads the page ``--warm`` more times on the same server (**warm**: the server's caches
   hold the results) and reports the fastest, since the machine is shared;
4. starts a second fresh server on the same database and loads the page once: a **restarted
   server** (**cold**: new process, empty memory cache) reads what the first one stored
   (:mod:`api.prepared`), as the first visitor after ``pingan prepare`` does;

and prints one table: page, role, the first visit's FCP and ready time and the request that
answered last on it (a landing part, with its end time), the restarted server's FCP and ready
time, warm FCP, warm ready (seconds) and the issue's target (issue 16: landing warm <= 1.5 s,
cold (a fresh server) <= 5 s, checked on the restarted server and said for the first visit
too; the map workspace's layers ready warm <= 2 s). A page is one row of :data:`PAGES`.

The sample city is the one ``pingan demo`` loads (``api.demo``): without ``--db`` it is
generated and loaded into ``--dir`` once (minutes) and reused; each server runs on a copy,
with one key per role made by :func:`api.demo.create_demo_keys` (the liaison's jurisdiction
is the first district).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.api_load import server  # noqa: E402

ROLES = ("admin", "liaison", "planner", "client")
CHROMIUM = os.environ.get("PINGAN_CHROMIUM", "chromium")
CHROMEDRIVER = os.environ.get("PINGAN_CHROMEDRIVER", "chromedriver")


@dataclass(frozen=True)
class Page:
    """A page of the workspace and what it must reach.

    Attributes
    ----------
    name
        Row label.
    path
        The URL path the browser opens.
    mark
        The ``performance.mark`` the page sets when it is ready.
    ready_js
        A JavaScript expression that is true once the page is ready (the wait condition).
    warm_s, cold_s
        Targets (seconds) of the ready mark warm and cold (``None``: no target).
    """

    name: str
    path: str
    mark: str
    ready_js: str
    warm_s: float | None
    cold_s: float | None


#: The pages measured: the landing, and the map workspace with its default layers (case rates)
#: of the latest month (issue 16: layers ready warm <= 2 s on the sample city).
PAGES = (Page("landing", "/", "landing-ready", "window.__pinganLanding === true", 1.5, 5.0),
         Page("map", "/map", "layers-ready",
              "!!(window.__pinganWorkspace && window.__pinganWorkspace.ready > 0)", 2.0, None))


@dataclass(frozen=True)
class Timing:
    """One page load: first contentful paint and the ready mark, seconds from navigation."""

    fcp_s: float | None
    ready_s: float
    slowest: str = ""


def sample_db(directory: Path) -> Path:
    """The sample city loaded into ``directory/sample.db`` (built once, then reused)."""
    db = directory / "sample.db"
    if (directory / "sample.db.complete").exists():
        return db
    from api.db import create_db_engine, migrate
    from api.demo import ensure_sample, load_sample

    directory.mkdir(parents=True, exist_ok=True)
    manifest = ensure_sample(directory / "files", echo=print)
    db.unlink(missing_ok=True)
    engine = create_db_engine(f"sqlite:///{db}")
    migrate(engine)
    load_sample(engine, manifest, timezone="Asia/Shanghai", echo=print)
    engine.dispose()
    (directory / "sample.db.complete").touch()
    return db


def demo_keys(db: Path) -> dict[str, str]:
    """A token per role on the city in ``db`` (the demo's keys)."""
    from api.db import create_db_engine
    from api.demo import create_demo_keys
    from api.services import ServiceContext
    from api.settings import Settings

    url = f"sqlite:///{db}"
    engine = create_db_engine(url)
    try:
        keys = create_demo_keys(ServiceContext(engine, Settings(database_url=url)))
    finally:
        engine.dispose()
    return {role: token for role, (_, token) in keys.items()}


@contextlib.contextmanager
def chromium() -> Iterator[object]:
    """A fresh headless Chromium (its own profile: no cookie, no cache)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="pingan-bench-chromium-")
    opts = webdriver.ChromeOptions()
    opts.binary_location = shutil.which(CHROMIUM) or CHROMIUM
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run",
                 "--disable-extensions", "--window-size=1400,900", f"--user-data-dir={profile}"):
        opts.add_argument(flag)
    driver = webdriver.Chrome(service=Service(shutil.which(CHROMEDRIVER) or CHROMEDRIVER),
                              options=opts)
    driver.set_page_load_timeout(600)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def _wait(driver: object, script: str, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not driver.execute_script(script):  # type: ignore[attr-defined]
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        time.sleep(0.02)


def log_in(driver: object, base: str, token: str) -> None:
    """Log in through the form, landing on the icon (a page that computes nothing)."""
    driver.get(f"{base}/login?next=%2Ffavicon.ico")  # type: ignore[attr-defined]
    driver.find_element("id", "key").send_keys(token)  # type: ignore[attr-defined]
    driver.find_element("css selector", "button[type=submit]").click()  # type: ignore[attr-defined]
    _wait(driver, "return location.pathname === '/favicon.ico'", 30, "the login")


def load(driver: object, base: str, page: Page, timeout_s: float) -> Timing:
    """Open the page and read FCP and its ready mark (seconds from the navigation's start)."""
    driver.get("about:blank")  # type: ignore[attr-defined]
    driver.get(f"{base}{page.path}")  # type: ignore[attr-defined]
    _wait(driver, f"return {page.ready_js}", timeout_s, f"{page.mark} on {page.path}")
    # FCP is recorded at the first paint; a page ready before it paints has it a frame later
    _wait(driver, "return performance.getEntriesByName('first-contentful-paint').length > 0",
          5, "first-contentful-paint")
    fcp, ready = driver.execute_script(  # type: ignore[attr-defined]
        "const f = performance.getEntriesByName('first-contentful-paint')[0];"
        f"const r = performance.getEntriesByName('{page.mark}')[0];"
        "return [f ? f.startTime : null, r.startTime];")
    failed = driver.execute_script(  # type: ignore[attr-defined]
        "return document.querySelectorAll('[data-part][data-state=failed]').length")
    if failed:
        raise RuntimeError(f"{failed} part(s) of {page.path} failed to load")
    # the JSON request that answered last (a landing part), from the Resource Timing API
    last = driver.execute_script(  # type: ignore[attr-defined]
        "const r = performance.getEntriesByType('resource')"
        ".filter(e => e.name.includes('/api/v1/'))"
        ".sort((a, b) => b.responseEnd - a.responseEnd)[0];"
        "return r ? [new URL(r.name).pathname, r.responseEnd] : null;")
    slowest = "" if last is None else f"{last[0].rsplit('/', 1)[-1]} {last[1] / 1000:.2f}"
    return Timing(None if fcp is None else fcp / 1000, ready / 1000, slowest)


def measure(page: Page, role: str, source: Path, work: Path, *, warm: int,
            timeout_s: float, screenshots: Path | None = None
            ) -> tuple[Timing, Timing, Timing]:
    """First visit after a load, the fastest of ``warm`` warm loads, and a restarted server's.

    The first visit is the first load on a fresh server of a database where nothing is stored
    yet (just loaded, ``pingan prepare`` not run): it computes the page. Then a second fresh
    server (new process, empty memory cache) on the same database loads the page once: what
    every visitor of a restarted server, or the first visitor after ``pingan prepare``, sees.

    With ``screenshots``, the page as the last warm load left it is saved there as
    ``{page}-{role}.png``.
    """
    db = work / f"{page.name}-{role}.db"
    shutil.copyfile(source, db)
    tokens = demo_keys(db)
    # a fresh server: pingan serve in a subprocess (bench/api_load.py's)
    with server(f"sqlite:///{db}") as base, chromium() as driver:
        log_in(driver, base, tokens[role])
        cold = load(driver, base, page, timeout_s)
        warms = [load(driver, base, page, timeout_s) for _ in range(warm)]
        if screenshots is not None:
            screenshots.mkdir(parents=True, exist_ok=True)
            shot = screenshots / f"{page.name}-{role}.png"
            driver.save_screenshot(str(shot))  # type: ignore[attr-defined]
    with server(f"sqlite:///{db}") as base, chromium() as driver:
        log_in(driver, base, tokens[role])
        restarted = load(driver, base, page, timeout_s)
    db.unlink(missing_ok=True)
    best = min(warms, key=lambda t: t.ready_s)
    return cold, best, restarted


def _s(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def main() -> None:
    """Measure every page for every role and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", type=Path, help="a SpatiaLite file of the loaded sample city")
    parser.add_argument("--dir", type=Path, default=Path("pingan-bench-workspace"),
                        help="where the sample city is built without --db")
    parser.add_argument("--roles", default=",".join(ROLES))
    parser.add_argument("--pages", default=",".join(p.name for p in PAGES))
    parser.add_argument("--warm", type=int, default=3, help="warm loads (the fastest counts)")
    parser.add_argument("--timeout", type=float, default=600.0,
                        help="seconds a page may take to be ready")
    parser.add_argument("--screenshots", type=Path,
                        help="save each page as the last warm load left it ({page}-{role}.png)")
    args = parser.parse_args()
    source = args.db or sample_db(args.dir)
    roles = [r for r in args.roles.split(",") if r]
    pages = [p for p in PAGES if p.name in args.pages.split(",")]
    rows = []
    with tempfile.TemporaryDirectory(prefix="pingan-bench-workspace-") as tmp:
        for page in pages:
            for role in roles:
                cold, warm, again = measure(page, role, source, Path(tmp), warm=args.warm,
                                            timeout_s=args.timeout,
                                            screenshots=args.screenshots)
                rows.append((page, role, cold, warm, again))
                print(f"  {page.name} {role}: first visit {_s(cold.fcp_s)} / "
                      f"{_s(cold.ready_s)} s, warm {_s(warm.fcp_s)} / {_s(warm.ready_s)} s, "
                      f"restarted {_s(again.fcp_s)} / {_s(again.ready_s)} s", flush=True)
    print("\n| page | role | first visit after a load: FCP s | ready s | last part, s | "
          "restarted server (stored): FCP s | ready s | warm FCP s | warm ready s | target |")
    print("|---|---|---:|---:|---|---:|---:|---:|---:|---|")
    for page, role, cold, warm, again in rows:
        target = ", ".join(t for t in (
            f"warm <= {page.warm_s:g} s" if page.warm_s is not None else "",
            f"cold <= {page.cold_s:g} s" if page.cold_s is not None else "") if t)
        ok = ((page.warm_s is None or warm.ready_s <= page.warm_s)
              and (page.cold_s is None or again.ready_s <= page.cold_s))
        first = ("" if page.cold_s is None or cold.ready_s <= page.cold_s
                 else " (first visit: missed)")
        print(f"| {page.name} {page.path} ({page.mark}) | {role} | {_s(cold.fcp_s)} | "
              f"{_s(cold.ready_s)} | {cold.slowest} | {_s(again.fcp_s)} | {_s(again.ready_s)} | "
              f"{_s(warm.fcp_s)} | {_s(warm.ready_s)} | {target} "
              f"{'met' if ok else 'MISSED'}{first} |")

if __name__ == "__main__":
    main()
