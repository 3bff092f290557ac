"""The JSON of every metric command on the sample city, normalised, to compare across changes.

Refactors and storage changes must not change a number. This module runs each metric command
of the ``pingan`` CLI with ``--format json`` (``csv`` where a command has no JSON form) on a
database holding the sample city, and normalises what legitimately differs between runs: the
``generated_at`` instant and the data version. The baseline lives in
``tests/data/cli_baseline/`` and was taken from main before the trust-layer, codebase and
city-scale issues (10, 11, 15) began; ``tests/api/test_cli_snapshot.py`` compares against it
on SpatiaLite and PostGIS. Hot-spot permutations are drawn by esda, which draws them with
numba's generator when numba is installed and NumPy's otherwise: the baseline was taken with
numba installed, as ``pyproject.toml`` requires.

Run as a script to write a new baseline from a database (only when a change of numbers is
intended, and say so in the commit)::

    python tests/cli_snapshot.py --database sqlite:///pingan.db --out tests/data/cli_baseline
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path
from typing import Any

#: name -> CLI arguments (after ``-d URL``); every metric command and its main variants.
COMMANDS: dict[str, list[str]] = {
    "rates": ["rates", "--period", "2025"],
    "rates-district-last-year": ["rates", "--period", "2025", "--compare", "last-year",
                                 "--level", "district"],
    "rates-subdistrict-q3-previous": ["rates", "--period", "2025-Q3", "--compare", "previous",
                                      "--level", "subdistrict"],
    "rates-city-burglary": ["rates", "--period", "2024", "--level", "city",
                            "--category", "burglary"],
    "trend": ["trend", "--period", "2025"],
    "trend-hour-weekday": ["trend", "--period", "2025", "--by", "hour-weekday"],
    "trend-community": ["trend", "--period", "2024-07-01..2025-06-30", "--community",
                        "110191001001"],
    "hotspots": ["hotspots", "--period", "2025"],
    "hotspots-grid": ["hotspots", "--period", "2025", "--on", "grid"],
    "hotspots-grid-500-fdr": ["hotspots", "--period", "2025-Q2", "--on", "grid", "--cell-m",
                              "500", "--fdr"],
    "emerging-1000": ["emerging", "--period", "2025", "--cell-m", "1000"],
    "kde-500": ["kde", "--period", "2025", "--cell-m", "500", "--bandwidth-m", "600"],
    "near-repeat-district": ["near-repeat", "--period", "2025-Q3", "--district", "110191",
                             "--permutations", "99"],
    "alerts": ["alerts", "--as-of", "2025-07-20", "--all"],
    "alerts-district": ["alerts", "--level", "district", "--as-of", "2025-06-30", "--all"],
    "protection": ["protection", "--period", "2025"],
    "protection-district": ["protection", "--period", "2025", "--level", "district"],
    "coverage-police-office": ["coverage", "--type", "police_office", "--period", "2025"],
    "coverage-health-station-district": ["coverage", "--type", "health_station", "--period",
                                         "2025", "--level", "district"],
    "coverage-service-station-800": ["coverage", "--type", "service_station", "--radius-m",
                                     "800", "--period", "2025"],
    "gaps-service-station": ["gaps", "--type", "service_station", "--period", "2025",
                             "--format", "csv"],
    "workload-police-station": ["workload", "--type", "police_station", "--period", "2025",
                                "--radius-m", "2000"],
    "plan-sites-police-office": ["plan-sites", "--type", "police_office", "--add", "3",
                                 "--period", "2025"],
    "catalogue": ["catalogue"],
    "standard": ["standard", "evaluate", "--period", "2025"],
    "standard-district": ["standard", "evaluate", "--period", "2025", "--level", "district"],
    "standard-todo": ["standard", "todo", "110191001001", "--period", "2025"],
}

_GENERATED = re.compile(r'("generated_at":\s*)"[^"]*"')
_VERSION = re.compile(r'("data_version":\s*)\d+')
_CSV_GENERATED = re.compile(r"^(# generated_at: ).*$", re.MULTILINE)
_CSV_VERSION = re.compile(r"^(# data_version: ).*$", re.MULTILINE)


def normalise(text: str) -> str:
    """Replace the generation instant and the data version with fixed placeholders."""
    text = _GENERATED.sub(r'\1"GENERATED_AT"', text)
    text = _VERSION.sub(r"\g<1>0", text)
    text = _CSV_GENERATED.sub(r"\1GENERATED_AT", text)
    return _CSV_VERSION.sub(r"\g<1>0", text)


def _format_args(args: list[str]) -> list[str]:
    if "--format" in args:
        return args
    return [*args, "--format", "json"]


def run_all(database: str, *, names: list[str] | None = None) -> dict[str, str]:
    """Run the commands on ``database`` and return name -> normalised output.

    Raises
    ------
    AssertionError
        If a command exits non-zero (with its name and message).
    """
    import contextlib
    import io

    from api.cli import main

    out: dict[str, str] = {}
    for name in names or list(COMMANDS):
        buffer = io.BytesIO()
        err = io.StringIO()
        wrapper = io.TextIOWrapper(buffer, encoding="utf-8", write_through=True)
        with contextlib.redirect_stdout(wrapper), contextlib.redirect_stderr(err):
            code = main(["-d", database, *_format_args(COMMANDS[name])])
        wrapper.flush()
        assert code == 0, f"{name}: exit {code}: {err.getvalue()[-2000:]}"
        text = buffer.getvalue().decode("utf-8")
        out[name] = normalise(text)
    return out


def parse(text: str) -> Any:
    """The output as data: JSON parsed, CSV as its list of lines."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text.splitlines()


def main() -> None:
    """Write a baseline: one file per command."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--database", required=True)
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    for name, text in run_all(args.database).items():
        suffix = "csv" if "--format" in COMMANDS[name] else "json"
        (args.out / f"{name}.{suffix}").write_text(text, encoding="utf-8")
        print(f"wrote {name}.{suffix}")


if __name__ == "__main__":
    import sys

    # Run as a script, this folder is first on sys.path and tests/api would shadow the package.
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).parent]
    main()
