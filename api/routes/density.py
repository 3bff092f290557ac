"""``/api/v1/kde``: kernel density surfaces, as cells (JSON, CSV, GeoJSON) or a GeoTIFF.

Computed and released by :mod:`api.services.density` for the caller (:mod:`api.release`): a
liaison's surface is made of the incidents of their jurisdiction and masked to it; a planner's
or client's of released grid counts, with a bandwidth of at least 500 m, published cells and
cells under three expected incidents masked. ``format=tif`` sends a Cloud-Optimized GeoTIFF
(two bands: density per km², expected incidents per cell; the provenance as metadata).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from fastapi.responses import Response

from api.deps import CategoryParam, PeriodDep, SelectionDep, ServiceDep, VisibilityDep
from api.provenance import CsvDep
from api.raster import density_cog
from api.render import base_provenance, render_report
from api.schemas import responses
from api.schemas_spacetime import DensityList
from api.services.density import density_report, density_surface

__all__ = ["router"]

router = APIRouter(tags=["space-time"])

#: GeoTIFFs are sent as ``image/tiff`` (``profile=cloud-optimized`` is a parameter some clients
#: refuse); the file's own metadata says it is a Cloud-Optimized GeoTIFF.
TIFF_MEDIA_TYPE = "image/tiff"


@router.get("/kde", response_model=DensityList,
            responses=responses(400, 401, 403, 404, 409, 422, 429, csv=True, geojson=True,
                                media={TIFF_MEDIA_TYPE: {"schema": {"type": "string",
                                                                    "format": "binary"}}}))
def get_kde(
    csv: CsvDep,
    ctx: ServiceDep,
    vis: VisibilityDep,
    period: PeriodDep,
    area: SelectionDep,
    kernel: Annotated[Literal["quartic", "gaussian"], Query(
        description="quartic (biweight; bandwidth = radius) or gaussian (bandwidth = σ)")
    ] = "quartic",
    bandwidth_m: Annotated[float | None, Query(
        gt=0, le=100_000, description="bandwidth in metres (default: ArcGIS's rule; planner "
                                      "and client keys: at least 500)")] = None,
    cell_m: Annotated[float | None, Query(
        gt=0, le=100_000, description="cell in metres (default 100; planner and client keys: "
                                      "250, 500, 1000 or 2000, default 250)")] = None,
    mode: Annotated[Literal["exact", "binned"], Query(
        description="exact sums, or binned FFT convolution")] = "exact",
    category: CategoryParam = None,
    format: Annotated[Literal["json", "csv", "geojson", "tif", "provenance"], Query(
        description="cells with a value (json, csv, geojson), a Cloud-Optimized GeoTIFF, or "
                    "the provenance document of the CSV")
    ] = "json",
) -> Response:
    """Kernel density of incidents (核密度): per km² and expected incidents per cell."""
    options: dict[str, Any] = {"period": period, "kernel": kernel, "bandwidth_m": bandwidth_m,
                               "cell_m": cell_m, "mode": mode, "categories": category or [],
                               "selection": area}
    if format == "tif":
        surface = density_surface(ctx, vis, **options)
        prov = base_provenance(ctx)
        prov.update(surface.provenance)
        return Response(density_cog(surface.result, provenance=prov),
                        media_type=TIFF_MEDIA_TYPE,
                        headers={"Content-Disposition": 'attachment; filename="kde.tif"',
                                 "Cache-Control": "private, max-age=0"})
    rep = density_report(ctx, vis, **options)
    return render_report(ctx, rep, format, filename="kde", csv=csv)
