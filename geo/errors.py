"""pingan's domain errors: what can go wrong with a user's data or request, and nothing else.

A bug is a built-in exception (``ValueError``, ``KeyError``, ``TypeError``…) escaping from
somewhere it should not; a user's mistake is one of the classes here. The HTTP layer maps only
these classes to client statuses (one table in :mod:`api.errors`) and answers anything else
with a 500 and an error id, so a bug is never reported as the client's fault. The command line
prints these as one-line messages (exit 1) and anything else with a hint to set
``PINGAN_DEBUG=1``.

The hierarchy is as small as osmnx's ``_errors.py``: each class says what kind of thing went
wrong, and every message names the parameter, field or row, what was received and what was
expected. The classes also derive from the built-in they refine (``ValueError`` or
``LookupError``), so code that catches those keeps working.

=========================  ====================================================  ======
class                      raised when                                           HTTP
=========================  ====================================================  ======
:class:`ParameterError`    an option's value is outside what it accepts           422
:class:`PeriodError`       a period is malformed, reversed or out of range        422
:class:`AmbiguousError`    a name matches more than one place                     422
:class:`InputError`        an input file cannot be used (format, columns, CRS)    422
:class:`RejectedRowsError` rows were rejected under ``--strict`` or none is left  422
:class:`ProfileError`      a standard profile does not validate                   422
:class:`NotFoundError`     a named thing (community, district, type) is unknown   404
:class:`MissingDataError`  what a computation needs has not been loaded           409
:class:`LimitError`        a request would exceed a computation or size limit     422
=========================  ====================================================  ======
"""

from __future__ import annotations

__all__ = [
    "AmbiguousError",
    "InputError",
    "LimitError",
    "MissingDataError",
    "NotFoundError",
    "ParameterError",
    "PeriodError",
    "PinganError",
]


class PinganError(Exception):
    """Base class of pingan's domain errors.

    Parameters
    ----------
    message
        What is wrong, what was received and what was expected.
    parameter
        The parameter, option or field at fault (``period``, ``cell_m``, ``district``), when
        there is one; the HTTP layer reports it as ``query.<parameter>``.
    """

    def __init__(self, message: str, *, parameter: str | None = None) -> None:
        super().__init__(message)
        self.parameter = parameter

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class ParameterError(PinganError, ValueError):
    """An option's value is outside what it accepts (an unknown choice, a number out of range)."""


class PeriodError(ParameterError):
    """A period is malformed, reversed, or outside the accepted range of dates."""


class AmbiguousError(ParameterError):
    """A name (of a district, subdistrict or community) matches more than one place."""


class InputError(PinganError, ValueError):
    """An input file cannot be used: unreadable, unknown format, a required column missing."""


class NotFoundError(PinganError, LookupError):
    """A named thing does not exist: a community code, a district, a facility type."""


class MissingDataError(PinganError):
    """What a computation needs has not been loaded (no communities, no facilities of a type)."""


class LimitError(PinganError, ValueError):
    """A request would exceed a limit on computation or size (pairs, candidates, rows)."""
