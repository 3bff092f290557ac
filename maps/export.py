"""PNG export of a map page, and PDF printing of a page, with headless Chromium, for briefings.

Chromium's own ``--screenshot`` mode is used rather than a WebDriver: it needs only the browser
(Debian's ``chromium``), and ``--virtual-time-budget`` lets the page run its scripts and timers
to completion before the picture is taken. The browser runs with a fresh profile, no background
networking and no first-run work, so exporting makes no request to other hosts.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from geo.errors import ParameterError

__all__ = ["BROWSER_CANDIDATES", "BrowserNotFoundError", "export_png", "find_browser",
           "print_pdf"]

#: Executable names tried, in order, when no browser is given (the ``maps.browser`` setting).
BROWSER_CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")

_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-extensions",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-quic",
    "--hide-scrollbars",
    "--mute-audio",
    "--allow-file-access-from-files",
)


class BrowserNotFoundError(RuntimeError):
    """No Chromium executable was found."""


def find_browser(browser: str | os.PathLike[str] | None = None) -> str:
    """Return the Chromium executable to use.

    Parameters
    ----------
    browser
        A path or command name (the ``maps.browser`` setting); default the first of
        :data:`BROWSER_CANDIDATES` on ``PATH``.

    Returns
    -------
    str
        The executable's path.

    Raises
    ------
    BrowserNotFoundError
        If none is found.
    """
    wanted = [str(browser)] if browser else list(BROWSER_CANDIDATES)
    for name in wanted:
        found = shutil.which(name)
        if found:
            return found
    raise BrowserNotFoundError(
        f"no Chromium found (tried {', '.join(wanted)}); install Debian's 'chromium' package "
        "or set maps.browser (PINGAN_MAPS__BROWSER) to the browser's path"
    )


def export_png(
    page: str | os.PathLike[str],
    out_png: str | os.PathLike[str],
    *,
    width: int = 1600,
    height: int = 1000,
    scale: float = 1.0,
    wait_ms: int = 10_000,
    timeout_s: float = 120.0,
    browser: str | os.PathLike[str] | None = None,
) -> Path:
    """Take a picture of a map page with headless Chromium.

    Parameters
    ----------
    page
        An HTML file written with its assets (:func:`maps.offline.write_map`), or a
        ``file://``/``http(s)://`` URL (the API's ``/maps/<kind>`` on this machine).
    out_png
        The PNG to write; its folder is created when missing.
    width, height
        Size of the picture in CSS pixels.
    scale
        Device scale factor (2 gives a sharper picture of twice the pixels).
    wait_ms
        Virtual time the page may take to draw before the picture (timers run fast when the
        page is idle).
    timeout_s
        Wall-clock limit of the browser run.
    browser
        The Chromium executable (see :func:`find_browser`).

    Returns
    -------
    pathlib.Path
        The PNG.

    Raises
    ------
    ValueError
        If a size is out of range or the page file does not exist.
    BrowserNotFoundError
        If no Chromium is found.
    RuntimeError
        If the browser fails or writes no picture.
    """
    for name, value, top in (("width", width, 8000), ("height", height, 8000)):
        if isinstance(value, bool) or not isinstance(value, int) or not 100 <= value <= top:
            raise ParameterError(f"{name} must be an integer from 100 to {top}; got {value!r}",
                                 parameter=name)
    if not isinstance(scale, int | float) or not 0.5 <= scale <= 4:
        raise ParameterError(f"scale must be a number from 0.5 to 4; got {scale!r}",
                             parameter="scale")
    text = os.fspath(page)
    if text.startswith(("http://", "https://", "file://")):
        url = text
    else:
        path = Path(text).resolve()
        if not path.is_file():
            raise ValueError(f"page must be an HTML file or a URL; {path} does not exist")
        url = path.as_uri()
    exe = find_browser(browser)
    out = Path(out_png).resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.exists():
        out.unlink()
    _run(exe, [f"--window-size={width},{height}", f"--force-device-scale-factor={scale}",
               f"--virtual-time-budget={int(wait_ms)}", f"--screenshot={out}"], url,
         out=out, timeout_s=timeout_s, doing="take a picture of")
    return out


def _run(exe: str, flags: list[str], url: str, *, out: Path, timeout_s: float,
         doing: str) -> None:
    """Run Chromium with a fresh profile; raise unless it wrote ``out``."""
    with tempfile.TemporaryDirectory(prefix="pingan-chromium-") as profile:
        args = [exe, *_FLAGS, f"--user-data-dir={profile}", *flags, url]
        try:
            run = subprocess.run(args, capture_output=True, text=True, timeout=timeout_s,
                                 check=False)
        except subprocess.TimeoutExpired:
            raise RuntimeError(f"Chromium took longer than {timeout_s} s to {doing} "
                               f"{url}") from None
    if run.returncode != 0 or not out.is_file() or out.stat().st_size == 0:
        tail = "\n".join((run.stderr or "").strip().splitlines()[-5:])
        raise RuntimeError(f"Chromium failed to {doing} {url} (exit {run.returncode}): {tail}")


def print_pdf(page: str | os.PathLike[str], out_pdf: str | os.PathLike[str], *,
              timeout_s: float = 120.0, browser: str | os.PathLike[str] | None = None) -> Path:
    """Print an HTML file to PDF with headless Chromium (``--print-to-pdf``).

    The paper size and margins are the page's own (CSS ``@page``); Chromium's header and footer
    (date, URL) are left out. Chromium embeds the fonts it uses (subsets), so Chinese text
    prints with the installed CJK font (Debian's ``fonts-wqy-microhei``) and needs none on the
    reader's machine.

    Parameters
    ----------
    page
        A self-contained HTML file (it should load nothing: the browser runs with no network).
    out_pdf
        The PDF to write; its folder is created when missing.
    timeout_s
        Wall-clock limit of the browser run.
    browser
        The Chromium executable (see :func:`find_browser`).

    Returns
    -------
    pathlib.Path
        The PDF.

    Raises
    ------
    ValueError
        If the page file does not exist.
    BrowserNotFoundError
        If no Chromium is found.
    RuntimeError
        If the browser fails or writes no PDF.
    """
    path = Path(page).resolve()
    if not path.is_file():
        raise ValueError(f"page must be an HTML file; {path} does not exist")
    exe = find_browser(browser)
    out = Path(out_pdf).resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.exists():
        out.unlink()
    _run(exe, ["--no-pdf-header-footer", f"--print-to-pdf={out}"], path.as_uri(), out=out,
         timeout_s=timeout_s, doing="print")
    return out
