"""The HTTP page policy: security headers, script nonces, credentials in URLs, cross-site writes.

:class:`SecurityMiddleware` wraps the whole application (outside Starlette's error middleware,
so even a 500 carries the headers). For every response it sends::

    Content-Security-Policy: default-src 'self'; script-src 'self' 'nonce-<n>';
        style-src 'self' 'unsafe-inline'; img-src 'self' data: blob: [tile origin];
        font-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'self';
        frame-ancestors 'none'
    X-Content-Type-Options: nosniff
    X-Frame-Options: DENY
    Referrer-Policy: same-origin

with a fresh nonce ``<n>`` per response, which it writes into every ``<script>`` element of an
HTML page it serves (:func:`add_script_nonces`). Why this policy:

- ``default-src 'self'`` with no other host enforces, in the browser, what pingan promises
  intranets: a page makes no request to another host. The one exception is the basemap tile
  server an operator configures (``maps.tile_url``), added to ``img-src``.
- Scripts run only from pingan's own files or inline elements carrying the nonce. Inline event
  handlers (``onerror=``), ``javascript:`` URLs and any ``<script>`` in HTML that a page inserts
  at run time (Leaflet popups and tooltips are set with ``innerHTML``) do not run. Text from
  loaded files is HTML-escaped where pages are built, so no element the server sends comes from
  data; the nonce marks the elements the server sent.
- Styles allow ``'unsafe-inline'``: Leaflet and folium write ``style`` attributes and ``<style>``
  elements, and pingan's legend swatches are ``style`` attributes set through ``innerHTML``,
  which a nonce cannot cover. CSS cannot run script, and with every other source limited to
  ``'self'`` it cannot send data to another host either.
- ``frame-ancestors 'none'`` (and ``X-Frame-Options`` for older browsers) stops clickjacking;
  ``Referrer-Policy: same-origin`` keeps URLs (and their query parameters) from other sites
  while pingan's own requests keep the ``Referer`` that :func:`check_origin` may fall back to.

The middleware also refuses, with a 400 problem document, any request whose query string holds
a credential (``api_key=``, ``key=``, ``token=``, ``access_token=``… or anything shaped like a
pingan token): URLs end up in logs, browser histories and ``Referer`` headers. The access log
filter (:class:`AccessLogRedactor`) replaces such values before uvicorn writes the request line.

It is written here rather than taken from a package (``secure``, ``starlette-csp``) because the
nonce has to reach the pages' script elements, which those packages leave to the templates, and
pingan's pages come from folium and Swagger UI, whose templates it does not own.
"""

from __future__ import annotations

import logging
import re
import secrets
from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from typing import Any
from urllib.parse import parse_qsl, unquote_plus, urlsplit

from fastapi import Request

from api.errors import ForbiddenError, problem_response

__all__ = [
    "CREDENTIAL_PARAMETERS",
    "UNSAFE_METHODS",
    "AccessLogRedactor",
    "SecurityMiddleware",
    "add_script_nonces",
    "check_origin",
    "content_security_policy",
    "credential_parameters",
    "install_access_log_redaction",
    "redact_target",
    "tile_source",
]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

#: Query parameter names (lower case) that carry credentials and are refused.
CREDENTIAL_PARAMETERS = frozenset({
    "api_key", "apikey", "api-key", "key", "token", "access_token", "auth_token",
    "password", "secret", "pingan_session"})
#: Methods that change state; cookie-authenticated ones need a same-site Origin or Referer.
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})

_TOKEN_SHAPE = re.compile(r"pa_[0-9a-fA-F]{8}_[A-Za-z0-9_\-]{8,}")
_REDACTED = "[redacted]"
_DEFAULT_PORTS = {"http": 80, "https": 443}

# Any comment or start tag of an HTML document (attribute values may hold ">").
_TAG = re.compile(r"""<!--|<([a-zA-Z][^\s/>]*)((?:[^>"']|"[^"]*"|'[^']*')*)>""")
_NONCE_ATTR = re.compile(r"""\snonce\s*=\s*(?:"[^"]*"|'[^']*'|[^\s>]*)""", re.IGNORECASE)
# Elements whose content is text up to their end tag: a "<script" inside is not a tag.
_RAW_TEXT = frozenset({"script", "style", "textarea", "title", "xmp", "iframe", "noembed",
                       "noframes", "noscript"})


# --- credentials in URLs ------------------------------------------------------------------------


def credential_parameters(query: str) -> list[str]:
    """Names of the query parameters that carry a credential.

    Parameters
    ----------
    query
        The raw query string (without ``?``).

    Returns
    -------
    list of str
        Parameters named like a credential (:data:`CREDENTIAL_PARAMETERS`, any case) or whose
        value is shaped like a pingan token, in order.
    """
    out = []
    for name, value in parse_qsl(query, keep_blank_values=True):
        if name.strip().lower() in CREDENTIAL_PARAMETERS or _TOKEN_SHAPE.search(value):
            out.append(name)
    return out


def redact_target(target: str) -> str:
    """Return a request target (``/path?query``) with every credential value replaced.

    Values of :data:`CREDENTIAL_PARAMETERS` become ``[redacted]``, and so does anything shaped
    like a pingan token anywhere in the target (also in a malformed query).
    """
    path, sep, query = target.partition("?")
    if sep:
        parts = []
        for part in query.split("&"):
            name, eq, _ = part.partition("=")
            if eq and unquote_plus(name).strip().lower() in CREDENTIAL_PARAMETERS:
                part = f"{name}={_REDACTED}"
            parts.append(part)
        query = "&".join(parts)
    return _TOKEN_SHAPE.sub(_REDACTED, path + sep + query)


class AccessLogRedactor(logging.Filter):
    """Redact credentials from the request line of uvicorn's access log.

    uvicorn logs ``'%s - "%s %s HTTP/%s" %d'`` with the arguments (client, method, target,
    version, status); the target is passed through :func:`redact_target`.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite the record's target argument; never drop the record."""
        args = record.args
        if isinstance(args, tuple) and len(args) >= 3 and isinstance(args[2], str):
            record.args = (*args[:2], redact_target(args[2]), *args[3:])
        elif isinstance(record.msg, str) and "?" in record.msg:
            record.msg = redact_target(record.msg)
        return True


def install_access_log_redaction(logger_name: str = "uvicorn.access") -> None:
    """Add :class:`AccessLogRedactor` to a logger (once, however often it is called)."""
    logger = logging.getLogger(logger_name)
    if not any(isinstance(f, AccessLogRedactor) for f in logger.filters):
        logger.addFilter(AccessLogRedactor())


# --- the content security policy ----------------------------------------------------------------


def tile_source(tile_url: str | None) -> str | None:
    """Return the CSP source of an operator's tile URL template, or None for pingan's own host.

    ``https://{s}.tiles.example/{z}/{x}/{y}.png`` gives ``https://*.tiles.example``; a template
    with a placeholder elsewhere in its host gives the scheme alone (``https:``); a relative URL
    is served by pingan itself and needs no source.
    """
    if not tile_url:
        return None
    parts = urlsplit(tile_url)
    if not parts.scheme or not parts.netloc:
        return None
    scheme = parts.scheme.lower()
    host = parts.netloc.rsplit("@", 1)[-1]
    host = re.sub(r"^\{[^}]*\}\.", "*.", host)
    if "{" in host or "}" in host:
        return f"{scheme}:"
    return f"{scheme}://{host}"


def content_security_policy(nonce: str, *, img_sources: Sequence[str] = ()) -> str:
    """Return pingan's Content-Security-Policy (see the module docstring) for one response.

    Parameters
    ----------
    nonce
        The response's script nonce.
    img_sources
        Further image sources (the operator's tile server).

    Returns
    -------
    str
    """
    images = " ".join(["'self'", "data:", "blob:", *img_sources])
    return ("default-src 'self'; "
            f"script-src 'self' 'nonce-{nonce}'; "
            "style-src 'self' 'unsafe-inline'; "
            f"img-src {images}; "
            "font-src 'self' data:; "
            "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")


def add_script_nonces(page: str, nonce: str) -> str:
    """Write ``nonce="…"`` into every ``<script>`` start tag of an HTML page.

    The page is read as an HTML parser reads it: comments are skipped, and the content of
    ``<script>``, ``<style>``, ``<title>``, ``<textarea>`` and the other raw-text elements is not
    searched for tags, so a ``<script>`` that is text inside a script (a JSON string) is left
    as it is. A nonce a tag already has is replaced.

    Parameters
    ----------
    page
        HTML text.
    nonce
        The nonce (base64url characters).

    Returns
    -------
    str
    """
    out: list[str] = []
    pos = 0
    while True:
        m = _TAG.search(page, pos)
        if m is None:
            break
        if m.group(0) == "<!--":
            end = page.find("-->", m.end())
            stop = len(page) if end < 0 else end + 3
            out.append(page[pos:stop])
            pos = stop
            continue
        name = m.group(1).lower()
        tag = m.group(0)
        if name == "script":
            attrs = _NONCE_ATTR.sub("", m.group(2))
            tag = f'<{m.group(1)} nonce="{nonce}"{attrs}>'
        out.append(page[pos:m.start()] + tag)
        pos = m.end()
        if name in _RAW_TEXT:
            close = re.compile(rf"</{re.escape(name)}(?=[\s/>])", re.IGNORECASE).search(page, pos)
            stop = len(page) if close is None else close.start()
            out.append(page[pos:stop])
            pos = stop
    out.append(page[pos:])
    return "".join(out)


def _security_headers(policy: str) -> list[tuple[bytes, bytes]]:
    return [(b"content-security-policy", policy.encode("latin-1")),
            (b"x-content-type-options", b"nosniff"),
            (b"x-frame-options", b"DENY"),
            (b"referrer-policy", b"same-origin")]


_OWN_HEADERS = {b"content-security-policy", b"x-content-type-options", b"x-frame-options",
                b"referrer-policy"}


class SecurityMiddleware:
    """ASGI middleware applying the page policy (see the module docstring).

    Parameters
    ----------
    app
        The application to wrap.
    img_sources
        Further CSP image sources (:func:`tile_source` of the configured basemap).
    """

    def __init__(self, app: ASGIApp, *, img_sources: Sequence[str] = ()) -> None:
        self.app = app
        self.img_sources = tuple(img_sources)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Handle one ASGI connection."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        nonce = secrets.token_urlsafe(18)
        headers = _security_headers(content_security_policy(nonce,
                                                            img_sources=self.img_sources))
        query = scope.get("query_string", b"").decode("latin-1")
        names = credential_parameters(query)
        if names:
            response = problem_response(
                400, "credential-in-url", "Credentials in the URL",
                f"query parameter {names[0]!r} looks like a credential; send keys only in the "
                "'Authorization: Bearer' header (URLs are logged and cached)")
            response.raw_headers.extend(headers)
            await response(scope, receive, send)
            return
        # A HEAD answer has no body to write nonces into (and must keep its Content-Length).
        html = scope.get("method", "GET").upper() != "HEAD"
        await self.app(scope, receive, _PolicySend(send, headers, nonce, rewrite_html=html))


class _PolicySend:
    """The ``send`` of one response: adds the headers, and nonces to an HTML body."""

    def __init__(self, send: Send, headers: list[tuple[bytes, bytes]], nonce: str, *,
                 rewrite_html: bool = True) -> None:
        self._send = send
        self._rewrite_html = rewrite_html
        self._headers = headers
        self._nonce = nonce
        self._start: Message | None = None
        self._body: list[bytes] = []

    async def __call__(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            raw = [(k, v) for k, v in message.get("headers", []) if k.lower() not in _OWN_HEADERS]
            message["headers"] = raw + self._headers
            ctype = next((v for k, v in raw if k.lower() == b"content-type"), b"")
            encoded = any(k.lower() == b"content-encoding" for k, _ in raw)
            if self._rewrite_html and ctype.lower().startswith(b"text/html") and not encoded:
                self._start = message  # hold it until the whole page has been seen
                return
            await self._send(message)
            return
        if message["type"] != "http.response.body" or self._start is None:
            await self._send(message)
            return
        self._body.append(message.get("body", b""))
        if message.get("more_body", False):
            return
        charset = _charset(self._start)
        page = add_script_nonces(b"".join(self._body).decode(charset, "surrogateescape"),
                                 self._nonce)
        body = page.encode(charset, "surrogateescape")
        self._start["headers"] = [(k, v) for k, v in self._start["headers"]
                                  if k.lower() != b"content-length"]
        self._start["headers"].append((b"content-length", str(len(body)).encode("latin-1")))
        await self._send(self._start)
        await self._send({"type": "http.response.body", "body": body, "more_body": False})


def _charset(start: Message) -> str:
    for k, v in start.get("headers", []):
        if k.lower() == b"content-type":
            m = re.search(rb"charset=([\w\-]+)", v, re.IGNORECASE)
            if m:
                return m.group(1).decode("latin-1")
    return "utf-8"


# --- cross-site requests ------------------------------------------------------------------------


def _origin_of(url: str) -> str | None:
    """``scheme://host[:port]`` of a URL or Origin value, lower case, default port left out."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not parts.hostname:
        return None
    try:
        port = parts.port
    except ValueError:
        return None
    host = parts.hostname.lower()
    if ":" in host:
        host = f"[{host}]"
    if port is None or port == _DEFAULT_PORTS[scheme]:
        return f"{scheme}://{host}"
    return f"{scheme}://{host}:{port}"


def check_origin(request: Request, allowed_origins: Sequence[str] = ()) -> None:
    """Refuse a cross-site state-changing request authenticated by a browser cookie.

    The ``Origin`` header (when absent, the ``Referer``) must name the server's own origin, as
    the request reached it, or one of ``allowed_origins`` (the public origins of a reverse
    proxy). ``Origin: null`` (sandboxed frames, ``file:`` pages) never matches, and a request
    with neither header is refused: browsers send ``Origin`` with every POST.

    Parameters
    ----------
    request
        The request (only unsafe methods are checked).
    allowed_origins
        Further origins (``https://pingan.example.gov.cn``).

    Raises
    ------
    api.errors.ForbiddenError
        If the request comes from another site or says nothing about where it comes from.
    """
    if request.method.upper() not in UNSAFE_METHODS:
        return
    own = _origin_of(str(request.base_url))
    allowed = {o for o in (own, *(_origin_of(a) for a in allowed_origins)) if o}
    claimed = request.headers.get("origin")
    source = "Origin"
    if claimed is None:
        claimed, source = request.headers.get("referer"), "Referer"
    if not claimed:
        raise ForbiddenError("a browser-session request that changes data must come with an "
                             "Origin or Referer header naming this site")
    if _origin_of(claimed) not in allowed:
        raise ForbiddenError(f"cross-site request refused: the {source} header names "
                             f"{_origin_of(claimed) or 'no valid origin'}, not this site")
