"""``pingan keys …``, ``pingan audit`` and ``pingan serve`` through a local Typer app.

The commands are registered on the real ``pingan`` app by ``api.cli_admin.register``; here they
run on a root app with the same runtime so the tests do not depend on that registration.
"""

from __future__ import annotations

import json
from typing import Annotated

import pytest
import typer
from typer.testing import CliRunner

from api.auth import verify_token
from api.cli import Runtime
from api.cli_admin import register
from api.settings import load_settings


@pytest.fixture
def cli(db_url):
    app = typer.Typer(add_completion=False)

    @app.callback()
    def root(ctx: typer.Context,
             database: Annotated[str, typer.Option("--database")] = db_url) -> None:
        ctx.obj = Runtime(load_settings(database_url=database))

    register(app)
    runner = CliRunner()

    def run(*args: str, ok: bool = True):
        result = runner.invoke(app, list(args))
        if ok:
            assert result.exit_code == 0, result.output + repr(result.exception)
        return result

    return run


def test_keys_create_list_revoke_and_audit(cli, db_url):
    from api.db import create_db_engine

    out = cli("keys", "create", "--role", "planner", "--name", "规划局",
              "--expires-in-days", "30").output
    assert "created key 1 (planner, 规划局, expires " in out
    token = out.strip().splitlines()[-1]
    engine = create_db_engine(db_url)
    assert verify_token(engine, token).role == "planner"
    listed = json.loads(cli("keys", "list", "--format", "json").output)
    assert [(k["id"], k["role"], k["status"]) for k in listed] == [(1, "planner", "active")]
    assert token not in cli("keys", "list").output
    assert "revoked key 1 (planner, 规划局)" in cli("keys", "revoke", token.split("_")[1]).output
    assert cli("keys", "list", "--active").output.strip() == "(none)"
    rows = json.loads(cli("audit", "--format", "json").output)
    assert [r["action"] for r in rows] == ["key_revoke", "key_create"]
    assert rows[1]["params"] and '"role": "planner"' in rows[1]["params"]
    assert rows[1]["key_name"].startswith("cli")
    only = json.loads(cli("audit", "--action", "key_create", "--format", "json").output)
    assert len(only) == 1
    later = json.loads(cli("audit", "--since", "2999-01-01", "--format", "json").output)
    assert later == []
    engine.dispose()


def test_cli_errors_name_the_option(cli):
    res = cli("keys", "create", "--role", "liaison", "--name", "x", ok=False)
    assert isinstance(res.exception, ValueError)
    assert "needs at least one --jurisdiction" in str(res.exception)
    res = cli("keys", "revoke", "99", ok=False)
    assert isinstance(res.exception, KeyError)
    res = cli("audit", "--action", "nothing", ok=False)
    assert "--action must be one of" in str(res.exception)
    res = cli("audit", "--since", "yesterday", ok=False)
    assert "--since must be a date" in str(res.exception)
    assert cli("keys", "create", "--role", "boss", "--name", "x", ok=False).exit_code == 2


def test_serve_runs_uvicorn_with_the_app_or_the_factory(cli, db_url, monkeypatch):
    import uvicorn

    calls = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: calls.append((app, kw)))
    monkeypatch.setenv("PINGAN_DATABASE_URL", "restored-after-the-test")
    cli("serve", "--port", "8123")
    app, kw = calls[0]
    assert app.title == "pingan" and (kw["host"], kw["port"]) == ("127.0.0.1", 8123)
    assert app.state.settings.database_url == db_url
    cli("serve", "--workers", "2", "--host", "0.0.0.0")
    app, kw = calls[1]
    assert (app, kw["factory"], kw["workers"]) == ("api.app:create_app", True, 2)
    import os

    assert os.environ["PINGAN_DATABASE_URL"] == db_url
