"""The maximal covering model: the very model spopt builds, solved by CBC."""

from __future__ import annotations

import numpy as np
import pulp
from spopt.locate import MCLP

from geo.mclp import build_mclp, solve_mclp


def test_the_model_is_spopts_to_the_byte(tmp_path):
    rng = np.random.default_rng(7)
    cost = rng.uniform(0, 1000, (300, 120))
    weights = rng.integers(0, 50, 300).astype(float)  # zero weights too
    spopt = MCLP.from_cost_matrix(cost, weights, service_radius=250.0, p_facilities=4,
                                  name="m")
    ours, _ = build_mclp(cost <= 250.0, weights, 4, name="m")
    spopt.problem.writeMPS(tmp_path / "spopt.mps")
    ours.writeMPS(tmp_path / "ours.mps")
    assert (tmp_path / "ours.mps").read_bytes() == (tmp_path / "spopt.mps").read_bytes()
    spopt.problem.writeLP(tmp_path / "spopt.lp")
    ours.writeLP(tmp_path / "ours.lp")
    assert (tmp_path / "ours.lp").read_bytes() == (tmp_path / "spopt.lp").read_bytes()


def test_a_hand_instance_is_solved():
    # rows 0-1 (10 residents each) are covered by column 0 only, row 2 (25) by column 1 only,
    # row 3 (12) by columns 1 and 2: one site covers at most 37 (column 1)
    covers = np.array([[1, 0, 0], [1, 0, 0], [0, 1, 0], [0, 1, 1]], dtype=bool)
    weights = np.array([10.0, 10.0, 25.0, 12.0])
    one = solve_mclp(covers, weights, 1, time_limit_s=10)
    assert one.chosen.tolist() == [1] and one.solver_status == "Optimal"
    two = solve_mclp(covers, weights, 2, time_limit_s=10)
    assert two.chosen.tolist() == [0, 1]
    problem, _ = build_mclp(covers, weights, 2)
    problem.solve(pulp.PULP_CBC_CMD(msg=False))
    assert pulp.value(problem.objective) == 57.0
