"""Property-based API test: schemathesis generates requests from ``/openapi.json``.

Every documented operation gets a bounded number of generated requests (valid and invalid)
with an admin key, on both backends. No response may be a 5xx, and every response must have a
documented status, a documented content type and a body that matches its schema. The city of
this module is its own, so generated uploads cannot disturb other tests.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from api.app import create_app

pytestmark = pytest.mark.slow  # over 2 s: outside the fast subset (-m "not slow")

#: Generated requests per operation and generation mode: enough to reach every parameter's
#: edge cases (the operations are many; the suite's time budget is 12 minutes on 2 cores).
EXAMPLES = 10

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance]


def _checker(operation: Any, mode: GenerationMode, headers: dict[str, str],
             calls: dict[str, int]) -> Callable[[], None]:
    """A hypothesis test of one operation in one generation mode, counting its calls."""
    label = operation.label

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck),
              derandomize=True, database=None)
    def check(case: schemathesis.Case) -> None:
        calls[label] = calls.get(label, 0) + 1
        case.call_and_validate(headers=headers, checks=CHECKS)

    return check


def test_generated_requests_get_documented_answers(city):
    # schemathesis.pytest.from_fixture does not work with pytest 9 (it reads a removed private
    # attribute), so the operations are driven here, each with its own hypothesis run.
    app = create_app(city.settings, engine=city.engine)
    api = schemathesis.openapi.from_asgi("/openapi.json", app)
    headers = city.headers("admin")
    failures: list[str] = []
    calls: dict[str, int] = {}
    operations = [result.ok() for result in api.get_all_operations()]
    for operation, mode in itertools.product(operations, GenerationMode):
        check = _checker(operation, mode, headers, calls)
        try:
            check()
        except Unsatisfiable:
            # an operation without parameters has no invalid request to generate
            assert mode is GenerationMode.NEGATIVE, operation.label
        except Exception as exc:  # collect every operation's failure, then report them all
            failures.append(f"{operation.label} ({mode.value}): {exc}")
    documented = sum(len(ops) for ops in app.openapi()["paths"].values())
    assert len(calls) == documented
    assert failures == []
    assert sum(calls.values()) > EXAMPLES * documented
