"""The ``--csv-comments`` and ``--no-bom`` options of every command that prints a report.

:func:`with_csv_options` adds the two options to a command (so that each command's own
signature stays about its computation) and keeps their values, while the command runs, where
:func:`current_csv_options` finds them for :func:`api.cli_metrics.emit`. What the options
do is in :mod:`api.provenance`.
"""

from __future__ import annotations

import contextvars
import functools
import inspect
from collections.abc import Callable
from typing import Annotated, Any

import typer

from api.provenance import CsvOptions

__all__ = ["current_csv_options", "with_csv_options"]

_CURRENT: contextvars.ContextVar[CsvOptions | None] = contextvars.ContextVar(
    "pingan_csv_options", default=None)

_OPTIONS = (
    inspect.Parameter(
        "csv_comments", inspect.Parameter.KEYWORD_ONLY, default=False,
        annotation=Annotated[bool, typer.Option(
            "--csv-comments",
            help="CSV: put the provenance in leading '# key: value' lines (the old form; not "
                 "readable as plain CSV) instead of a FILE.provenance.json sidecar.")]),
    inspect.Parameter(
        "no_bom", inspect.Parameter.KEYWORD_ONLY, default=False,
        annotation=Annotated[bool, typer.Option(
            "--no-bom", help="CSV: leave out the UTF-8 byte-order mark (Excel needs it for "
                             "Chinese text; machines do not).")]),
)


def with_csv_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """Return ``command`` with the ``--csv-comments`` and ``--no-bom`` options added.

    Parameters
    ----------
    command
        A Typer command function.

    Returns
    -------
    callable
        A wrapper Typer reads as the command with two more options; it stores them for
        :func:`current_csv_options` and calls ``command`` with its own arguments.
    """
    @functools.wraps(command)
    def wrapper(*args: Any, csv_comments: bool = False, no_bom: bool = False,
                **kwargs: Any) -> Any:
        token = _CURRENT.set(CsvOptions(bom=not no_bom, comments=csv_comments))
        try:
            return command(*args, **kwargs)
        finally:
            _CURRENT.reset(token)

    signature = inspect.signature(command, eval_str=True)
    wrapper.__signature__ = signature.replace(  # type: ignore[attr-defined]
        parameters=[*signature.parameters.values(), *_OPTIONS])
    wrapper.__annotations__ = {**{p.name: p.annotation
                                  for p in signature.parameters.values()},
                               **{p.name: p.annotation for p in _OPTIONS}}
    return wrapper


def current_csv_options() -> CsvOptions:
    """The CSV options of the running command (default: BOM, provenance in a sidecar)."""
    return _CURRENT.get() or CsvOptions()
