"""Provenance beside a CSV, not inside it: the ``describedby`` link, the sidecar file, the options.

A CSV that begins with ``# key: value`` lines is not CSV to a machine (``pandas.read_csv`` fails
on it, and ``grep -v '^#'`` misses the first line, which follows the byte-order mark). So CSV
bodies hold the header and the rows only, and the provenance travels beside them:

- over HTTP, a CSV response carries ``Link: <URL>; rel="describedby"`` (RFC 8288) where URL is
  the same path and query with ``format=provenance``; that URL answers the provenance
  document of the same request. It is the same route with the same parameters, so it passes
  the same trust layer (role, jurisdiction, release rules) as the CSV it describes, and says
  nothing the CSV with its provenance lines would not. The provenance is not put in a header
  itself: headers are Latin-1 and size-limited, and provenance holds Chinese text;
- a CSV file written by the command line gets a sidecar ``FILE.provenance.json``.

``csv_comments`` (``--csv-comments``) restores the provenance lines in the body for those who
want one self-describing file. The UTF-8 byte-order mark stays by default (Excel on Chinese
Windows reads a CSV without it as GBK); ``bom=false`` (``--no-bom``) leaves it out for machines.
Formula neutralisation (:func:`api.output.csv_text`) applies to every form.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote, urlencode

import pandas as pd
from fastapi import Depends, Query, Request

from api.output import plain, to_csv_bytes

__all__ = ["PROVENANCE_MEDIA_TYPE", "CsvDep", "CsvOptions", "csv_body", "csv_options",
           "describedby_link", "provenance_document", "sidecar_path", "write_csv_file"]

#: Media type of the provenance document (JSON).
PROVENANCE_MEDIA_TYPE = "application/vnd.pingan.provenance+json"


@dataclass(frozen=True)
class CsvOptions:
    """How a CSV is written.

    Attributes
    ----------
    bom
        Start with the UTF-8 byte-order mark (for Excel).
    comments
        Provenance as leading ``# key: value`` lines (the old form; not machine-readable CSV).
    describedby
        URL of the provenance document of the same request (HTTP only): sent as a ``Link``
        header.
    """

    bom: bool = True
    comments: bool = False
    describedby: str | None = None


def describedby_link(url: str) -> str:
    """The ``Link`` header value pointing at a provenance document (RFC 8288).

    Parameters
    ----------
    url
        The provenance document's URL (ASCII: path and query percent-encoded).

    Returns
    -------
    str
    """
    return f'<{url}>; rel="describedby"; type="{PROVENANCE_MEDIA_TYPE}"'


def csv_options(
    request: Request,
    bom: Annotated[bool, Query(
        description="CSV: start with the UTF-8 byte-order mark (Excel needs it for Chinese "
                    "text); false for machines")] = True,
    csv_comments: Annotated[bool, Query(
        description="CSV: put the provenance in leading '# key: value' lines (not readable "
                    "as plain CSV); by default it is at the URL of the Link rel=describedby "
                    "header (format=provenance)")] = False,
) -> CsvOptions:
    """The CSV options of a request, with the URL of its provenance document.

    The URL is the request's path and query with ``format`` set to ``provenance``, percent-
    encoded (a header is Latin-1: a Chinese district name travels as UTF-8 escapes).
    """
    query = [(k, v) for k, v in request.query_params.multi_items() if k != "format"]
    query.append(("format", "provenance"))
    url = quote(request.url.path, safe="/") + "?" + urlencode(query, quote_via=quote)
    return CsvOptions(bom=bom, comments=csv_comments, describedby=url)


#: The CSV options of a request (a route that can answer CSV takes it).
CsvDep = Annotated[CsvOptions, Depends(csv_options)]


def provenance_document(frame: pd.DataFrame, provenance: Mapping[str, Any], *,
                        media_type: str = "text/csv") -> dict[str, Any]:
    """The provenance of a table and what it describes: rows and columns.

    Parameters
    ----------
    frame
        The rows the table holds (released for the caller).
    provenance
        Its provenance, as the table's other forms carry it.
    media_type
        The media type of the table described.

    Returns
    -------
    dict
        ``{"provenance": {...}, "describes": {"media_type", "rows", "columns"}}``.
    """
    columns = [str(c) for c in frame.columns if c != "geometry"]
    return {"provenance": plain(dict(provenance)),
            "describes": {"media_type": media_type, "rows": len(frame), "columns": columns}}


def csv_body(frame: pd.DataFrame, provenance: Mapping[str, Any],
             options: CsvOptions | None) -> bytes:
    """The CSV bytes of ``frame`` as ``options`` ask (default: BOM, no provenance lines)."""
    opts = options or CsvOptions()
    return to_csv_bytes(frame, provenance=provenance if opts.comments else None, bom=opts.bom)


def sidecar_path(path: Path) -> Path:
    """The provenance sidecar of a file: ``FILE.provenance.json`` beside ``FILE``."""
    return path.with_name(path.name + ".provenance.json")


def write_csv_file(path: Path, frame: pd.DataFrame, provenance: Mapping[str, Any],
                   options: CsvOptions | None = None) -> Path | None:
    """Write a CSV file and, unless its provenance is in its body, the sidecar beside it.

    Parameters
    ----------
    path
        The CSV file.
    frame, provenance
        Rows and their provenance.
    options
        BOM and comment lines (default: BOM, provenance in the sidecar).

    Returns
    -------
    pathlib.Path or None
        The sidecar written, or None when the provenance went into the CSV's comment lines.
    """
    opts = options or CsvOptions()
    path.write_bytes(csv_body(frame, provenance, opts))
    if opts.comments:
        return None
    side = sidecar_path(path)
    doc = provenance_document(frame, provenance)
    doc["describes"]["file"] = path.name
    side.write_text(json.dumps(doc, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    return side
