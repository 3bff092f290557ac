"""The data contracts of pingan's input layers.

Every reader turns a user's file into a GeoDataFrame in EPSG:4326 whose columns are exactly the
canonical fields below (in this order, plus ``geometry``), so that storage, metrics and maps only
ever see one shape of data per layer. DESIGN.md ("Input layers") is the prose version of this
module; the two must agree.

Canonical dtypes
----------------
- ``str``: pandas string, missing values as ``<NA>``.
- ``float``: float64, missing as NaN.
- ``int``: pandas nullable Int64.
- ``datetime``: ``datetime64[ns, UTC]`` (instants; naive input is local time, see the readers).
- ``date``: ``datetime64[ns]`` at midnight, naive (calendar dates).
- ``measures`` (compounds only): a ``str`` column holding the measures present as a sorted,
  comma-separated list of measure names (``"fence,gate_guard,lighting"``), empty when none.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

from geo.errors import ParameterError

__all__ = [
    "COMPOUND_MEASURES",
    "DEVICE_KINDS",
    "FACILITY_TYPES",
    "LAYERS",
    "LOCATION_PRECISIONS",
    "Field",
    "LayerName",
    "LayerSpec",
    "layer_spec",
]

FieldType = Literal["str", "float", "int", "datetime", "date", "measures"]
GeometryKind = Literal["polygon", "point", "point_or_polygon", "none"]


@dataclass(frozen=True)
class Field:
    """One canonical field of a layer.

    Attributes
    ----------
    name
        Canonical column name.
    type
        Canonical dtype family (see the module docstring).
    required
        Whether a row without a value is rejected.
    aliases
        Source column names recognised without a ``--field`` mapping (case-insensitive),
        tried after the canonical name itself.
    description
        One line for help texts and the catalogue.
    max_length
        For ``str`` fields that are stored: the most characters the database column holds
        (``api/models.py``; a test keeps the two equal). Longer values are rejected by the
        readers. ``None``: no limit.
    """

    name: str
    type: FieldType
    required: bool = False
    aliases: tuple[str, ...] = ()
    description: str = ""
    max_length: int | None = None


@dataclass(frozen=True)
class LayerSpec:
    """The contract of one input layer.

    Attributes
    ----------
    name
        Layer name as used on the command line (``pingan load LAYER``).
    fields
        Canonical fields, in output column order.
    geometry
        Which geometries the layer takes; ``"none"`` for plain tables (population by year).
    id_field
        The field that must be unique inside a file, or ``None``.
    geometry_required
        Whether a row with no geometry is rejected (incidents accept a null geometry when a
        ``community_code`` is given).
    stored
        Whether ``pingan load`` stores the layer (candidate sites are only read).
    """

    name: str
    fields: tuple[Field, ...]
    geometry: GeometryKind
    id_field: str | None
    geometry_required: bool = True
    stored: bool = True

    @property
    def columns(self) -> list[str]:
        """Canonical column names in order, without ``geometry``."""
        return [f.name for f in self.fields]

    def field(self, name: str) -> Field:
        """Return the field called ``name``.

        Raises
        ------
        KeyError
            If the layer has no such field.
        """
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(f"layer {self.name!r} has no field {name!r}; fields: {self.columns}")


LOCATION_PRECISIONS = ("exact", "address", "centroid")

DEVICE_KINDS = ("camera", "dome", "ptz", "face", "plate", "alarm", "access")

FACILITY_TYPES = (
    "police_station",
    "police_office",
    "service_station",
    "health_station",
    "health_center",
    "fire_station",
)

#: Known compound measures: physical (物防) and technical (技防). Other names are accepted.
COMPOUND_MEASURES: dict[str, tuple[str, ...]] = {
    "physical": ("fence", "gate_guard", "anti_theft_doors", "lighting", "patrol"),
    "technical": (
        "cctv_entrances",
        "access_control",
        "intrusion_alarm",
        "intercom",
        "plate_recognition",
    ),
}

_COMMUNITIES = LayerSpec(
    name="communities",
    geometry="polygon",
    id_field="code",
    fields=(
        Field("code", "str", True, ("社区代码", "统计用区划代码", "区划代码", "cun_code"),
              "community code, unique (统计用区划代码 where known)", max_length=64),
        Field("name", "str", True, ("社区名称", "社区", "名称"), "community name", max_length=200),
        Field("subdistrict_code", "str", False, ("街道代码", "乡镇代码"), "subdistrict code",
              max_length=64),
        Field("subdistrict", "str", False, ("街道", "街道名称", "乡镇"), "subdistrict (街道)",
              max_length=200),
        Field("district_code", "str", False, ("区代码", "区县代码"), "district code",
              max_length=64),
        Field("district", "str", False, ("区", "区县", "区名称"), "district (区)", max_length=200),
        Field("population", "float", False, ("常住人口", "人口", "pop"), "residents, >= 0"),
        Field("households", "float", False, ("户数", "households_n"), "households, >= 0"),
    ),
)

_POPULATION = LayerSpec(
    name="population",
    geometry="none",
    id_field=None,
    fields=(
        Field("code", "str", True, ("社区代码",), "community code", max_length=64),
        Field("year", "int", True, ("年份", "年"), "calendar year"),
        Field("population", "float", True, ("常住人口", "人口"), "residents that year, >= 0"),
    ),
)

_INCIDENTS = LayerSpec(
    name="incidents",
    geometry="point",
    id_field="id",
    geometry_required=False,
    fields=(
        Field("id", "str", True, ("编号", "案件编号", "警情编号"), "incident id, unique",
              max_length=100),
        Field("occurred_at", "datetime", True, ("发生时间", "案发时间", "time", "datetime"),
              "when it happened; naive times are in the configured time zone"),
        Field("category", "str", True, ("类别", "案件类别", "警情类别", "type"), "category",
              max_length=100),
        Field("status", "str", False, ("状态", "案件状态"), "status (for the case definition)",
              max_length=100),
        Field("address", "str", False, ("地址", "发生地址"), "address", max_length=500),
        Field("location_precision", "str", False, ("定位精度",),
              "exact, address or centroid (default exact)", max_length=16),
        Field("community_code", "str", False, ("社区代码",),
              "community, for records without coordinates", max_length=64),
    ),
)

_DEVICES = LayerSpec(
    name="devices",
    geometry="point",
    id_field="id",
    fields=(
        Field("id", "str", True, ("编号", "设备编号"), "device id, unique", max_length=100),
        Field("kind", "str", True, ("类型", "设备类型"), "camera, dome, ptz, face, plate, alarm…",
              max_length=64),
        Field("azimuth_deg", "float", False, ("方位角", "azimuth"),
              "view direction, degrees clockwise from true north"),
        Field("fov_deg", "float", False, ("视场角", "fov"), "field of view, degrees"),
        Field("range_m", "float", False, ("可视距离", "range"), "view range, metres"),
        Field("status", "str", False, ("状态", "设备状态"), "working or faulty (default working)",
              max_length=16),
        Field("installed_on", "date", False, ("安装日期",), "installation date"),
        Field("removed_on", "date", False, ("拆除日期",), "removal date"),
    ),
)

_COMPOUNDS = LayerSpec(
    name="compounds",
    geometry="point_or_polygon",
    id_field="id",
    fields=(
        Field("id", "str", True, ("编号", "小区编号"), "compound id, unique", max_length=100),
        Field("name", "str", False, ("名称", "小区名称"), "name", max_length=200),
        Field("kind", "str", False, ("类型",), "residential, unit, school…",
              max_length=64),
        Field("households", "float", False, ("户数",), "households, >= 0"),
        Field("population", "float", False, ("人口", "常住人口"), "residents, >= 0"),
        Field("measures", "measures", False, ("措施", "防范措施"),
              "measures present; or one yes/no column per measure"),
        Field("removed_on", "date", False, ("撤销日期",), "date it left the inventory"),
    ),
)

_FACILITIES = LayerSpec(
    name="facilities",
    geometry="point",
    id_field="id",
    fields=(
        Field("id", "str", True, ("编号", "设施编号"), "facility id, unique", max_length=100),
        Field("type", "str", True, ("类型", "设施类型"),
              "police_station, police_office, service_station, health_station, …",
              max_length=64),
        Field("name", "str", False, ("名称", "设施名称"), "name", max_length=200),
        Field("opened_on", "date", False, ("启用日期", "开放日期"), "opening date"),
        Field("closed_on", "date", False, ("关闭日期", "停用日期"), "closing date"),
    ),
)

#: Candidate sites for new facilities (read for site planning; not stored).
_CANDIDATES = LayerSpec(
    name="candidates",
    geometry="point",
    id_field="id",
    stored=False,
    fields=(
        Field("id", "str", False, ("编号", "候选点"), "candidate id (default: its row number)"),
        Field("name", "str", False, ("名称",), "name"),
    ),
)

#: Every layer, by name.
LAYERS: dict[str, LayerSpec] = {
    s.name: s
    for s in (_COMMUNITIES, _POPULATION, _INCIDENTS, _DEVICES, _COMPOUNDS, _FACILITIES,
              _CANDIDATES)
}


def layer_spec(name: str) -> LayerSpec:
    """Return the contract of the layer called ``name``.

    Parameters
    ----------
    name
        One of ``communities``, ``population``, ``incidents``, ``devices``, ``compounds``,
        ``facilities``, ``candidates``.

    Returns
    -------
    LayerSpec

    Raises
    ------
    ValueError
        If ``name`` is not a layer.
    """
    try:
        return LAYERS[name]
    except KeyError:
        raise ParameterError(
            f"layer must be one of {', '.join(LAYERS)}; got {name!r}", parameter="layer"
        ) from None


class LayerName(StrEnum):
    """The layers ``pingan load`` and ``POST /api/v1/loads/{layer}`` take.

    Those of :func:`layer_spec`, and ``roads`` (read by :mod:`geo.roads`).
    """

    communities = "communities"
    population = "population"
    incidents = "incidents"
    devices = "devices"
    compounds = "compounds"
    facilities = "facilities"
    roads = "roads"
