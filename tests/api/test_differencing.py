"""Differencing: from pairs of allowed planner queries, recover no hidden count of the sample city.

An attacker with a planner key asks for nested units — month ⊂ quarter ⊂ year, community ⊂
subdistrict ⊂ district ⊂ city, 250 m ⊂ 500 m ⊂ 1,000 m ⊂ 2,000 m cells, category ⊂ group — and
subtracts. Knowing the release rules (docs/release.md), each released value bounds the true
count: ``"<3"`` means 1 or 2, ``0`` means 0, a number ``r`` means a count ``n >= 3`` that the
perturbation table can move to ``r``. For every hidden unit and every nested pair holding it,
the attacker intersects these bounds (parent = sum of its children); a hidden count is
*recovered* when only one of 1 and 2 remains. None may be.

The same attacker, given exact counts with small ones shown as "<3" (plain suppression, what
pingan did before), recovers many: the test checks that too, so it is not vacuous.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence

import pandas as pd
import pytest

from api.release import Visibility
from api.services import ServiceContext
from api.services.aggregates import community_counts_report, grid_counts_report
from api.services.rates import rates_report
from api.settings import Settings
from geo.period import parse_period

pytestmark = pytest.mark.slow

GROUPS = {"property": ["theft", "burglary", "vehicle_theft"], "theft": ["theft"],
          "burglary": ["burglary"], "violence": ["assault", "robbery"]}
MONTHS = [f"2025-{m:02d}" for m in range(1, 13)]
QUARTERS = [f"2025-Q{q}" for q in range(1, 5)]


def feasible(value: object, *, perturbed: bool = True, min_count: int = 3) -> range:
    """The true counts consistent with a released value.

    ``perturbed``: released by the cell-key method (docs/release.md's table: ``"<3"`` stands
    for 0 to ``min_count + 1``; a number ``r`` for the counts the table may move to ``r``);
    otherwise the numbers are exact and ``"<3"`` stands for 1 or 2 (plain suppression).
    """
    if value == f"<{min_count}":
        return range(0, min_count + 2) if perturbed else range(1, min_count)
    n = int(value)  # type: ignore[call-overload]
    if not perturbed or n == 0:  # a cell outside every community holds nothing, exactly
        return range(n, n + 1)
    moves = {min_count: (0, 1, 2), min_count + 1: (-1, 0, 1, 2)}
    options = [t for t in range(max(min_count, n - 2), n + 3)
               if n - t in moves.get(t, (-2, -1, 0, 1, 2))]
    return range(options[0], options[-1] + 1)


def recovered(parent: object, children: Sequence[object], *, perturbed: bool = True
              ) -> list[int]:
    """Positions of hidden children whose count the pair pins to 1 or 2 (parent = sum)."""
    out = []
    p = feasible(parent, perturbed=perturbed)
    for i, child in enumerate(children):
        if child != "<3":
            continue
        others = [feasible(c, perturbed=perturbed) for j, c in enumerate(children) if j != i]
        lo = p.start - sum(r.stop - 1 for r in others)
        hi = (p.stop - 1) - sum(r.start for r in others)
        options = [h for h in feasible(child, perturbed=perturbed) if lo <= h <= hi]
        if len(options) == 1 and options[0] in (1, 2):
            out.append(i)
    return out


def attack(pairs: Iterable[tuple[object, Sequence[object]]], *, perturbed: bool = True
           ) -> tuple[int, int]:
    """(hidden children examined, hidden children recovered) over nested pairs."""
    examined = found = 0
    for parent, children in pairs:
        examined += sum(1 for c in children if c == "<3")
        found += len(recovered(parent, children, perturbed=perturbed))
    return examined, found


def test_feasible_sets_follow_the_table():
    assert list(feasible("<3")) == [0, 1, 2, 3, 4]
    assert list(feasible(3)) == [3, 4, 5]
    assert list(feasible(4)) == [3, 4, 5, 6]
    assert list(feasible(5)) == [3, 4, 5, 6, 7]
    assert list(feasible(6)) == [4, 5, 6, 7, 8] and list(feasible(40)) == [38, 39, 40, 41, 42]
    assert list(feasible(7, perturbed=False)) == [7]
    assert list(feasible("<3", perturbed=False)) == [1, 2]
    # Plain suppression: a parent of 7 with children 5 and "<3" gives the hidden one away,
    # and a hidden parent with two non-empty children pins both to 1.
    assert recovered(7, [5, "<3"], perturbed=False) == [1]
    assert recovered("<3", ["<3", "<3"], perturbed=False) == [0, 1]
    # Released by the table, 5 stands for 3..7 and 7 for 5..9: 0, 1 and 2 all remain.
    assert recovered(7, [5, "<3"]) == []
    assert recovered("<3", ["<3", "<3"]) == []


@pytest.fixture(scope="module")
def planner(sample_db):
    settings = Settings(database_url=str(sample_db.url),
                        api={"category_groups": GROUPS, "rate_limit_per_minute": 0})
    ctx = ServiceContext(sample_db, settings)
    vis = Visibility("planner", None, protected=True, raw=False, unassigned=False,
                     category_groups=tuple(sorted((k, tuple(sorted(v)))
                                                  for k, v in GROUPS.items())))
    return ctx, vis, Visibility.admin(settings)


def _community_counts(ctx, vis, period: str, group: str | None = None) -> pd.Series:
    rep = community_counts_report(ctx, vis, period=parse_period(period),
                                  categories=[group] if group else [])
    return rep.frame.set_index("code")["incidents"]


def _units(ctx, vis, period: str, level: str) -> pd.Series:
    rep = rates_report(ctx, vis, period=period, level=level)
    return rep.frame.set_index("code")["cases"]


def _period_pairs(ctx, vis) -> list[tuple[object, list[object]]]:
    year = _community_counts(ctx, vis, "2025")
    quarters = {q: _community_counts(ctx, vis, q) for q in QUARTERS}
    months = {m: _community_counts(ctx, vis, m) for m in MONTHS}
    pairs = []
    for code in year.index:
        pairs.append((year[code], [quarters[q][code] for q in QUARTERS]))
        pairs.append((year[code], [months[m][code] for m in MONTHS]))
        for q, quarter in enumerate(QUARTERS):
            pairs.append((quarters[quarter][code],
                          [months[m][code] for m in MONTHS[3 * q:3 * q + 3]]))
    return pairs


def _area_pairs(ctx, vis, period: str) -> list[tuple[object, list[object]]]:
    comms = ctx.communities().set_index("code")
    levels = {lv: _units(ctx, vis, period, lv) for lv in ("community", "subdistrict",
                                                          "district", "city")}
    pairs = [(levels["city"]["city"], list(levels["district"].values))]
    for d, members in comms.groupby("district_code").groups.items():
        subs = sorted(set(comms.loc[members, "subdistrict_code"]))
        pairs.append((levels["district"][d], [levels["subdistrict"][s] for s in subs]))
    for s, members in comms.groupby("subdistrict_code").groups.items():
        pairs.append((levels["subdistrict"][s], [levels["community"][c] for c in members]))
    return pairs


def _grid_pairs(ctx, vis, period: str) -> list[tuple[object, list[object]]]:
    sizes = (250.0, 500.0, 1000.0, 2000.0)
    grids = {}
    for size in sizes:
        frame = grid_counts_report(ctx, vis, period=parse_period(period), cell_m=size).frame
        grids[size] = {(int(a), int(b)): v for a, b, v in zip(frame["ix"], frame["iy"],
                                                               frame["incidents"], strict=True)}
    pairs = []
    for fine, coarse in itertools.pairwise(sizes):
        children: dict[tuple[int, int], list[object]] = {}
        for (ix, iy), v in grids[fine].items():
            children.setdefault((ix // 2, iy // 2), []).append(v)
        for parent_cell, kids in children.items():
            # cells outside every community are not listed: they hold nothing
            kids = kids + [0] * (4 - len(kids))
            pairs.append((grids[coarse].get(parent_cell, 0), kids))
    return pairs


def _category_pairs(ctx, vis, period: str) -> list[tuple[object, object, object]]:
    """(property, theft, burglary) per community: property also holds vehicle thefts."""
    prop = _community_counts(ctx, vis, period, "property")
    theft = _community_counts(ctx, vis, period, "theft")
    burglary = _community_counts(ctx, vis, period, "burglary")
    return [(prop[c], theft[c], burglary[c]) for c in prop.index]


def test_no_hidden_count_is_recovered_by_difference(planner):
    ctx, vis, _ = planner
    pairs = (_period_pairs(ctx, vis) + _area_pairs(ctx, vis, "2025-03")
             + _area_pairs(ctx, vis, "2025-Q2") + _grid_pairs(ctx, vis, "2025-03"))
    examined, found = attack(pairs)
    assert examined > 200, examined
    assert found == 0
    # category ⊂ group: property = theft + burglary + vehicle thefts (>= 0, not released
    # alone), so a hidden category is bounded above by property minus the other category.
    for prop, theft, burglary in _category_pairs(ctx, vis, "2025-03"):
        for hidden, other in ((theft, burglary), (burglary, theft)):
            if hidden == "<3":
                hi = (feasible(prop).stop - 1) - feasible(other).start
                options = [h for h in feasible(hidden) if h <= hi]
                assert not (len(options) == 1 and options[0] in (1, 2)), (prop, theft, burglary)


def test_the_attack_recovers_counts_from_plain_suppression(planner):
    """Against exact counts with small ones hidden (no perturbation) the attack succeeds."""
    ctx, _, admin = planner

    def hide(v: object) -> object:
        return v if int(v) == 0 or int(v) >= 3 else "<3"  # type: ignore[call-overload]

    exact = [(hide(p), [hide(c) for c in kids]) for p, kids in _period_pairs(ctx, admin)]
    examined, found = attack(exact, perturbed=False)
    assert examined > 50 and found > 0.2 * examined, (examined, found)
