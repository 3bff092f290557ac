"""``pingan demo``: the sample city, loaded into the configured database and shown."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from api.loading import load_file
from geo.readers import manifest_entries

__all__ = ["ensure_sample", "load_sample", "run_demo"]


def ensure_sample(directory: Path, *, echo: Callable[[str], Any]) -> Path:
    """Write the sample city into ``directory`` unless an up-to-date copy is there.

    Returns
    -------
    pathlib.Path
        The manifest.
    """
    from geo.sample import DEFAULT_SEED, generate_city, write_sample

    manifest = directory / "sample.json"
    if manifest.is_file():
        meta = json.loads(manifest.read_text(encoding="utf-8"))
        files = [directory / e["file"] for e in meta.get("layers", [])]
        if meta.get("seed") == DEFAULT_SEED and files and all(f.is_file() for f in files):
            return manifest
    echo(f"generating the sample city in {directory}/ …")
    return write_sample(generate_city(seed=DEFAULT_SEED), directory)


def load_sample(engine: Any, manifest: Path, *, timezone: str,
                echo: Callable[[str], Any]) -> None:
    """Load every layer of a sample manifest, in its order."""
    for entry in manifest_entries(manifest):
        rep = load_file(engine, entry["path"], entry["layer"], crs=entry.get("crs"),
                        encoding=entry.get("encoding"), fields=entry.get("fields") or None,
                        gpkg_layer=entry.get("gpkg_layer"), timezone=timezone, progress=True,
                        loaded_by="pingan demo")
        echo(f"  {rep.layer:<12} {entry['file']:<28} {rep.rows_loaded:>7,} new "
             f"{rep.rows_updated:>7,} updated {rep.rows_rejected:>4,} rejected")


def run_demo(rt: Any, *, directory: Path, serve: bool, echo: Callable[[str], Any]) -> None:
    """Generate and load the sample city, then report (and serve, unless ``serve`` is false)."""
    from api.status import database_status

    manifest = ensure_sample(directory, echo=echo)
    engine = rt.ready_engine()
    echo("loading the sample city:")
    load_sample(engine, manifest, timezone=rt.settings.timezone, echo=echo)
    st = database_status(engine)
    inc = st["incidents"]
    echo(f"incidents: {inc['total']:,} stored, {inc['unassigned']:,} in no community")
