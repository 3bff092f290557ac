"""``/api/v1/catalogue``: every per-community metric pingan computes (every role)."""

from __future__ import annotations

from dataclasses import asdict

import pandas as pd
from fastapi import APIRouter
from fastapi.responses import Response

from api.deps import CurrentKey, SessionDep, SettingsDep, TableFormat
from api.provenance import CsvDep
from api.render import provenance_in, render
from api.schemas import MetricList, responses
from geo.catalogue import CATALOGUE

__all__ = ["router"]

router = APIRouter(prefix="/catalogue", tags=["catalogue"])


@router.get("", response_model=MetricList,
            responses=responses(400, 401, 403, 422, 429, csv=True))
def list_metrics(conn: SessionDep, settings: SettingsDep, key: CurrentKey,
                 csv: CsvDep,
                 format: TableFormat = "json") -> Response:
    """List the metric catalogue: names, units, labels, definitions and parameters."""
    rows = [asdict(m) for m in CATALOGUE.values()]
    frame = pd.DataFrame(rows)
    for c in ("params", "required_params"):
        frame[c] = [list(v) for v in frame[c]]
        if format == "csv":
            frame[c] = [",".join(v) for v in frame[c]]
    return render(frame, format, provenance_in(conn, settings), filename="catalogue", csv=csv)
