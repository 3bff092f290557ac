"""Administration commands: ``pingan keys create|list|revoke``, ``audit``, ``serve``, ``prepare``.

:func:`register` adds them to the ``pingan`` Typer app. They use the root context's runtime
(settings and engine, see :class:`api.cli.Runtime`), so the global ``--database`` option
applies. Key creation and revocation are audited like the API's admin actions.
"""

from __future__ import annotations

import datetime as dt
import getpass
import json
import os
from enum import StrEnum
from typing import Annotated, Any

import typer

__all__ = ["keys_app", "register"]

keys_app = typer.Typer(name="keys", help="Create, list and revoke API keys.",
                       no_args_is_help=True, add_completion=False, rich_markup_mode=None)


class RoleName(StrEnum):
    """Roles of API keys."""

    admin = "admin"
    liaison = "liaison"
    planner = "planner"
    client = "client"


class OutputFormat(StrEnum):
    """Output formats of listings."""

    table = "table"
    csv = "csv"
    json = "json"


def _runtime(ctx: typer.Context) -> Any:
    obj = ctx.find_root().obj
    if obj is None or not hasattr(obj, "ready_engine"):
        raise RuntimeError("the pingan command line did not set up its runtime")
    return obj


def _operator() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"


def _print(frame: Any, fmt: OutputFormat) -> None:
    from api.output import records, to_csv_bytes, to_table

    if fmt is OutputFormat.json:
        typer.echo(json.dumps(records(frame), ensure_ascii=False, indent=1))
    elif fmt is OutputFormat.csv:
        typer.echo(to_csv_bytes(frame).decode("utf-8"), nl=False)
    else:
        typer.echo(to_table(frame) if len(frame) else "(none)")


@keys_app.command("create")
def create_cmd(
    ctx: typer.Context,
    role: Annotated[RoleName, typer.Option(help="admin, liaison, planner or client.")],
    name: Annotated[str, typer.Option(help="Who or what the key is for.")],
    jurisdiction: Annotated[list[str] | None, typer.Option(
        help="District or subdistrict code of a liaison's jurisdiction; repeat for several.")
    ] = None,
    expires_in_days: Annotated[float | None, typer.Option(
        help="Lifetime in days (default: no expiry).")] = None,
) -> None:
    """Create an API key and print its token once (only its hash is stored)."""
    from api import audit
    from api.auth import create_key

    engine = _runtime(ctx).ready_engine()
    created = create_key(engine, name=name, role=role.value, jurisdictions=jurisdiction or (),
                         expires_in_days=expires_in_days)
    k = created.key
    audit.record_key_change(engine, "key_create", k, by=_operator(),
                            endpoint="cli: pingan keys create")
    typer.echo(f"created key {k.id} ({k.role}, {k.name}"
               + (f", jurisdictions {', '.join(k.jurisdictions)}" if k.jurisdictions else "")
               + (f", expires {k.as_dict()['expires_at']}" if k.expires_at else "") + ")")
    typer.echo("token (shown only now; store it safely):")
    typer.echo(created.token)


@keys_app.command("list")
def list_cmd(
    ctx: typer.Context,
    active: Annotated[bool, typer.Option("--active", help="Only keys in use.")] = False,
    format: Annotated[OutputFormat, typer.Option(help="table, csv or json.")
                      ] = OutputFormat.table,
) -> None:
    """List API keys (never their secrets)."""
    import pandas as pd

    from api.auth import list_keys

    keys = list_keys(_runtime(ctx).ready_engine(), include_inactive=not active)
    frame = pd.DataFrame([k.as_dict() for k in keys], columns=[
        "id", "name", "role", "prefix", "jurisdictions", "status", "created_at", "expires_at",
        "revoked_at", "last_used_at"])
    frame["jurisdictions"] = [",".join(j) for j in frame["jurisdictions"]]
    _print(frame, format)


@keys_app.command("revoke")
def revoke_cmd(
    ctx: typer.Context,
    key: Annotated[str, typer.Argument(help="The key's id or prefix.")],
) -> None:
    """Revoke an API key: it stops working at once, browser sessions included."""
    from api import audit
    from api.auth import revoke_key

    engine = _runtime(ctx).ready_engine()
    k = revoke_key(engine, key)
    audit.record_key_change(engine, "key_revoke", k, by=_operator(),
                            endpoint="cli: pingan keys revoke")
    typer.echo(f"revoked key {k.id} ({k.role}, {k.name}) at {k.as_dict()['revoked_at']}")


def audit_cmd(
    ctx: typer.Context,
    action: Annotated[str | None, typer.Option(
        help="Only this action: read_incidents, load, key_create, key_revoke, profile_put, "
             "auth_failed.")] = None,
    key_id: Annotated[int | None, typer.Option(help="Only rows of this key id.")] = None,
    since: Annotated[str | None, typer.Option(
        help="Only rows since this local date or time (YYYY-MM-DD[THH:MM]).")] = None,
    limit: Annotated[int, typer.Option(help="At most this many rows, newest first.")] = 50,
    format: Annotated[OutputFormat, typer.Option(help="table, csv or json.")
                      ] = OutputFormat.table,
) -> None:
    """Show the audit log: raw-incident reads, admin actions and failed authentications."""
    from zoneinfo import ZoneInfo

    from api.audit import ACTIONS, read_audit

    rt = _runtime(ctx)
    if action is not None and action not in ACTIONS:
        raise ValueError(f"--action must be one of {', '.join(ACTIONS)}; got {action!r}")
    start = None
    if since is not None:
        try:
            when = dt.datetime.fromisoformat(since)
        except ValueError:
            raise ValueError(f"--since must be a date or time like 2025-07-01 or "
                             f"2025-07-01T08:00; got {since!r}") from None
        if when.tzinfo is None:
            when = when.replace(tzinfo=ZoneInfo(rt.settings.timezone))
        start = when.astimezone(dt.UTC).replace(tzinfo=None)
    with rt.ready_engine().connect() as conn:
        frame = read_audit(conn, action=action, key_id=key_id, since=start, limit=limit)
    frame["params"] = [None if p is None else json.dumps(p, ensure_ascii=False)
                       for p in frame["params"]]
    _print(frame, format)


def serve_cmd(
    ctx: typer.Context,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port.")] = 8000,
    workers: Annotated[int, typer.Option(
        help="Worker processes (rate limits are per process).", min=1)] = 1,
    log_level: Annotated[str, typer.Option(help="uvicorn log level.")] = "info",
) -> None:
    """Serve the HTTP API (docs at /docs), migrating the database first if needed."""
    import uvicorn

    rt = _runtime(ctx)
    rt.ready_engine()
    if workers == 1:
        from api.app import create_app

        uvicorn.run(create_app(rt.settings), host=host, port=port, log_level=log_level,
                    proxy_headers=True)
        return
    # Worker processes build their own app from the environment: pass the CLI's settings on.
    os.environ["PINGAN_DATABASE_URL"] = rt.settings.database_url
    os.environ["PINGAN_TIMEZONE"] = rt.settings.timezone
    uvicorn.run("api.app:create_app", factory=True, host=host, port=port, workers=workers,
                log_level=log_level, proxy_headers=True)


def prepare_cmd(ctx: typer.Context) -> None:
    """Compute and store the landing dashboard of every active key's world.

    Each world (role and jurisdictions) is prepared once and stored in the database for this
    data version: a restarted server, or every server of the same database, then shows it
    without computing. A load makes a new data version; run this after loading (the first
    visitor of a world otherwise computes and stores it).
    """
    from tqdm import tqdm

    from api.auth import list_keys
    from api.prepared import clear_stale
    from api.services import ServiceContext
    from api.services.landing import prepare_landings

    rt = _runtime(ctx)
    engine = rt.ready_engine()
    removed = clear_stale(engine)
    keys = list_keys(engine, include_inactive=False)
    worlds = len({(k.role, tuple(k.jurisdictions)) for k in keys})
    with tqdm(total=worlds, unit=" world", disable=None, desc="prepare") as bar:
        done = prepare_landings(ServiceContext(engine, rt.settings), keys,
                                progress=lambda _: bar.update())
    for w in done:
        where = ",".join(w["jurisdictions"]) or "全市 (city)"
        typer.echo(f"  {w['role']:<8} {where}: {w['seconds']:.1f} s")
    typer.echo(f"prepared {len(done)} dashboard(s) of {len(keys)} active key(s); "
               f"{removed} stored answer(s) of earlier data versions removed")


def register(app: typer.Typer) -> None:
    """Add ``keys``, ``audit``, ``serve`` and ``prepare`` to the ``pingan`` command line.

    Parameters
    ----------
    app
        The root Typer app (:data:`api.cli.app`).
    """
    app.add_typer(keys_app, name="keys")
    app.command("audit")(audit_cmd)
    app.command("serve")(serve_cmd)
    app.command("prepare")(prepare_cmd)
