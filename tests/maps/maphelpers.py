"""Reading back what a page holds: the GeoJSON layers, the legend, the embedded incident data."""

from __future__ import annotations

import json
import re

from maps import render_html

_LAYER = re.compile(r"pingan\.geoJsonLayer\((\{\"type\":\"FeatureCollection\".*?\}), (\[.*?\])\);",
                    re.DOTALL)
_LEGEND = re.compile(r"pingan\.legend\(\w+, (\".*?\")\);")
_INCIDENTS = re.compile(r"pingan\.incidents\(\w+, (\{.*?\})\);\n")
_LAYER_NAMES = re.compile(r"overlays :\s*\{(.*?)\}", re.DOTALL)


def page(m) -> str:
    return render_html(m)


def layers(html: str) -> list[tuple[dict, list[dict]]]:
    """Every GeoJSON layer of the page: (feature collection, style table), packed ones unpacked.

    Unpacking follows the runtime (``unpack`` in pingan-maps.js): integer sums divided by the
    scale, which gives the same doubles as the rounded coordinates.
    """
    return [(unpack(json.loads(c)), json.loads(s)) for c, s in _LAYER.findall(html)]


def unpack(collection: dict) -> dict:
    """A packed feature collection (maps.page.feature_collection(packed=...)) as GeoJSON."""
    scale = collection.pop("packed", None)
    if scale is None:
        return collection

    def ring(flat: list[int]) -> list[list[float]]:
        out, x, y = [], 0, 0
        for dx, dy in zip(flat[::2], flat[1::2], strict=True):
            x, y = x + dx, y + dy
            out.append([x / scale, y / scale])
        return out

    for f in collection["features"]:
        g = f["geometry"]
        if g["type"] == "Polygon":
            g["coordinates"] = [ring(r) for r in g["coordinates"]]
        elif g["type"] == "MultiPolygon":
            g["coordinates"] = [[ring(r) for r in p] for p in g["coordinates"]]
    return collection


def legend(html: str) -> str:
    found = _LEGEND.findall(html)
    assert len(found) == 1
    return json.loads(found[0])


def incident_data(html: str) -> dict:
    found = _INCIDENTS.findall(html)
    assert len(found) == 1
    return json.loads(found[0])


def layer_names(html: str) -> list[str]:
    block = _LAYER_NAMES.search(html)
    assert block is not None
    return [json.loads(k) for k in re.findall(r"(\"(?:[^\"\\]|\\.)*\")\s*:", block.group(1))]


def features_by_key(html: str) -> dict[str, tuple[dict, dict]]:
    """Features that carry a key, with their style: key -> (feature, style)."""
    out = {}
    for collection, styles in layers(html):
        for f in collection["features"]:
            if "k" in f["properties"]:
                out[f["properties"]["k"]] = (f, styles[f["properties"]["s"]])
    return out
