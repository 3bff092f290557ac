"""``pingan demo``: the sample city, loaded into the configured database and shown."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from api.loading import load_file
from geo.errors import MissingDataError
from geo.readers import manifest_entries

__all__ = ["ensure_sample", "load_sample", "run_demo"]


def ensure_sample(directory: Path, *, echo: Callable[[str], Any]) -> Path:
    """Write the sample city into ``directory`` unless an up-to-date copy is there.

    Returns
    -------
    pathlib.Path
        The manifest.
    """
    from api.sample_files import write_sample
    from geo.sample import DEFAULT_SEED, generate_city

    manifest = directory / "sample.json"
    if manifest.is_file():
        meta = json.loads(manifest.read_text(encoding="utf-8"))
        files = [directory / e["file"] for e in meta.get("layers", [])]
        if "roads" in meta:
            files.append(directory / meta["roads"]["file"])
        else:
            files = []  # a sample written before the city had streets: write it again
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
                        loaded_by="pingan demo", covers=entry.get("covers"))
        echo(f"  {rep.layer:<12} {entry['file']:<28} {rep.rows_loaded:>7,} new "
             f"{rep.rows_updated:>7,} updated {rep.rows_rejected:>4,} rejected")
    roads = json.loads(manifest.read_text(encoding="utf-8")).get("roads")
    if roads:
        from api.roads import count_roads, load_roads

        with engine.connect() as conn:
            replace = count_roads(conn) > 0
        rr = load_roads(engine, manifest.parent / roads["file"], fields=roads.get("fields"),
                        replace=replace, timezone=timezone, loaded_by="pingan demo")
        t = rr.topology
        echo(f"  {'roads':<12} {roads['file']:<28} {t.edges:>7,} edges "
             f"{t.nodes:>7,} nodes {t.components:>4,} components")


DEMO_KEY_PREFIX = "pingan demo"


def create_demo_keys(ctx: Any) -> dict[str, tuple[str, str]]:
    """Create the demo's admin, liaison, planner and client keys; revoke earlier demo keys.

    The liaison's jurisdiction is the first district of the sample city. Each creation and
    revocation is audited like ``pingan keys``.

    Parameters
    ----------
    ctx
        Service context of the loaded sample city.

    Returns
    -------
    dict
        Role → (description, token).
    """
    from api import audit
    from api.auth import create_key, list_keys, revoke_key
    engine = ctx.engine
    comms = ctx.communities()
    districts = comms.dropna(subset=["district_code"]).drop_duplicates("district_code")
    if districts.empty:
        raise MissingDataError("no community with a district code is loaded: the demo's "
                               "liaison key needs a district; load the sample city first "
                               "(pingan demo does)")
    first = districts.sort_values("district_code").iloc[0]
    name = first["district"] if isinstance(first["district"], str) else ""
    label = f"{first['district_code']} {name}".strip()
    roles = ("admin", "liaison", "planner", "client")
    demo_names = {f"{DEMO_KEY_PREFIX} {role}" for role in roles}
    for old in list_keys(engine, include_inactive=False):
        if old.name in demo_names:
            audit.record_key_change(engine, "key_revoke", revoke_key(engine, old.id),
                                    by="pingan demo", endpoint="cli: pingan demo")
    wanted = [("admin", (), "everything"),
              ("liaison", (str(first["district_code"]),),
               f"raw incidents and statistics of district {label} only"),
              ("planner", (), "aggregates only, no incident points"),
              ("client", (), "aggregates only, no incident points")]
    out: dict[str, tuple[str, str]] = {}
    for role, codes, what in wanted:
        created = create_key(engine, name=f"{DEMO_KEY_PREFIX} {role}", role=role,
                             jurisdictions=codes)
        audit.record_key_change(engine, "key_create", created.key, by="pingan demo",
                                endpoint="cli: pingan demo")
        out[role] = (what, created.token)
    return out


def _summary(rt: Any, engine: Any, echo: Callable[[str], Any]) -> None:
    """Print the headline numbers: rates and creation rates by district, coverage gaps."""
    import pandas as pd

    from api.output import to_table
    from api.release import Visibility
    from api.services import ServiceContext
    from api.services.coverage import coverage_report
    from api.services.rates import rates_report
    from api.services.standard import standard_report

    ctx = ServiceContext(engine, rt.settings)
    admin = Visibility.admin(rt.settings)
    period = ctx.period(None)
    rates = rates_report(ctx, admin, period=period, compare="last-year", level="district").frame
    if "case_rise_significant" in rates.columns:
        rates["case_rise_significant"] = [
            None if pd.isna(v) else ("yes" if bool(v) else "no")
            for v in rates["case_rise_significant"]]
    echo(f"\ncase rates per 10,000 residents by district, {period.label} vs the year before:")
    echo(to_table(rates.drop(columns="geometry"), columns=[
        c for c in ("code", "name", "cases", "population", "case_rate_per_10k_annual",
                    "compare_cases", "compare_case_rate_per_10k_annual", "case_change_pct",
                    "case_rise_significant") if c in rates.columns], headers={
        "case_rate_per_10k_annual": "rate/10k/yr", "compare_cases": "cases before",
        "compare_case_rate_per_10k_annual": "rate before", "case_change_pct": "change %",
        "case_rise_significant": "significant rise"}, digits=1))
    std = standard_report(ctx, admin, period=period, level="district").frame
    echo(f"\nsafe-community standard (创建率) by district, {period.label}:")
    echo(to_table(std.drop(columns="geometry"), columns=[
        c for c in ("code", "name", "communities", "meets", "partly", "fails", "incomplete",
                    "creation_rate", "creation_rate_pop") if c in std.columns], digits=3))
    echo("\nfacility coverage, whole city:")
    for ftype in ("police_office", "service_station", "health_station"):
        rep = coverage_report(ctx, admin, facility_type=ftype, level="city")
        if not len(rep.frame):
            continue
        row = rep.frame.iloc[0]
        echo(f"  {ftype:<16} {row['facility_covered_population_share']:6.1%} of residents "
             f"within {rep.provenance['radius_m']:g} m; "
             f"{row['facility_uncovered_population']:,.0f} outside")


def run_demo(rt: Any, *, directory: Path, serve: bool, echo: Callable[[str], Any],
             host: str = "127.0.0.1", port: int = 8000) -> None:
    """Load the sample city, print its numbers, write its maps, create keys, and serve.

    With ``serve`` false everything but serving is done.
    """
    from api.services import ServiceContext
    from api.services.maps import MAP_KINDS, write_maps
    from api.status import database_status

    manifest = ensure_sample(directory, echo=echo)
    engine = rt.ready_engine()
    echo("loading the sample city:")
    load_sample(engine, manifest, timezone=rt.settings.timezone, echo=echo)
    st = database_status(engine)
    inc = st["incidents"]
    echo(f"incidents: {inc['total']:,} stored, {inc['unassigned']:,} in no community")
    _summary(rt, engine, echo)

    maps_dir = directory / "maps"
    from api.release import Visibility

    pages = write_maps(ServiceContext(engine, rt.settings), Visibility.admin(rt.settings),
                       maps_dir, kinds=list(MAP_KINDS), echo=lambda m: None)
    echo(f"\nmaps (open from disk, no server needed) in {maps_dir}/:")
    for page in pages:
        echo(f"  {page.resolve().as_uri()}")

    keys = create_demo_keys(ServiceContext(engine, rt.settings))
    from api.auth import list_keys
    from api.services.landing import prepare_landings

    prepared = prepare_landings(ServiceContext(engine, rt.settings),
                                list_keys(engine, include_inactive=False))
    echo(f"\ndashboards prepared for {len(prepared)} key world(s) "
         f"({sum(w['seconds'] for w in prepared):.0f} s; `pingan prepare` after a load)")
    base = f"http://{host}:{port}"
    echo("\nAPI keys for the sample city (shown only now; earlier demo keys are revoked):")
    for role, (what, token) in keys.items():
        echo(f"  {role:<8} {token}  ({what})")
    echo(f"\nAPI docs {base}/docs · log in (browser) {base}/login · "
         f"API {base}/api/v1/… (header Authorization: Bearer <key>)")
    echo(f"dashboard {base}/ · map workspace {base}/map")
    echo("maps served with the caller's role: "
         + " ".join(f"{base}/maps/{k}" for k in MAP_KINDS))
    if not serve:
        echo("\n(--no-serve: not serving; `pingan serve` serves the same database)")
        return
    import uvicorn

    from api.app import create_app

    echo(f"\nserving on {base} (Ctrl-C stops)")
    uvicorn.run(create_app(rt.settings), host=host, port=port, log_level="warning")
