"""Uploaded files: what may reach GDAL, how GDAL opens it, and what errors may say.

A file uploaded to ``POST /api/v1/loads/{layer}`` comes from the network, so before any reader
opens it :func:`check_upload` makes sure it is one of the formats pingan reads, by its bytes
and not only by its name:

=========== ===================================================== ==============================
format      the bytes must be                                     opened by
=========== ===================================================== ==============================
GeoJSON     a JSON object (``{`` after an optional BOM)            GDAL driver ``GeoJSON``
GeoPackage  SQLite with the GeoPackage application id              GDAL driver ``GPKG``
Shapefile   a zip of shapefile parts (``.shp`` ``.shx`` ``.dbf``   GDAL driver ``ESRI Shapefile``
            ``.prj`` ``.cpg`` and indexes), or a bare ``.shp``
GeoParquet  Parquet (``PAR1`` at both ends)                        pyarrow
CSV         text                                                   pandas
=========== ===================================================== ==============================

Whatever GDAL opens is then checked to have been opened by one of :data:`ALLOWED_DRIVERS`.
Anything holding VRT markup (``<OGRVRTDataSource``, ``<VRTDataset``) is refused outright: a VRT
names other files and URLs (``/etc/passwd``, ``/vsicurl/http://…``) that GDAL would read for it.
A zip is refused when an entry's name is absolute or climbs out (``../``), is a link, is not a
shapefile part, or when the entries decompress (really, not as their headers claim) to more than
``settings.api.max_unzipped_mb``.

:func:`harden_gdal` turns GDAL's network access off for the process (``/vsicurl/`` and its
relatives refuse every file, HTTP goes to a closed local port, SQLite may not reach outside
files, VRT may not run Python): pingan never needs GDAL to fetch anything.

Errors name the uploaded file as its sender called it, never the server's temporary path
(:func:`load_upload`).
"""

from __future__ import annotations

import stat
import zipfile
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import Any

from sqlalchemy.engine import Engine

from api.loading import LoadReport, load_file
from api.roads import RoadsLoadReport, load_roads
from geo.errors import InputError, PinganError
from geo.readers import detect_format

__all__ = ["ALLOWED_DRIVERS", "GDAL_HARDENING", "check_upload", "harden_gdal", "load_upload"]

#: The upload options a roads load takes (the others are for point and polygon layers).
_ROAD_OPTIONS = ("crs", "encoding", "fields", "gpkg_layer", "snap_m", "replace", "timezone",
                 "loaded_by")

#: The GDAL drivers an upload may be opened with (CSV and Parquet are read without GDAL).
ALLOWED_DRIVERS = frozenset({"GeoJSON", "GPKG", "ESRI Shapefile"})

#: GDAL configuration set by :func:`harden_gdal`.
GDAL_HARDENING: dict[str, str] = {
    # /vsicurl/ (and /vsis3/, /vsigs/… built on it) accept only this one name, which no URL is
    "CPL_VSIL_CURL_ALLOWED_FILENAME": "pingan-network-access-is-off",
    "CPL_VSIL_CURL_ALLOWED_EXTENSIONS": ".pingan-network-access-is-off",
    # whatever else would use HTTP (the HTTP, WFS, OAPIF drivers) meets a closed local port
    "GDAL_HTTP_PROXY": "127.0.0.1:9",
    "GDAL_HTTP_TIMEOUT": "1",
    "GDAL_HTTP_CONNECTTIMEOUT": "1",
    "GDAL_HTTP_MAX_RETRY": "0",
    "OGR_SQLITE_ALLOW_EXTERNAL_ACCESS": "NO",
    "GDAL_VRT_ENABLE_PYTHON": "NO",
    "GDAL_VRT_ENABLE_RAWRASTERBAND": "NO",
}

_VRT_MARKERS = (b"<ogrvrtdatasource", b"<vrtdataset")
_HEAD_BYTES = 1 << 16
_SQLITE_MAGIC = b"SQLite format 3\x00"
_GPKG_APPLICATION_IDS = (b"GPKG", b"GP10", b"GP11")
_SHP_MAGIC = b"\x00\x00\x27\x0a"
#: Shapefile parts and the indexes and metadata tools write next to them.
_SHAPEFILE_PARTS = (".shp", ".shx", ".dbf", ".prj", ".cpg", ".qix", ".sbn", ".sbx", ".fbn",
                    ".fbx", ".ain", ".aih", ".atx", ".ixs", ".mxs", ".xml", ".qmd", ".qml")
_MAX_ZIP_ENTRIES = 200
_CHUNK = 1 << 20


def harden_gdal() -> None:
    """Set :data:`GDAL_HARDENING` in GDAL's process-wide configuration."""
    import pyogrio

    pyogrio.set_gdal_config_options(dict(GDAL_HARDENING))


def _refuse(name: str, why: str) -> InputError:
    return InputError(f"{name}: {why}")


def _head(path: Path) -> bytes:
    with open(path, "rb") as fh:
        return fh.read(_HEAD_BYTES)


def _suffix(name: str) -> str:
    return PurePosixPath(name).suffix.lower()


def _tail(path: Path) -> bytes:
    size = path.stat().st_size
    if size < 8:
        return b""
    with open(path, "rb") as fh:
        fh.seek(size - 4)
        return fh.read(4)


def _check_no_vrt(data: bytes, name: str) -> None:
    low = data.lower()
    if any(marker in low for marker in _VRT_MARKERS):
        raise _refuse(name, "VRT content is not accepted (it makes GDAL read other files or "
                            "URLs); upload the data itself")


def _check_signature(path: Path, fmt: str, name: str, head: bytes) -> None:
    if fmt == "geojson" and not head.removeprefix(b"\xef\xbb\xbf").lstrip().startswith(b"{"):
        raise _refuse(name, "not a GeoJSON file (it does not start with a JSON object)")
    if fmt == "gpkg" and not (head.startswith(_SQLITE_MAGIC)
                              and head[68:72] in _GPKG_APPLICATION_IDS):
        raise _refuse(name, "not a GeoPackage (an SQLite file with the GeoPackage "
                            "application id)")
    if fmt == "parquet" and not (head.startswith(b"PAR1") and _tail(path) == b"PAR1"):
        raise _refuse(name, "not a Parquet file")
    if fmt == "shapefile" and _suffix(name) == ".shp" and not head.startswith(_SHP_MAGIC):
        raise _refuse(name, "not a shapefile (.shp) file")


def _entry_problem(info: zipfile.ZipInfo) -> str | None:
    """Why a zip entry is refused, or None."""
    raw = info.filename
    parts = PurePosixPath(raw.replace("\\", "/")).parts
    if (raw.startswith(("/", "\\")) or "\\" in raw or ".." in parts
            or (parts and len(parts[0]) >= 2 and parts[0][1] == ":")):
        return f"entry {raw!r} has an absolute path or leaves the archive's folder"
    if stat.S_ISLNK(info.external_attr >> 16):
        return f"entry {raw!r} is a link"
    if info.is_dir():
        return None
    suffix = PurePosixPath(raw).suffix.lower()
    if raw.lower().endswith(".shp.xml"):
        suffix = ".xml"
    if suffix not in _SHAPEFILE_PARTS:
        return (f"entry {raw!r} is not part of a shapefile (expected "
                f"{', '.join(_SHAPEFILE_PARTS[:5])}…)")
    return None


def _chunks(zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> Iterator[bytes]:
    with zf.open(info) as fh:
        while chunk := fh.read(_CHUNK):
            yield chunk


def _check_zip(path: Path, name: str, max_unzipped_bytes: int) -> None:
    try:
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
            if len(infos) > _MAX_ZIP_ENTRIES:
                raise _refuse(name, f"the zip file holds {len(infos)} entries; at most "
                                    f"{_MAX_ZIP_ENTRIES} are accepted")
            for info in infos:
                problem = _entry_problem(info)
                if problem:
                    raise _refuse(name, problem)
            if sum(i.file_size for i in infos) > max_unzipped_bytes:
                raise _refuse(name, f"the zip file unpacks to more than the limit of "
                                    f"{max_unzipped_bytes:,} bytes")
            total = 0
            for info in infos:
                first = True
                for chunk in _chunks(zf, info):
                    if first:
                        _check_part(info, chunk, name)
                        first = False
                    total += len(chunk)
                    if total > max_unzipped_bytes:
                        raise _refuse(name, f"the zip file unpacks to more than the limit of "
                                            f"{max_unzipped_bytes:,} bytes")
    except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, EOFError) as exc:
        raise _refuse(name, f"not a readable zip file ({exc})") from None


def _check_part(info: zipfile.ZipInfo, first_chunk: bytes, name: str) -> None:
    _check_no_vrt(first_chunk[:_HEAD_BYTES], f"{name} ({info.filename})")
    if info.filename.lower().endswith(".shp") and not first_chunk.startswith(_SHP_MAGIC):
        raise _refuse(name, f"entry {info.filename!r} is not a shapefile")


def _check_driver(path: Path, name: str) -> None:
    import pyogrio

    try:
        driver = pyogrio.read_info(str(path)).get("driver")
    except Exception as exc:
        why = _scrub(str(exc).splitlines()[0], path, name)[:300]
        raise _refuse(name, f"cannot be opened: {why}") from None
    if driver not in ALLOWED_DRIVERS:
        raise _refuse(name, f"GDAL would open it with the {driver} driver; uploads are read "
                            f"only as {', '.join(sorted(ALLOWED_DRIVERS))}")


def check_upload(path: str | Path, *, name: str, max_unzipped_bytes: int) -> str:
    """Check that an uploaded file is one pingan reads, before it is read.

    Parameters
    ----------
    path
        The file as stored on the server.
    name
        The file's name as uploaded (used in errors; its suffix selects the format).
    max_unzipped_bytes
        Largest total uncompressed size of a zip file.

    Returns
    -------
    str
        The format (a key of :data:`geo.readers.FORMATS`).

    Raises
    ------
    geo.errors.InputError
        Naming the upload and what is wrong with it.
    """
    path = Path(path)
    try:
        fmt = detect_format(name)
    except InputError as exc:
        raise _refuse(name, str(exc).split(": ", 1)[-1]) from None
    head = _head(path)
    _check_no_vrt(head, name)
    _check_signature(path, fmt, name, head)
    if fmt == "shapefile" and _suffix(name) == ".zip":
        if not head.startswith(b"PK\x03\x04"):
            raise _refuse(name, "not a zip file")
        _check_zip(path, name, max_unzipped_bytes)
    if fmt in ("geojson", "gpkg", "shapefile"):
        harden_gdal()
        _check_driver(path, name)
    return fmt


def _scrub(text: str, path: Path, name: str) -> str:
    text = text.replace(str(path), name).replace(str(path.parent), "upload")
    return text if path.name == name else text.replace(path.name, name)


def load_upload(engine: Engine, path: str | Path, layer: str, *, name: str,
                max_unzipped_bytes: int, **options: Any) -> LoadReport | RoadsLoadReport:
    """Check an uploaded file (:func:`check_upload`) and load it (:func:`load_file`).

    Parameters
    ----------
    engine
        Database.
    path
        The file as stored on the server (a temporary path nobody should see).
    layer
        The layer.
    name
        The file's name as uploaded; errors and the load log use it.
    max_unzipped_bytes
        Largest total uncompressed size of a zip file.
    **options
        Passed to :func:`api.loading.load_file` (``crs``, ``encoding``, ``fields``…); for
        ``roads`` the ones :func:`api.roads.load_roads` takes (``snap_m`` None: its default).

    Returns
    -------
    api.loading.LoadReport or api.roads.RoadsLoadReport

    Raises
    ------
    geo.errors.PinganError
        As :func:`check_upload` and :func:`api.loading.load_file` raise them, with the
        temporary path replaced by the upload's name.
    """
    path = Path(path)
    try:
        check_upload(path, name=name, max_unzipped_bytes=max_unzipped_bytes)
        if layer == "roads":
            kept = {k: options[k] for k in _ROAD_OPTIONS if k in options}
            if kept.get("snap_m") is None:
                kept.pop("snap_m", None)
            return load_roads(engine, path, display_name=name, **kept)
        options["snap_m"] = options.get("snap_m") or 0.0
        return load_file(engine, path, layer, display_name=name, **options)
    except PinganError as exc:
        exc.args = (_scrub(str(exc), path, name), *exc.args[1:])
        raise
