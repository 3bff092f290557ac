"""Uploads: only formats pingan reads reach GDAL; no VRT, no network, safe zips, clean errors."""

from __future__ import annotations

import contextlib
import http.server
import io
import json
import stat
import struct
import threading
import zipfile
from pathlib import Path
from typing import ClassVar

import geopandas as gpd
import pytest
from shapely.geometry import box

from api.uploads import GDAL_HARDENING, check_upload, harden_gdal
from geo.errors import InputError
from tests.api.appcity import X0, Y0

PASSWD_VRT = b"""<OGRVRTDataSource>
  <OGRVRTLayer name="passwd">
    <SrcDataSource>CSV:/etc/passwd</SrcDataSource>
  </OGRVRTLayer>
</OGRVRTDataSource>
"""


def upload(client, city, body: bytes, name: str, layer: str = "communities", **form):
    return client.post(f"/api/v1/loads/{layer}", headers=city.headers("admin"),
                       files={"file": (name, body, "application/octet-stream")}, data=form)


def refused(response, *fragments: str) -> str:
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["type"] == "https://pingan.dev/problems/invalid-input"
    detail = body["detail"]
    for f in fragments:
        assert f in detail, detail
    assert "pingan-upload-" not in response.text and "/tmp" not in response.text
    return detail


def communities_frame() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({"code": ["U1"], "name": ["上传社区"], "population": [100]},
                            geometry=[box(X0 + 0.1, Y0, X0 + 0.11, Y0 + 0.01)],
                            crs="EPSG:4326")


def shapefile_zip(tmp_path: Path, extra: dict[str, bytes] | None = None) -> bytes:
    folder = tmp_path / "shp"
    folder.mkdir(parents=True)
    communities_frame().to_file(folder / "c.shp", driver="ESRI Shapefile", encoding="utf-8")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for part in sorted(folder.iterdir()):
            zf.write(part, part.name)
        for name, data in (extra or {}).items():
            zf.writestr(name, data)
    return buf.getvalue()


# --- VRT and the network -----------------------------------------------------------------------


@pytest.mark.parametrize("name", ["communities.geojson", "communities.gpkg", "c.csv",
                                  "communities.json"])
def test_vrt_content_is_refused_whatever_its_name(client, city, name):
    detail = refused(upload(client, city, PASSWD_VRT, name), name, "VRT content is not accepted")
    assert "root:" not in detail


def test_a_vrt_file_or_one_inside_a_zip_is_refused(client, city, tmp_path):
    refused(upload(client, city, PASSWD_VRT, "passwd.vrt"), "passwd.vrt", "unknown file type")
    inner = zipfile.ZipFile(io.BytesIO(shapefile_zip(tmp_path)))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for info in inner.infolist():
            data = inner.read(info)
            zf.writestr(info.filename, PASSWD_VRT if info.filename.endswith(".shp") else data)
    refused(upload(client, city, buf.getvalue(), "c.zip"), "c.zip", "VRT content")
    refused(upload(client, city, shapefile_zip(tmp_path / "b", {"x.vrt": PASSWD_VRT}), "c.zip"),
            "'x.vrt' is not part of a shapefile")


class _Counter(http.server.BaseHTTPRequestHandler):
    hits: ClassVar[list[str]] = []

    def do_GET(self):
        self.hits.append(self.path)
        body = b"WKT,code\n\"POINT (1 2)\",x\n"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_HEAD(self):
        self.hits.append(self.path)
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


def test_gdal_reaches_no_network_once_hardened(tmp_path):
    import pyogrio

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Counter)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    sources = {"vsicurl": f"/vsicurl/{base}/a.csv", "http": f"{base}/b.csv"}
    try:
        saved = {k: pyogrio.get_gdal_config_option(k) for k in GDAL_HARDENING}
        pyogrio.set_gdal_config_options({k: None for k in GDAL_HARDENING})
        with contextlib.suppress(Exception):
            pyogrio.read_info(sources["vsicurl"])  # the control: unhardened GDAL fetches it
        assert _Counter.hits, "the test server was not reached without the hardening"
        _Counter.hits.clear()
        harden_gdal()
        for kind, source in sources.items():
            vrt = tmp_path / f"{kind}.vrt"
            vrt.write_text(f'<OGRVRTDataSource><OGRVRTLayer name="a"><SrcDataSource>{source}'
                           f"</SrcDataSource></OGRVRTLayer></OGRVRTDataSource>")
            for target in (source, str(vrt)):
                with pytest.raises(Exception):  # noqa: B017 - GDAL's own error classes vary
                    pyogrio.read_dataframe(target)
        assert _Counter.hits == []
    finally:
        server.shutdown()
        thread.join()
        pyogrio.set_gdal_config_options({k: v for k, v in saved.items()})
        harden_gdal()


# --- zips ----------------------------------------------------------------------------------------


def zip_with(entries: list[tuple[zipfile.ZipInfo | str, bytes]]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for info, data in entries:
            zf.writestr(info, data)
    return buf.getvalue()


def link(name: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name)
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    return info


@pytest.mark.parametrize(("entry", "message"), [
    ("../../etc/cron.d/x.shp", "leaves the archive's folder"),
    ("a/../../x.dbf", "leaves the archive's folder"),
    ("/etc/x.shp", "absolute path"),
    ("..\\..\\x.shp", "leaves the archive's folder"),
    ("C:/x.shp", "absolute path"),
    (link("c.dbf"), "is a link"),
    ("c.exe", "is not part of a shapefile"),
    ("inner.zip", "is not part of a shapefile"),
])
def test_zip_entries_that_leave_their_folder_are_refused(client, city, tmp_path, entry, message):
    body = zip_with([("c.shp", b"\x00\x00\x27\x0a" + b"\x00" * 96), (entry, b"x")])
    refused(upload(client, city, body, "边界.zip"), "边界.zip", message)


def test_zip_bombs_are_refused_by_their_real_size(client, city):
    api = {**city.settings.api.model_dump(), "max_unzipped_mb": 1}
    shp = b"\x00\x00\x27\x0a" + b"\x00" * 96
    bomb = zip_with([("c.shp", shp), ("c.dbf", b"\x00" * (3 << 20))])
    assert len(bomb) < 20_000
    with city.client(api=api) as c:
        refused(upload(c, city, bomb, "bomb.zip"), "bomb.zip",
                "unpacks to more than the limit of 1,048,576 bytes")
        # the same, with headers that claim a few bytes: the real size counts
        liar = bytearray(bomb)
        for signature, offset in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):
            pos = liar.find(signature, liar.find(b"c.dbf") - 60 if signature == b"PK\x03\x04"
                            else 0)
            while pos >= 0 and b"c.dbf" not in liar[pos:pos + 80]:
                pos = liar.find(signature, pos + 4)
            struct.pack_into("<I", liar, pos + offset, 10)
        detail = refused(upload(c, city, bytes(liar), "bomb.zip"), "bomb.zip")
        assert "more than the limit" in detail or "not a readable zip file" in detail


def test_check_upload_unit_errors(tmp_path):
    path = tmp_path / "upload.bin"
    path.write_bytes(b"SQLite format 3\x00" + b"\x00" * 200)
    with pytest.raises(InputError, match=r"x\.gpkg: not a GeoPackage"):
        check_upload(path, name="x.gpkg", max_unzipped_bytes=1 << 20)
    path.write_bytes(b"not parquet")
    with pytest.raises(InputError, match=r"x\.parquet: not a Parquet file"):
        check_upload(path, name="x.parquet", max_unzipped_bytes=1 << 20)
    path.write_bytes(b"[1, 2]")
    with pytest.raises(InputError, match=r"x\.geojson: not a GeoJSON file"):
        check_upload(path, name="x.geojson", max_unzipped_bytes=1 << 20)
    path.write_bytes(b"PK\x05\x06" + b"\x00" * 18)
    with pytest.raises(InputError, match=r"x\.zip: not a zip file"):
        check_upload(path, name="x.zip", max_unzipped_bytes=1 << 20)
    path.write_bytes(b"x" * 10)
    with pytest.raises(InputError, match=r"x\.shp: not a shapefile"):
        check_upload(path, name="x.shp", max_unzipped_bytes=1 << 20)


# --- the GDAL driver allow-list ------------------------------------------------------------------


@pytest.mark.parametrize(("document", "driver"), [
    ({"geometryType": "esriGeometryPoint", "spatialReference": {"wkid": 4326},
      "fields": [{"name": "code", "type": "esriFieldTypeString"}],
      "features": [{"attributes": {"code": "A"}, "geometry": {"x": 116.3, "y": 39.9}}]},
     "ESRIJSON"),
    ({"type": "Topology", "objects": {"c": {"type": "GeometryCollection", "geometries": [
        {"type": "Point", "coordinates": [116.3, 39.9], "properties": {"code": "A"}}]}},
      "arcs": []}, "TopoJSON"),
])
def test_json_that_gdal_reads_with_another_driver_is_refused(client, city, document, driver):
    body = json.dumps(document).encode()
    refused(upload(client, city, body, "c.geojson"), "c.geojson",
            f"GDAL would open it with the {driver} driver")


# --- errors name the upload, formats pingan reads still load ---------------------------------


def test_errors_name_the_uploaded_file_never_the_temporary_path(client, city):
    detail = refused(upload(client, city, b"{ not json", "社区 边界.geojson"), "社区 边界.geojson")
    assert detail.startswith("社区 边界.geojson: ")
    empty = {"type": "FeatureCollection", "features": []}
    refused(upload(client, city, json.dumps(empty).encode(), "空 文件.geojson"), "空 文件.geojson")
    strict = client.post("/api/v1/loads/communities", headers=city.headers("admin"),
                         files={"file": ("坏 数据.csv", b"code,name,wkt\nX,,POINT (1 2)\n")},
                         data={"strict": "true"})
    assert strict.status_code == 422 and strict.json()["detail"].startswith("坏 数据.csv: ")
    assert "pingan-upload-" not in strict.text and "/tmp" not in strict.text


def test_the_formats_pingan_reads_still_load(fresh, tmp_path):
    frame = communities_frame()
    frame.to_file(tmp_path / "c.gpkg", driver="GPKG")
    bodies = {
        "新 社区.zip": shapefile_zip(tmp_path),
        "新社区.gpkg": (tmp_path / "c.gpkg").read_bytes(),
        "新社区.geojson": frame.to_json().encode(),
    }
    with fresh.client() as c:
        for name, body in bodies.items():
            r = upload(c, fresh, body, name)
            assert r.status_code == 200, (name, r.text)
            assert (r.json()["file_name"], r.json()["rows_read"]) == (name, 1)
