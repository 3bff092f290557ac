"""Fail when pylint's duplicate-code finds a repeat in geo/, maps/ or api/ not on the kept list.

Run from the repository root (``.ci/run`` does)::

    .venv/bin/python .ci/check_duplicates.py

A kept pair is listed in ``.ci/duplicates-kept.txt`` as ``module_a module_b  # why``.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PAIR = re.compile(r"^==([\w.]+):\[\d+:\d+\]$")


def kept() -> set[frozenset[str]]:
    """The pairs kept on purpose."""
    out = set()
    for line in (ROOT / ".ci" / "duplicates-kept.txt").read_text(encoding="utf-8").splitlines():
        text = line.split("#", 1)[0].split()
        if len(text) == 2:
            out.add(frozenset(text))
    return out


def main() -> int:
    """Run pylint's duplicate-code check and report unexpected repeats."""
    result = subprocess.run(
        [sys.executable, "-m", "pylint", "--disable=all", "--enable=duplicate-code",
         "--min-similarity-lines=6", "--ignore-imports=y", "--ignore-docstrings=y",
         "geo", "maps", "api"],
        cwd=ROOT, capture_output=True, text=True, check=False)
    groups: list[list[str]] = []
    for line in result.stdout.splitlines():
        if "R0801" in line:
            groups.append([])
        elif (m := PAIR.match(line.strip())) and groups:
            groups[-1].append(m[1])
    allowed = kept()
    bad = [g for g in groups if frozenset(g) not in allowed]
    for g in bad:
        print("repeated code:", " and ".join(g))
    if bad:
        print(result.stdout)
        return 1
    print(f"duplicate-code: {len(groups)} kept pair(s), nothing else")
    return 0


if __name__ == "__main__":
    sys.exit(main())
