"""Issue 12's two trial cities loaded through the command line, as their users loaded them.

- the city portal (``tests/data/portal``): community areas numbered 1–12, upper-case
  categories in "Primary Type", local times in America/Chicago;
- the 110 export (``tests/data/china110``): a GBK shapefile without ``.cpg``, a GBK CSV with
  110 category codes in 警情类别代码 and GCJ-02 coordinates.
"""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path
from typing import Any

from api.cli import main

DATA = Path(__file__).resolve().parents[1] / "data"
PORTAL = DATA / "portal"
CHINA110 = DATA / "china110"

PORTAL_LOADS = [
    ["load", "communities", str(PORTAL / "community_areas.geojson"), "--field",
     "code=area_numbe", "--field", "name=community"],
    ["load", "incidents", str(PORTAL / "crimes_portal.csv"), "--field", "id=ID", "--field",
     "occurred_at=Date", "--field", "category=Primary Type", "--field",
     "community_code=Community Area"],
]
CHINA110_LOADS = [
    ["load", "communities", str(CHINA110 / "社区边界.zip"), "--encoding", "gbk", "--field",
     "code=社区代码", "--field", "name=社区名称", "--field", "subdistrict=街道", "--field",
     "district=区"],
    ["load", "incidents", str(CHINA110 / "110警情导出.csv"), "--encoding", "gbk", "--crs",
     "gcj02", "--field", "id=警情编号", "--field", "occurred_at=报警时间", "--field",
     "category=警情类别代码", "--field", "lon=经度", "--field", "lat=纬度"],
]


def two_districts(folder: Path) -> list[list[str]]:
    """The 110 city's loads, its communities 5–8 moved to a second district and subdistrict.

    The shipped boundaries are one subdistrict of one district; a district option is only
    tested when it leaves something out.
    """
    import geopandas as gpd

    comms = gpd.read_file(CHINA110 / "社区边界.zip", encoding="gbk")
    east = comms.index >= 4
    comms.loc[east, "区"] = "东城区"
    comms.loc[east, "街道"] = "东华门街道"
    path = folder / "两区社区.geojson"
    comms.to_file(path, driver="GeoJSON")
    return [["load", "communities", str(path), *CHINA110_LOADS[0][5:]], CHINA110_LOADS[1]]


def run(args: list[str]) -> tuple[int, str, str]:
    """Run ``pingan ARGS``; return the exit code, stdout and stderr."""
    out, err = io.BytesIO(), io.StringIO()
    wrapper = io.TextIOWrapper(out, encoding="utf-8", write_through=True)
    with contextlib.redirect_stdout(wrapper), contextlib.redirect_stderr(err):
        code = main(args)
    wrapper.flush()
    return code, out.getvalue().decode("utf-8"), err.getvalue()


def build(db: Path, loads: list[list[str]], *, timezone: str | None = None) -> list[str]:
    """Load a city into the SpatiaLite file ``db``; return the global options to query it."""
    options = ["-d", str(db), *(["--timezone", timezone] if timezone else [])]
    for args in loads:
        code, _, err = run([*options, *args])
        assert code == 0, err
    return options


def as_json(text: str) -> Any:
    """A command's ``--format json`` output."""
    return json.loads(text)
