"""The adversarial trust matrix: every route × every credential × parameter variants.

Generated, not written by hand: the routes are read from the app's ``/openapi.json`` (plus every
map kind), each route gets the variants of the parameters it accepts (another district by code
and by name, both districts, another community, a bbox over another district, short and long
periods, grid sizes, every format), and every credential (admin, the liaison of D1, the
liaison of subdistrict S21, planner, client, a revoked and an expired key, none) sends every
request. Each answer is checked by :func:`check`:

- no 5xx; an unauthenticated, revoked or expired caller gets 401 (public routes aside);
- the raw body (JSON, CSV, GeoJSON, HTML with embedded data) holds no id, address or position
  (a lon/lat pair, or a latitude, to 1e-5 degree) of an incident the caller may not see;
- a protected caller (planner, client) gets no Gi* statistic and no count of 1 or 2: every
  count is 0, ``"<3"`` or at least 3, and a row with a hidden count carries no rate, share,
  change or test computed from it;
- a liaison gets no row of a community outside their jurisdiction, and a parameter naming a
  place outside it answers 403;
- the space-time surfaces (:mod:`tests.api.trust_spacetime`): no count per step or statistic
  of an emerging hot spot for a protected caller; a protected density surface keeps its
  bandwidth, cell and mask rules; an exact caller's surface and cube equal those of their own
  world's incidents; near repeats: a protected caller gets band classes only and no risk
  zone, an exact caller's Knox table counts the pairs of their own world's incidents; alerts:
  a protected caller gets alerting units only with no figure, an exact caller's observed
  counts are those of their own world.
- a CSV answer links (``Link: rel="describedby"``) to the provenance of the same request
  (same path, same query, ``format=provenance``); :func:`follow_describedby` fetches it with the
  same credential and :func:`check` holds it to every rule above (``format=provenance`` is also
  a format variant of its own).

``tests/api/test_trust_matrix.py`` runs the subset covering every (credential, parameter value)
pair on both backends in CI;
``bench/trust_matrix.py`` runs the full product and prints a table.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import shapely.geometry

from geo.period import parse_period
from tests.api import trust_spacetime
from tests.api.appcity import X0, Y0, incident_points, incident_rows

#: Credentials: the city's keys (``appcity.make_keys``) and none.
CREDENTIALS = ("admin", "liaison", "liaison_s21", "planner", "client", "revoked", "expired",
               "none")
#: The communities each credential's world holds (None: every one).
WORLDS: dict[str, set[str] | None] = {"admin": None, "liaison": {"C1", "C2"},
                                      "liaison_s21": {"C3", "C4"}, "planner": None,
                                      "client": None}
PROTECTED = ("planner", "client")
PUBLIC = {"/health", "/version"}
#: The web workspace's pages (not in the OpenAPI document): method, route, parameter variants.
PAGES = (("GET", "/", ({}, {"lang": "en"})),
         ("GET", "/map", ({}, {"lang": "en"}, {"layers": "incidents", "district": "D2"})))
#: Pages that answer an API client without a valid key with 401 (``/`` shows the login form).
_KEYED_PAGES = ("/map",)
#: Place names only a world holding them may show on a page.
_PLACE_NAMES = {"C1": ("和平社区", "东华门街道"), "C2": ("安定社区", "安定门街道"),
                "C3": ("金融街社区", "金融街街道"), "C4": ("月坛社区",)}
_DISTRICT_NAMES = {"D1": ("东城区", {"C1", "C2"}), "D2": ("西城区", {"C3", "C4"})}
#: The briefing route: its answers are pages (HTML, or PDF read back with ``pdftotext``).
BRIEFINGS = "/api/v1/briefings"
MAP_KINDS = ("incidents", "rates", "hotspots", "emerging", "kde", "near-repeat", "alerts",
             "protection", "coverage", "standard")

#: The places a request may name: one alternative at a time (by code, by name, both
#: districts, another community, a bbox over another district or over both).
AREAS: list[tuple[tuple[str, Any], ...]] = [
    (), (("district", "D1"),), (("district", "D2"),), (("district", "西城区"),),
    (("district", "东城区"),), (("subdistrict", "S21"),), (("subdistrict", "S11"),),
    (("community", ("C3",)),), (("community", ("C1", "C3")),), (("community", ("C2",)),),
    (("bbox", f"{X0 + 0.021},{Y0},{X0 + 0.05},{Y0 + 0.01}"),),
    (("bbox", f"{X0},{Y0},{X0 + 0.05},{Y0 + 0.01}"),),
]
_AREA_PARAMS = {"district", "subdistrict", "community", "bbox"}
#: Values tried for each other parameter a route accepts. The full product takes the first
#: values of the parameters in :data:`PAIRWISE_ONLY` only.
VARIANTS: dict[str, list[Any]] = {
    "period": ["2025", "2025-03", "2025-03-15..2025-03-15", "2025-Q1",
               "2024-01-01..2025-12-31"],
    "cell_m": [None, 250, 300, 2000, 500],
    "format": ["json", "csv", "geojson", "provenance"],
    "on": ["rate", "grid"],
    "by": ["month", "hour-weekday"],
    "level": ["community", "district"],
    "compare": [None, "last-year"],
    "category": [None, "theft"],
    "type": ["police_office"],
    "limit": [None, 5],
    "step": ["month", "week"],
    "cell_neighbours": [None, 2],
    "time_neighbours": [None, 0],
    "kernel": ["quartic", "gaussian"],
    "bandwidth_m": [None, 500, 100],
    "mode": ["exact", "binned"],
    "as_of": [None, "2025-03-16"],
    "cumulative": [None, True],
    "alerts_only": [None, True],
    "method": ["auto", "ears"],
    "ears": ["c2", "c3"],
    "recent_days": [None, 60],
    "reach": ["line", "walk", "drive"],
    "minutes": [None, 5],
    "lang": [None, "en"],
    "q": ["胡同", "C3胡同", "金融街", "和平"],
}
#: Parameters whose later values only the pairwise subset tries (the product would multiply
#: the matrix by them without naming another place, period, grid or format).
PAIRWISE_ONLY = {"compare", "category", "level", "limit", "by", "cell_neighbours",
                 "time_neighbours", "kernel", "mode", "as_of", "cumulative", "alerts_only",
                 "method", "ears", "recent_days"}
#: In the full product: short and long periods and a month; three grid sizes.
FULL_VALUES = {"period": 3, "cell_m": 4}
#: Path parameters: another caller's place and one's own.
PATH_VALUES = {"code": ["C1", "C3"], "kind": list(MAP_KINDS), "name": ["beijing-safe-community"],
               "area_id": ["1", "999999"]}
#: The landing dashboard's parts (JSON with the page's HTML fragment): checked as JSON and,
#: for their fragment, as the page is (:func:`_names_problems`).
LANDING_PART = "/api/v1/landing/{part}"
#: Drawn areas (``POST /api/v1/areas/query`` and ``POST /api/v1/areas``): the city, each
#: district's half, a circle over D2, a community and a facility of D2 picked by name, and the
#: adversarial asks of a protected caller (hours, an incident list, a day).
AREA_QUERY = "/api/v1/areas/query"


def _rect(x0: float, x1: float) -> dict[str, Any]:
    return {"geometry": {"type": "Polygon", "coordinates": [[
        [x0, Y0], [x1, Y0], [x1, Y0 + 0.01], [x0, Y0 + 0.01], [x0, Y0]]]}}


AREA_BODIES: list[dict[str, Any]] = [
    {"area": _rect(X0 - 0.001, X0 + 0.051), "period": "2025", "incidents": True},
    {"area": _rect(X0, X0 + 0.02), "period": "2025-03"},
    {"area": _rect(X0 + 0.021, X0 + 0.05), "period": "2025", "incidents": True},
    {"area": {"circle": {"lon": X0 + 0.035, "lat": Y0 + 0.005, "radius_m": 300}},
     "period": "2025"},
    {"area": {"community": "金融街社区"}, "period": "2025", "incidents": True},
    {"area": {"facility": "F3", "radius_m": 300}, "period": "2025"},
    {"area": _rect(X0, X0 + 0.03), "period": "2025", "hours": [10]},
    {"area": _rect(X0, X0 + 0.03), "period": "2025-03-15..2025-03-15"},
]
#: The parts of the area bodies above that lie outside each liaison's world (index -> bool).
_AREA_OUTSIDE = {"liaison": {2, 3, 4, 5}, "liaison_s21": {1}}

#: Routes left out of the matrix, with the reason.
SKIPPED = {
    ("POST", "/api/v1/loads/{layer}"): "writes; covered by test_app_matrix and the upload tests",
    ("PUT", "/api/v1/profiles/{name}"): "writes; covered by test_app_matrix",
    ("POST", "/api/v1/site-plans"): "covered below with a fixed body",
    ("POST", "/api/v1/areas/query"): "covered below with fixed bodies (AREA_BODIES)",
    ("POST", "/api/v1/areas"): "covered below with fixed bodies (AREA_BODIES)",
}
# Places named by a variant that lie outside each liaison's world.
_OUTSIDE = {"liaison": {"district": {"D2", "西城区"}, "subdistrict": {"S21"},
                        "community": {"C3", "C4"}},
            "liaison_s21": {"district": {"D1", "东城区"}, "subdistrict": {"S11"},
                            "community": {"C1", "C2"}}}

#: Routes that describe metrics (their names, as in a profile) rather than release values.
_METADATA = ("/api/v1/catalogue", "/api/v1/profiles")
_STATS = ("hotspot_gi_z", "gi_z_sim", "p_sim", "p_value", "q_value", "z_sim", "p_change",
          "p_rise", "q_change", "trend_tau", "trend_p", "last_z", "last_p")
_COUNTS = ("cases", "compare_cases", "incidents", "incidents_total", "incidents_in_view",
           "incidents_catchment", "incidents_within_radius")
_DERIVED = re.compile(r"(rate|share|change|q_rise|significant|per_10k|_eb_)")
_NUMBER = re.compile(r"-?\d+\.\d+")


@dataclass(frozen=True)
class Case:
    """One request of the matrix."""

    method: str
    route: str
    path: str
    params: tuple[tuple[str, Any], ...] = ()
    body: Mapping[str, Any] | None = field(default=None, hash=False, compare=False)

    @property
    def id(self) -> str:
        query = "&".join(f"{k}={v}" for k, v in self.params)
        return f"{self.method} {self.path}" + (f"?{query}" if query else "")

    def query(self) -> dict[str, Any]:
        return {k: v for k, v in self.params if v is not None}


def routes(openapi: Mapping[str, Any]) -> list[tuple[str, str, list[str], dict[str, list[str]]]]:
    """(method, route, query parameter names, path parameter enums) of every documented route."""
    out = []
    for route, ops in openapi["paths"].items():
        for method, op in ops.items():
            if (method.upper(), route) in SKIPPED:
                continue
            query = [p["name"] for p in op.get("parameters", []) if p["in"] == "query"]
            path = {p["name"]: _enum(p) for p in op.get("parameters", []) if p["in"] == "path"}
            out.append((method.upper(), route, query, path))
    return out


def _enum(param: Mapping[str, Any]) -> list[str]:
    schema = param.get("schema", {})
    values = schema.get("enum") or PATH_VALUES.get(param["name"], ["x"])
    return [str(v) for v in values]


def _formats(route: str) -> list[str]:
    if route.startswith("/maps/"):
        return ["html", "png"]
    if route == BRIEFINGS:
        return ["html", "pdf"]
    if route == "/api/v1/kde":
        return [*VARIANTS["format"], "tif"]
    return VARIANTS["format"]


def _dimensions(route: str, query: Sequence[str], path: Mapping[str, list[str]]
                ) -> dict[str, list[Any]]:
    dims: dict[str, list[Any]] = {}
    for name, values in path.items():
        dims[f"path:{name}"] = values
    accepted = set(query)
    if accepted & _AREA_PARAMS:
        dims["area"] = [a for a in AREAS if {k for k, _ in a} <= accepted]
    for name in query:
        if name == "format":
            dims[name] = _formats(route)
        elif name in VARIANTS:
            dims[name] = VARIANTS[name]
    return dims


def _each_value(dims: Mapping[str, list[Any]]) -> list[dict[str, Any]]:
    """Cases that give every parameter each of its values at least once.

    Case ``i`` takes value ``i mod len`` of every dimension, so the first case is the base
    request and ``max(len)`` cases cover every value. Since every case is sent with every
    credential, every (credential, parameter value) pair is covered.
    """
    names = list(dims)
    if not names:
        return [{}]
    n = max(len(v) for v in dims.values())
    return [{k: dims[k][i % len(dims[k])] for k in names} for i in range(n)]


def _product(dims: Mapping[str, list[Any]]) -> list[dict[str, Any]]:
    dims = {n: (v[:1] if n in PAIRWISE_ONLY else v[:FULL_VALUES.get(n, len(v))])
            for n, v in dims.items()}
    names = list(dims)
    return [dict(zip(names, combo, strict=True))
            for combo in itertools.product(*(dims[n] for n in names))]


def cases(openapi: Mapping[str, Any], *, full: bool = False) -> list[Case]:
    """Every request of the matrix (``full``: the product, else every value of every parameter).

    With every credential sending every case, the subset covers every pair of a credential and
    a parameter value on every route (pairwise in credential × parameter); the product adds the
    crossings of the parameters themselves.
    """
    out: list[Case] = []
    for method, route, query, path in routes(openapi):
        dims = _dimensions(route, query, path)
        combos = _product(dims) if full else _each_value(dims)
        for combo in combos:
            concrete = route
            params = []
            for name, value in combo.items():
                if name.startswith("path:"):
                    concrete = concrete.replace("{" + name[5:] + "}", str(value))
                elif name == "area":
                    params.extend(value)
                else:
                    params.append((name, tuple(value) if isinstance(value, list) else value))
            out.append(Case(method, route, concrete, tuple(params)))
    for method, route, variants in PAGES:
        out += [Case(method, route, route, tuple(v.items())) for v in variants]
    out.append(Case("POST", "/api/v1/site-plans", "/api/v1/site-plans",
                    body={"type": "police_office", "add": 1, "time_limit_s": 20}))
    # the workspace's plan exports: the same body in every format
    out += [Case("POST", "/api/v1/site-plans", "/api/v1/site-plans", (("format", fmt),),
                 body={"type": "police_office", "add": 2, "time_limit_s": 20})
            for fmt in VARIANTS["format"]]
    out.append(Case("POST", "/api/v1/site-plans", "/api/v1/site-plans", (("format", "json"),),
                    body={"type": "police_office", "add": 1, "time_limit_s": 20,
                          "reach": "walk"}))
    out += [Case("POST", AREA_QUERY, AREA_QUERY, (("body", i),), body=b)
            for i, b in enumerate(AREA_BODIES)]
    out += [Case("POST", "/api/v1/areas", "/api/v1/areas", (("body", i),),
                 body={"name": f"matrix {i}", "area": b["area"]})
            for i, b in enumerate(AREA_BODIES[:6])]
    return list(dict.fromkeys(out))


def send(client: Any, case: Case, headers: Mapping[str, str]) -> Any:
    """Send one case with a caller's headers."""
    query = {k: list(v) if isinstance(v, tuple) else v for k, v in case.query().items()
             if k != "body"}
    if case.method == "POST":
        return client.post(case.path, params=query, json=case.body, headers=dict(headers))
    return client.request(case.method, case.path, params=query, headers=dict(headers))


# --- the checks ---------------------------------------------------------------------------------


def _incidents_of(world: set[str] | None) -> dict[str, dict[str, Any]]:
    """The incidents a caller may see raw: id -> row (every one for admin)."""
    rows = {str(r["id"]): r for r in incident_rows()}
    if world is None:
        return rows
    return {i: r for i, r in rows.items() if i.split("-")[0] in world}


def forbidden_incidents(credential: str) -> dict[str, dict[str, Any]]:
    """Incidents whose id, address or position must not reach ``credential``."""
    everything = {str(r["id"]): r for r in incident_rows()}
    if credential == "admin":
        return {}
    if credential in PROTECTED or credential not in WORLDS:
        return everything
    visible = _incidents_of(WORLDS[credential])
    return {i: r for i, r in everything.items() if i not in visible}


def incident_pairs_in(text: str, ids: Sequence[str]) -> list[str]:
    """Those of ``ids`` whose position appears in ``text`` (a lon/lat pair, or the latitude)."""
    numbers = [float(x) for x in _NUMBER.findall(text)]
    points = incident_points()
    found = []
    for ident in ids:
        if ident not in points:
            continue
        lon, lat = points[ident]
        if any(abs(a - lon) < 1e-5 and abs(b - lat) < 1e-5
               for a, b in itertools.pairwise(numbers)):
            found.append(ident)
        elif any(abs(n - lat) < 2e-7 for n in numbers):
            found.append(f"{ident} (latitude)")
    return found


def _names_outside(case: Case, credential: str) -> bool:
    outside = _OUTSIDE.get(credential)
    if outside is None:
        return False
    for name, value in case.params:
        values = value if isinstance(value, tuple) else (value,)
        if name in outside and any(v in outside[name] for v in values if v is not None):
            return True
        if name == "bbox" and value is not None:
            west = float(str(value).split(",")[0])
            if credential == "liaison" and west > X0 + 0.02:
                return True
            if credential == "liaison_s21" and float(str(value).split(",")[2]) < X0 + 0.02:
                return True
    body = dict(case.params).get("body")
    if case.route in (AREA_QUERY, "/api/v1/areas") and body is not None:
        return body in _AREA_OUTSIDE.get(credential, set())
    path_code = case.path.rsplit("/", 1)[-1]
    return (case.route.endswith("{code}")
            and path_code in outside.get("community", set()))


def follow_describedby(client: Any, response: Any, headers: Mapping[str, str]) -> Any:
    """The provenance document a CSV answer links to, fetched with the same credential.

    The CSV of a POST (a site plan) links to the same POST, body and all, in provenance form.
    """
    link = response.headers.get("link", "")
    match = re.match(r'<([^>]*)>; rel="describedby"', link)
    if not response.headers.get("content-type", "").startswith("text/csv") or not match:
        return None
    sent = response.request
    if sent.method == "POST":
        return client.post(match.group(1), content=sent.content,
                           headers={**headers, "content-type": sent.headers["content-type"]})
    return client.get(match.group(1), headers=dict(headers))


def _describedby_problems(case: Case, response: Any, described: Any) -> list[str]:
    """A CSV's link: the same path and query with format=provenance, answered alike."""
    from urllib.parse import parse_qsl, urlsplit

    link = response.headers.get("link")
    if link is None:
        return ["a CSV answer without Link: rel=describedby"]
    link.encode("latin-1")  # a header must be Latin-1: a UnicodeEncodeError fails the test
    url = urlsplit(re.match(r"<([^>]*)>", link).group(1))  # type: ignore[union-attr]
    # httpx writes a boolean query value as true/false
    sent = sorted((k, str(v).lower() if isinstance(v, bool) else str(v))
                  for k, values in case.query().items()
                  for v in (values if isinstance(values, tuple) else (values,)) if k != "format")
    linked = sorted((k, v) for k, v in parse_qsl(url.query) if k != "format")
    problems = []
    if url.path != case.path or linked != sent or ("format", "provenance") not in parse_qsl(
            url.query):
        problems.append(f"describedby {url.path}?{url.query} is not this request's provenance")
    if described is None or described.status_code != 200:
        problems.append(f"describedby answered {getattr(described, 'status_code', None)}")
    return problems


def check(case: Case, credential: str, response: Any, described: Any = None) -> list[str]:
    """Everything wrong with one answer (empty when it is right).

    ``described`` is the answer of a CSV's ``describedby`` link (:func:`follow_describedby`):
    it is checked as the answer of the same request in ``format=provenance``.
    """
    problems: list[str] = []
    status = response.status_code
    if status >= 500:
        return [f"{status} server error"]
    if any(case.route == route for _, route, _ in PAGES):
        return _page_problems(credential, response, route=case.route)
    if credential in ("revoked", "expired", "none") and case.route not in PUBLIC:
        if status != 401:
            problems.append(f"{credential} got {status}, expected 401")
        return problems
    if credential in _OUTSIDE and _names_outside(case, credential) and status not in (403,
                                                                                      422):
        problems.append(f"names a place outside the jurisdiction but got {status}")
    if status == 200 and response.headers.get("content-type") == "image/png":
        # a picture of the map page of the same request: its status is checked above, its
        # content is the page's (the html variant); it must be a picture and nothing else
        return problems + ([] if response.content.startswith(b"\x89PNG\r\n\x1a\n")
                           else ["an image/png answer that is not a PNG"])
    text = body_text(response)
    forbidden = forbidden_incidents(credential)
    leaked_ids = [i for i in forbidden if re.search(rf"\b{re.escape(i)}\b", text)]
    if leaked_ids:
        problems.append(f"incident ids leaked: {leaked_ids[:5]}")
    addresses = [str(r["address"]) for r in forbidden.values() if r.get("address")]
    leaked_addresses = [a for a in addresses if a in text]
    if leaked_addresses:
        problems.append(f"addresses leaked: {leaked_addresses[:5]}")
    positions = incident_pairs_in(text, list(forbidden))
    if positions:
        problems.append(f"incident positions leaked: {positions[:5]}")
    if status == 200 and case.route == BRIEFINGS:
        problems += _briefing_problems(credential, text)
    if status == 200 and credential in PROTECTED and not case.route.startswith(_METADATA):
        problems += _protected_problems(text)
    if status == 200 and WORLDS.get(credential) is not None:
        problems += _world_problems(text, WORLDS[credential] or set())
    if status == 200 and case.route == LANDING_PART and credential in WORLDS:
        problems += _landing_part_problems(case, credential, response)
    if status == 200 and case.route == AREA_QUERY and credential in WORLDS:
        problems += area_problems(case, credential, response.json())
    if status == 200 and case.route in trust_spacetime.ROUTES and credential in WORLDS:
        problems += trust_spacetime.problems(case.route, case.params, credential,
                                             WORLDS[credential], credential in PROTECTED,
                                             response, described=described)
    if status == 200 and response.headers.get("content-type", "").startswith("text/csv"):
        problems += _describedby_problems(case, response, described)
        if described is not None:
            as_provenance = Case(case.method, case.route, case.path, tuple(
                (k, "provenance" if k == "format" else v) for k, v in case.params))
            problems += [f"its provenance: {p}" for p in check(as_provenance, credential,
                                                                 described)]
    return problems


def area_problems(case: Case, credential: str, answer: Mapping[str, Any]) -> list[str]:
    """A drawn area's answer: an exact caller's count is that of their own world's located
    incidents inside the (clipped) area; a protected caller's is a sum of released figures
    (0 or at least 3, per month too) with no incident list."""
    problems = []
    if credential in PROTECTED:
        if "items" in answer:
            problems.append("an incident list answered to a protected caller")
        counts = [answer["incidents"], *(row["incidents"] for row in answer["trend"])]
        problems += [f"area count {n} released" for n in counts if 0 < n < 3]
        return problems
    area = shapely.geometry.shape(answer["area"]["geometry"])
    period = parse_period(str((case.body or {}).get("period", "2025")))
    hours = (case.body or {}).get("hours") or list(range(24))
    wanted = 0
    for row in _incidents_of(WORLDS[credential]).values():
        when = dt.datetime.fromisoformat(str(row["occurred_at"]))
        if (row["lon"] is not None and period.start <= when.date() < period.end
                and when.hour in hours
                and area.covers(shapely.geometry.Point(row["lon"], row["lat"]))):
            wanted += 1
    if answer["incidents"] != wanted:
        problems.append(f"area counts {answer['incidents']}; the caller's own incidents "
                        f"inside it are {wanted}")
    return problems


def _landing_part_problems(case: Case, credential: str, response: Any) -> list[str]:
    """A landing part: its fragment released as the page is; zones for raw readers only."""
    if credential in PROTECTED and case.path.endswith("/zones"):
        return ["near-repeat risk zones answered to a protected caller"]
    return [f"its fragment: {p}" for p in _names_problems(credential, response.json()["html"])]


def _rows_of(text: str) -> Iterator[dict[str, Any]]:
    try:
        doc = json.loads(text)
    except json.JSONDecodeError:
        return
    if isinstance(doc, dict):
        for item in doc.get("items", []) or []:
            if isinstance(item, dict):
                yield item
        for feature in doc.get("features", []) or []:
            if isinstance(feature, dict) and isinstance(feature.get("properties"), dict):
                yield feature["properties"]


def _protected_problems(text: str) -> list[str]:
    problems = [f"statistic {s} released" for s in _STATS if s in text]
    if "Gi* 得分" in text or "Gi* z-score" in text:
        problems.append("Gi* z shown on a page")
    for row in _rows_of(text):
        hidden = any(v == "<3" for v in row.values())
        per_step = [k for k in row if k.startswith("count_")]
        if per_step:
            problems.append(f"counts per step released: {per_step[:3]}")
        # a grid cell's value is its count (elsewhere "value" is a criterion's or a rate)
        for key in (*_COUNTS, "value") if "cell_id" in row else _COUNTS:
            v = row.get(key)
            if isinstance(v, int | float) and not isinstance(v, bool) and 0 < v < 3:
                problems.append(f"count {key}={v} released")
        if hidden:
            shown = {k: v for k, v in row.items() if _DERIVED.search(k)
                     and isinstance(v, int | float) and not isinstance(v, bool)
                     and "population" not in k and "area" not in k and "camera" not in k
                     and "facility" not in k and "compound" not in k}
            if shown:
                problems.append(f"derived figures of a hidden count released: {shown}")
    return problems


def _world_problems(text: str, world: set[str]) -> list[str]:
    problems = []
    codes = {"C1", "C2", "C3", "C4"}
    for row in _rows_of(text):
        for key in ("code", "community_code"):
            v = row.get(key)
            if isinstance(v, str) and v in codes and v not in world:
                problems.append(f"row of community {v} outside the jurisdiction")
    return problems


def all_maps(openapi: Mapping[str, Any]) -> bool:
    """Whether every map kind is a route variant of the matrix (the kind enum is complete)."""
    route = openapi["paths"].get("/maps/{kind}", {}).get("get", {})
    kinds = next((_enum(p) for p in route.get("parameters", []) if p["name"] == "kind"), [])
    return set(kinds) == set(MAP_KINDS)


def body_text(response: Any) -> str:
    """An answer's text: a PDF's as ``pdftotext`` extracts it, anything else decoded."""
    if not response.headers.get("content-type", "").startswith("application/pdf"):
        return response.content.decode("utf-8-sig", errors="replace")
    import subprocess
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory(prefix="pingan-matrix-") as folder:
        path = Path(folder) / "answer.pdf"
        path.write_bytes(response.content)
        return subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True,
                              text=True, check=True).stdout


def _names_shown_outside(credential: str, text: str) -> list[str]:
    """Names of places outside a liaison's world that a page shows."""
    world = WORLDS.get(credential)
    if world is None:
        return []
    return ([f"name {n} outside the jurisdiction" for code, names in _PLACE_NAMES.items()
             if code not in world for n in names if n in text]
            + [f"district {n} outside the jurisdiction"
               for n, codes in _DISTRICT_NAMES.values() if not codes & world and n in text])


#: The KPI lines of a printed briefing (Chinese): label, period, cases, rate, cases then...
_KPI_LINE = re.compile(r"^\s*(上期|去年同期)\s+\S+\s+(\S+)\s+\S+\s+(\S+)", re.MULTILINE)


def _briefing_problems(credential: str, text: str) -> list[str]:
    """A briefing (HTML or PDF text): only the caller's world; a protected caller's released.

    A liaison's names no place outside their world; a protected caller's holds no near-repeat
    zone and no count of 1 or 2 among its KPIs.
    """
    problems = _names_shown_outside(credential, text)
    if credential in PROTECTED:
        if 'class="zone"' in text:
            problems.append("a near-repeat zone in a protected caller's briefing")
        counts = re.findall(r'<td class="num cases">([^<]*)</td>', text)
        counts += [c for line in _KPI_LINE.findall(text) for c in line[1:]]
        problems += [f"count {c} in a protected caller's briefing"
                     for c in counts if c.strip() in ("1", "2")]
    return problems


def _page_problems(credential: str, response: Any, *, route: str = "/") -> list[str]:
    """A page: the login form (or a 401) without a valid key; else only the caller's world.

    A page names no community, subdistrict or district outside a liaison's world (the map
    workspace's embedded configuration included), shows a protected caller no week, no
    near-repeat zone, no incident layer and no count of 1 or 2, and holds no incident id,
    address or position the caller may not see. Its own query names no place: the workspace's
    script, not the page, asks the API for places.
    """
    text = response.content.decode("utf-8", errors="replace")
    if route in _KEYED_PAGES and credential in ("revoked", "expired", "none"):
        return [] if response.status_code == 401 else [
            f"{credential} got {response.status_code} for {route}, expected 401"]
    if response.status_code != 200:
        return [f"a page answered {response.status_code}"]
    if credential in ("revoked", "expired", "none"):
        if 'action="/login"' not in text or 'id="kpis"' in text:
            return ["an unauthenticated caller did not get the login form alone"]
        return []
    problems = []
    forbidden = forbidden_incidents(credential)
    problems += [f"incident id {i} on the page" for i in forbidden
                 if re.search(rf"\b{re.escape(i)}\b", text)]
    problems += [f"address {r['address']} on the page" for r in forbidden.values()
                 if r.get("address") and str(r["address"]) in text]
    problems += [f"incident position {p} on the page"
                 for p in incident_pairs_in(text, list(forbidden))]
    return problems + _names_problems(credential, text)


def _names_problems(credential: str, text: str) -> list[str]:
    """HTML (a page, a part's fragment): no place outside a liaison's world; for a protected
    caller no week, no near-repeat zone and no count of 1 or 2."""
    problems = _names_shown_outside(credential, text)
    if credential in PROTECTED:
        if 'data-kind="week"' in text or 'class="zone"' in text:
            problems.append("a week or a near-repeat zone shown to a protected caller")
        if re.search(r'value="(incidents|zones)"', text) or '"hours": true' in text:
            problems.append("a raw layer or an hour filter offered to a protected caller")
        for cell in re.findall(r'<td class="num(?: cases)?">([^<]*)</td>', text):
            if cell.strip() in ("1", "2"):
                problems.append(f"count {cell} shown to a protected caller")
    return problems
