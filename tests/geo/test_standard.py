import datetime as dt
import math
import textwrap

import numpy as np
import pandas as pd
import pytest

from geo.catalogue import CATALOGUE
from geo.period import Period, parse_period
from geo.profile import DEFAULT_PROFILE_PATH, ProfileError, load_profile
from geo.standard import (
    LONG_COLUMNS,
    ROLLUP_COLUMNS,
    WIDE_COLUMNS,
    evaluate,
    metric_requests,
    resolve_period,
    roll_up_creation,
)

HEAD = """\
name = "test"
version = "1"
effective_date = 2025-01-01
source_notes = "hand-written for tests"

[bands]
meets_min_score = 80
partly_min_score = 60
partly_max_required_failed = 1
"""


def crit(cid, metric, op, threshold, weight, *, required=False, params=None):
    lines = [
        "[[criteria]]",
        f'id = "{cid}"',
        f'label_zh = "{cid}"',
        f'label_en = "{cid}"',
        f'metric = "{metric}"',
        f'operator = "{op}"',
        f"threshold = {threshold}",
        f"weight = {weight}",
        f"required = {'true' if required else 'false'}",
        'source = "test threshold"',
    ]
    if params:
        inner = ", ".join(f"{k} = {v!r}" if isinstance(v, int | float) else f'{k} = "{v}"'
                          for k, v in params.items())
        lines.append(f"params = {{ {inner} }}")
    return "\n".join(lines) + "\n"


def profile_text(*criteria, head=HEAD):
    return head + "\n" + "\n".join(criteria)


# The worked example: two required criteria (a, b) and two others; weights add to 100.
WORKED = profile_text(
    crit("a", "case_rate_per_10k_annual", "<=", 100, 40, required=True,
         params={"period": "year"}),
    crit("b", "camera_working_ratio", ">=", 0.98, 20, required=True,
         params={"period": "evaluated"}),
    crit("c", "camera_area_share", ">=", 0.5, 25, params={"period": "evaluated"}),
    crit("d", "compound_compliance_ratio", ">=", 0.7, 15),
)

NAN = np.nan
WORKED_VALUES = pd.DataFrame(
    {
        "a": [90, 100, 120, 120, NAN, 90, 120, NAN, 90],
        "b": [0.99, 0.98, 0.99, 0.9, 0.99, 0.99, 0.9, NAN, 0.99],
        "c": [0.6, 0.4, 0.6, 0.6, 0.6, NAN, NAN, NAN, 0.6],
        "d": [0.5, 0.8, 0.9, 0.9, 0.9, 0.5, 0.9, NAN, NAN],
    },
    index=pd.Index(["c1", "c2", "c3", "c4", "c6", "c7", "c8", "c9", "c10"], name="code"),
)


@pytest.fixture(scope="module")
def worked():
    return evaluate(WORKED_VALUES, load_profile(WORKED))


def row(evaluation, code):
    wide = evaluation.communities
    return wide.loc[wide["code"] == code].iloc[0]


# ----------------------------------------------------------------- operators at the edge
@pytest.mark.parametrize(
    ("op", "value", "expected"),
    [
        ("<", 5.0, "fail"), ("<=", 5.0, "pass"), (">", 5.0, "fail"), (">=", 5.0, "pass"),
        ("<", 4.999, "pass"), ("<=", 5.001, "fail"), (">", 5.001, "pass"), (">=", 4.999, "fail"),
    ],
)
def test_operator_at_and_around_the_threshold(op, value, expected):
    profile = load_profile(profile_text(
        crit("x", "camera_density_per_km2", op, 5, 1, params={"period": "evaluated"})))
    result = evaluate(pd.DataFrame({"x": [value]}, index=["k"]), profile)
    assert result.criteria["outcome"].tolist() == [expected]
    assert bool(result.criteria["passed"].iloc[0]) is (expected == "pass")


def test_threshold_edge_of_a_decimal_ratio():
    profile = load_profile(profile_text(
        crit("w", "camera_working_ratio", ">=", 0.98, 1, params={"period": "evaluated"})))
    result = evaluate(pd.DataFrame({"w": [0.98, 49 / 50, 0.9799999]}, index=["a", "b", "c"]),
                      profile)
    assert result.criteria["outcome"].tolist() == ["pass", "pass", "fail"]


# ----------------------------------------------------------------- worked example
def test_worked_example_scores_and_bands(worked):
    # c1: a,b,c pass (40+20+25), d fails -> 85, no required failed -> meets
    c1 = row(worked, "c1")
    assert c1["score"] == pytest.approx(85)
    assert (c1["status"], c1["todo"], c1["todo_unknown"]) == ("meets", "d", "")
    # c2: a and b exactly at their thresholds pass; c fails -> 75 -> partly
    c2 = row(worked, "c2")
    assert c2["score"] == pytest.approx(75)
    assert (c2["status"], c2["todo"]) == ("partly", "c")
    # c3: required a fails -> 60, one required failure allowed -> partly (at the edge)
    c3 = row(worked, "c3")
    assert c3["score"] == pytest.approx(60)
    assert (c3["status"], c3["required_failed"], c3["todo"]) == ("partly", 1, "a")
    # c4: a and b fail -> 40 -> fails; to-do ordered by weight (a 40 before b 20)
    c4 = row(worked, "c4")
    assert c4["score"] == pytest.approx(40)
    assert (c4["status"], c4["todo"]) == ("fails", "a,b")


def test_worked_example_long_frame(worked):
    long = worked.criteria
    assert tuple(long.columns) == LONG_COLUMNS
    assert len(long) == 9 * 4
    c2 = long[long["code"] == "c2"].set_index("criterion_id")
    assert c2["outcome"].to_dict() == {"a": "pass", "b": "pass", "c": "fail", "d": "pass"}
    assert c2.loc["a", "threshold"] == 100.0
    assert c2.loc["a", "operator"] == "<="
    assert c2.loc["b", "value"] == 0.98
    assert bool(c2.loc["a", "required"]) and not bool(c2.loc["c", "required"])
    assert tuple(worked.communities.columns) == WIDE_COLUMNS


def test_unknown_required_criterion_cannot_meet(worked):
    # c6: a unknown; b,c,d pass. Known weight 60, all passed -> score 100.
    # Unknown as failed: 60 with a required failure -> partly; as passed: 100 -> meets.
    c6 = row(worked, "c6")
    assert c6["score"] == pytest.approx(100)
    assert (c6["score_min"], c6["score_max"]) == pytest.approx((60, 100))
    assert (c6["status_worst"], c6["status_best"], c6["status"]) == (
        "partly", "meets", "incomplete")
    assert (c6["todo"], c6["todo_unknown"], c6["required_unknown"]) == ("", "a", 1)
    assert c6["known_weight_share"] == pytest.approx(0.6)
    c6_long = worked.criteria[(worked.criteria["code"] == "c6")
                              & (worked.criteria["criterion_id"] == "a")].iloc[0]
    assert c6_long["outcome"] == "unknown"
    assert pd.isna(c6_long["passed"]) and math.isnan(c6_long["value"])


def test_unknown_that_could_change_the_band_is_incomplete(worked):
    # c7: c unknown, d fails. Known: a,b,d = 75 weight, 60 passed -> 80.
    # Worst 60 -> partly; best 85 -> meets -> incomplete.
    c7 = row(worked, "c7")
    assert c7["score"] == pytest.approx(80)
    assert (c7["score_min"], c7["score_max"]) == pytest.approx((60, 85))
    assert c7["status"] == "incomplete"
    assert (c7["todo"], c7["todo_unknown"]) == ("d", "c")


def test_unknown_that_cannot_change_the_band_is_decided(worked):
    # c8: a, b fail, c unknown, d passes: 15..40 -> fails either way.
    c8 = row(worked, "c8")
    assert (c8["score_min"], c8["score_max"]) == pytest.approx((15, 40))
    assert c8["score"] == pytest.approx(100 * 15 / 75)
    assert c8["status"] == "fails"
    # c10: d unknown, the rest pass: 85..100 with no required failure -> meets either way.
    c10 = row(worked, "c10")
    assert (c10["score_min"], c10["status"], c10["todo_unknown"]) == (
        pytest.approx(85), "meets", "d")


def test_all_unknown_has_no_score(worked):
    c9 = row(worked, "c9")
    assert math.isnan(c9["score"])
    assert (c9["score_min"], c9["score_max"]) == pytest.approx((0, 100))
    assert (c9["status"], c9["n_unknown"], c9["todo_unknown"]) == ("incomplete", 4, "a,c,b,d")


def test_partly_limit_on_required_failures():
    text = profile_text(
        crit("r1", "cases", "<=", 10, 10, required=True, params={"period": "year"}),
        crit("r2", "camera_count", ">=", 1, 10, required=True, params={"period": "evaluated"}),
        crit("o", "compounds_total", ">=", 1, 80),
    )
    values = pd.DataFrame({"r1": [11, 11], "r2": [1, 0], "o": [5, 5]}, index=["one", "two"])
    result = evaluate(values, load_profile(text))
    # both score >= 60 (90 and 80); "two" has two required failures, over the limit of one
    assert result.communities["score"].tolist() == pytest.approx([90, 80])
    assert result.communities["status"].tolist() == ["partly", "fails"]


def test_todo_ties_are_ordered_by_id():
    text = profile_text(
        crit("zeta", "compounds_total", ">=", 1, 5),
        crit("alpha", "compound_compliance_ratio", ">=", 0.5, 5),
        crit("heavy", "camera_count", ">=", 1, 9, params={"period": "evaluated"}),
    )
    result = evaluate(pd.DataFrame({"zeta": [0], "alpha": [0.1], "heavy": [0]}, index=["k"]),
                      load_profile(text))
    assert result.todo("k") == ("heavy", "alpha", "zeta")


def test_evaluate_booleans_none_and_communities():
    text = profile_text(
        crit("rise", "case_rise_significant", "<", 1, 1,
             params={"period": "year", "compare": "last-year"}))
    metrics = pd.DataFrame({"rise": pd.array([True, False, None], dtype="boolean")},
                           index=[11, 12, 13])
    communities = pd.DataFrame({"code": ["12", "13", "14"]})
    result = evaluate(metrics, load_profile(text), communities=communities)
    # the int index is matched to str codes; 11 is not reported; 14 has no data -> unknown
    assert result.communities["code"].tolist() == ["12", "13", "14"]
    assert result.criteria["outcome"].tolist() == ["pass", "unknown", "unknown"]
    assert result.communities["status"].tolist() == ["meets", "incomplete", "incomplete"]
    whole = evaluate(metrics, load_profile(text))
    assert whole.criteria["outcome"].tolist() == ["fail", "pass", "unknown"]


def test_evaluate_refuses_bad_input():
    profile = load_profile(WORKED)
    with pytest.raises(ValueError, match=r"lacks a column for criteria \['d'\]"):
        evaluate(WORKED_VALUES.drop(columns="d"), profile)
    bad = WORKED_VALUES.astype(object)
    bad.loc["c1", "c"] = "lots"
    with pytest.raises(ValueError, match="column 'c' must be numeric"):
        evaluate(bad, profile)
    with pytest.raises(ValueError, match=r"unique community codes; duplicated: \['c1'\]"):
        evaluate(WORKED_VALUES.rename(index={"c2": "c1"}), profile)
    with pytest.raises(ValueError, match="'code' column"):
        evaluate(WORKED_VALUES, profile, communities=pd.DataFrame({"id": ["c1"]}))
    with pytest.raises(TypeError, match="metrics must be a pandas DataFrame"):
        evaluate(WORKED_VALUES.to_dict(), profile)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="profile must be a Profile"):
        evaluate(WORKED_VALUES, WORKED)


def test_evaluate_does_not_modify_inputs():
    before = WORKED_VALUES.copy()
    evaluate(WORKED_VALUES, load_profile(WORKED))
    pd.testing.assert_frame_equal(WORKED_VALUES, before)


# ----------------------------------------------------------------- creation rate roll-up
ROLLUP_COMMUNITIES = pd.DataFrame({
    "code": ["c1", "c2", "c6", "c3", "c4", "c10"],
    "subdistrict_code": ["S1", "S1", "S1", "S2", "S2", "S2"],
    "subdistrict": ["一街道", "一街道", "一街道", "二街道", "二街道", "二街道"],
    "district": ["东区", "东区", "东区", "东区", "西区", "西区"],
    "population": [1000.0, 2000.0, 500.0, 1500.0, np.nan, 3000.0],
})


@pytest.fixture(scope="module")
def six():
    values = WORKED_VALUES.loc[["c1", "c2", "c6", "c3", "c4", "c10"]]
    return evaluate(values, load_profile(WORKED))


def test_roll_up_by_subdistrict(six):
    # statuses: c1 meets, c2 partly, c6 incomplete (best meets) | c3 partly, c4 fails,
    # c10 meets
    result = roll_up_creation(six, ROLLUP_COMMUNITIES, level="subdistrict")
    units = result.units.set_index("code")
    assert tuple(result.units.columns) == ROLLUP_COLUMNS
    s1, s2 = units.loc["S1"], units.loc["S2"]
    assert s1["name"] == "一街道"
    assert (s1["communities"], s1["meets"], s1["partly"], s1["fails"], s1["incomplete"]) == (
        3, 1, 1, 0, 1)
    assert s1["creation_rate"] == pytest.approx(1 / 3)
    assert s1["creation_rate_upper"] == pytest.approx(2 / 3)
    assert s1["population"] == 3500
    assert s1["creation_rate_pop"] == pytest.approx(1000 / 3500)
    assert s1["creation_rate_pop_upper"] == pytest.approx(1500 / 3500)
    # c4's population is unknown: left out of the sums and counted
    assert (s2["meets"], s2["partly"], s2["fails"]) == (1, 1, 1)
    assert s2["creation_rate"] == pytest.approx(1 / 3)
    assert (s2["population"], s2["population_meets"], s2["population_missing"]) == (
        4500, 3000, 1)
    assert s2["creation_rate_pop"] == pytest.approx(2 / 3)
    assert result.profile_key == six.profile_key


def test_roll_up_city_and_district(six):
    city = roll_up_creation(six, ROLLUP_COMMUNITIES, level="city").units
    assert city["code"].tolist() == ["city"] and pd.isna(city["name"].iloc[0])
    assert city["communities"].iloc[0] == 6
    assert city["creation_rate"].iloc[0] == pytest.approx(2 / 6)
    assert city["creation_rate_upper"].iloc[0] == pytest.approx(3 / 6)
    assert city["creation_rate_pop"].iloc[0] == pytest.approx(4000 / 8000)
    coded = ROLLUP_COMMUNITIES.assign(district_code=["D1", "D1", "D1", "D1", "D2", "D2"])
    district = roll_up_creation(six, coded, level="district").units
    assert district["code"].tolist() == ["D1", "D2"]
    assert district["name"].tolist() == ["东区", "西区"]
    assert district["creation_rate"].tolist() == pytest.approx([1 / 4, 1 / 2])
    assert district["creation_rate_pop"].tolist() == pytest.approx([1000 / 5000, 1.0])


def test_roll_up_puts_communities_without_a_unit_code_in_unknown_last(six):
    # c3 and c10 have no subdistrict code: one unit "unknown", after the coded ones.
    partial = ROLLUP_COMMUNITIES.assign(subdistrict_code=["S1", "S1", "S1", None, "S2", None])
    units = roll_up_creation(six, partial, level="subdistrict").units
    assert units["code"].tolist() == ["S1", "S2", "unknown"]
    unknown = units.set_index("code").loc["unknown"]
    # c3 partly, c10 meets; populations 1500 and 3000
    assert (unknown["communities"], unknown["meets"], unknown["partly"]) == (2, 1, 1)
    assert unknown["creation_rate_pop"] == pytest.approx(3000 / 4500)
    assert pd.isna(unknown["name"])


def test_roll_up_refuses_bad_input(six):
    with pytest.raises(ValueError, match="level must be one of subdistrict, district, city"):
        roll_up_creation(six, ROLLUP_COMMUNITIES, level="street")
    with pytest.raises(ValueError, match=r"missing from communities: \['c10'\]"):
        roll_up_creation(six, ROLLUP_COMMUNITIES.iloc[:5], level="city")
    more = pd.concat([ROLLUP_COMMUNITIES, pd.DataFrame({"code": ["c99"], "population": [1.0]})])
    with pytest.raises(ValueError, match=r"not evaluated: \['c99'\]"):
        roll_up_creation(six, more, level="city")
    negative = ROLLUP_COMMUNITIES.assign(population=[-1.0, 1, 1, 1, 1, 1])
    with pytest.raises(ValueError, match=r"population'\] must be >= 0.*c1"):
        roll_up_creation(six, negative, level="city")
    with pytest.raises(ValueError, match="lacks the 'population' column"):
        roll_up_creation(six, ROLLUP_COMMUNITIES.drop(columns="population"), level="city")
    # Units are keyed by code only (as every roll-up and unit geometry): names never stand in.
    with pytest.raises(ValueError, match=r"must have the column\(s\) district_code"):
        roll_up_creation(six, ROLLUP_COMMUNITIES, level="district")


# ----------------------------------------------------------------- profile errors
def line_of(text, needle, occurrence=1):
    hits = [n for n, line in enumerate(text.splitlines(), 1) if needle in line]
    return hits[occurrence - 1]


def test_unknown_metric_names_it_with_close_matches_and_line():
    text = WORKED.replace('"camera_area_share"', '"camera_area_shares"')
    line = line_of(text, "camera_area_shares")
    with pytest.raises(ProfileError, match=(
            rf"line {line}, \[\[criteria\]\] #3 \(id 'c'\) metric: unknown metric "
            r"'camera_area_shares'; close matches: camera_area_share")):
        load_profile(text)


def test_bad_operator_names_field_and_line():
    text = WORKED.replace('operator = ">="', 'operator = "=>"', 1)
    line = line_of(text, '"=>"')
    with pytest.raises(ProfileError, match=(
            rf"line {line}, \[\[criteria\]\] #2 \(id 'b'\) operator: Input should be "
            r"'<', '<=', '>' or '>='; got '=>'")):
        load_profile(text)


def test_missing_threshold_points_at_its_criterion():
    text = WORKED.replace("threshold = 0.7\n", "")
    line = line_of(text, "[[criteria]]", 4)
    with pytest.raises(ProfileError, match=(
            rf"line {line}, \[\[criteria\]\] #4 \(id 'd'\) threshold: required field is "
            "missing")):
        load_profile(text)


def test_duplicate_id_names_both_lines():
    text = WORKED.replace('id = "c"', 'id = "a"')
    first, second = line_of(text, 'id = "a"', 1), line_of(text, 'id = "a"', 2)
    with pytest.raises(ProfileError, match=(
            rf"line {second}, \[\[criteria\]\] #3 \(id 'a'\) id: duplicate id 'a': already "
            rf"used by the criterion at line {first}")):
        load_profile(text)


def test_params_problems():
    text = profile_text(
        crit("p", "compound_compliance_ratio", ">=", 0.5, 1, params={"radius_m": 300}),
        crit("q", "facility_covered_population_share", ">=", 0.5, 1,
             params={"period": "year", "radius": 300}),
        crit("r", "case_rate_per_10k_annual", "<=", 5, 1),
        crit("s", "camera_count", ">=", 1, 1, params={"period": "2025"}),
    )
    with pytest.raises(ProfileError) as info:
        load_profile(text)
    message = str(info.value)
    assert (f"line {line_of(text, 'radius_m = 300')}, [[criteria]] #1 (id 'p') "
            "params.radius_m: metric 'compound_compliance_ratio' does not take param "
            "'radius_m'; it takes no params") in message
    q_line = line_of(text, "radius = 300")
    assert (f"line {q_line}, [[criteria]] #2 (id 'q') params.radius: metric "
            "'facility_covered_population_share' does not take param 'radius'; it takes "
            "facility_type, radius_m, period") in message
    assert (f"line {q_line}, [[criteria]] #2 (id 'q') params.facility_type: metric "
            "'facility_covered_population_share' needs param 'facility_type'") in message
    assert (f"line {line_of(text, '[[criteria]]', 3)}, [[criteria]] #3 (id 'r') "
            "params.period: metric 'case_rate_per_10k_annual' needs param 'period'") in message
    s_line = line_of(text, 'period = "2025"')
    assert (f"line {s_line}, [[criteria]] #4 (id 's') "
            "params.period: Input should be 'evaluated', 'year', 'quarter' or 'month'; "
            "got '2025'") in message
    assert len(info.value.problems) == 5
    assert [p.line for p in info.value.problems] == sorted(p.line for p in info.value.problems)


def test_weight_bands_and_unknown_fields():
    text = (HEAD.replace("partly_min_score = 60", "partly_min_score = 90")
            + "\nowner = \"me\"\n\n"
            + crit("w", "compounds_total", ">=", 1, 0).replace("weight = 0",
                                                                "weight = 0\nnote = 1"))
    with pytest.raises(ProfileError) as info:
        load_profile(text)
    message = str(info.value)
    assert (f"line {line_of(text, 'partly_min_score')}, [bands] partly_min_score: bands out "
            "of order: partly_min_score (90) must not exceed meets_min_score (80)") in message
    assert (f"line {line_of(text, 'weight = 0')}, [[criteria]] #1 (id 'w') weight: Input "
            "should be greater than 0; got 0") in message
    assert f"line {line_of(text, 'note = 1')}, [[criteria]] #1 (id 'w') note: unknown field" \
        in message
    # a key written after [bands] belongs to the bands table in TOML
    assert f"line {line_of(text, 'owner')}, [bands] owner: unknown field" in message


def test_toml_syntax_error_has_its_line():
    text = WORKED.replace('operator = "<="', 'operator = <=')
    with pytest.raises(ProfileError, match=rf"line {line_of(text, 'operator = <=')}, TOML "
                                           "syntax: Invalid value"):
        load_profile(text)


def test_missing_top_level_field_and_empty_criteria():
    # criteria must come before [bands]: a key after a table header belongs to that table
    text = HEAD.replace('version = "1"\n', "").replace("[bands]", "criteria = []\n\n[bands]")
    with pytest.raises(ProfileError) as info:
        load_profile(text)
    fields = {p.field for p in info.value.problems}
    assert fields == {"version", "criteria"}
    assert "required field is missing" in str(info.value)


def test_lines_survive_multiline_values_and_subtables():
    text = textwrap.dedent('''\
        name = "lines"
        version = "1"
        effective_date = 2025-01-01
        source_notes = [
          "a note with [[criteria]] inside",
          "another",
        ]
        description = """
        [[criteria]]
        id = "not a criterion"
        """

        [bands]
        meets_min_score = 80
        partly_min_score = 60

        [[criteria]]
        id = "first"
        label_zh = "一"
        label_en = "one"
        metric = "camera_count"
        operator = ">="
        threshold = 1
        weight = 1
        source = "s"

        [criteria.params]
        period = "evaluated"
        measure = "fence"

        [[criteria]]
        id = "second"
        label_zh = "二"
        label_en = "two"
        metric = "compounds_total"
        operator = "≥"
        threshold = 1
        weight = 1
        source = "s"
        ''')
    with pytest.raises(ProfileError) as info:
        load_profile(text)
    found = {(p.line, p.field) for p in info.value.problems}
    assert found == {
        (line_of(text, 'measure = "fence"'), "[[criteria]] #1 (id 'first') params.measure"),
        (line_of(text, 'operator = "≥"'), "[[criteria]] #2 (id 'second') operator"),
    }


def test_load_profile_from_path(tmp_path):
    path = tmp_path / "p.toml"
    path.write_text(WORKED, encoding="utf-8")
    assert load_profile(path) == load_profile(str(path)) == load_profile(WORKED)
    with pytest.raises(FileNotFoundError):
        load_profile(tmp_path / "absent.toml")
    (tmp_path / "gbk.toml").write_bytes(WORKED.replace('"d"', '"物防"').encode("gbk"))
    d_line = line_of(WORKED, 'id = "d"')
    with pytest.raises(ProfileError, match=rf"line {d_line}, encoding: a profile must be UTF-8"):
        load_profile(tmp_path / "gbk.toml")
    (tmp_path / "bad.toml").write_text(WORKED.replace("weight = 15", "weight = -1"))
    with pytest.raises(ProfileError, match=r"profile .*bad\.toml has 1 problem:"):
        load_profile(tmp_path / "bad.toml")


# ----------------------------------------------------------------- version key, requests
def test_version_key_ignores_formatting_but_not_values():
    profile = load_profile(WORKED)
    reformatted = "# a comment\n" + WORKED.replace("threshold = 100", "threshold   =   100.0")
    assert load_profile(reformatted).version_key == profile.version_key
    changed = WORKED.replace("threshold = 100", "threshold = 101")
    assert load_profile(changed).version_key != profile.version_key
    assert len(profile.version_key) == 16


def test_metric_requests_deduplicate_after_resolving_periods():
    text = profile_text(
        crit("y", "camera_count", ">=", 1, 1, params={"period": "year"}),
        crit("e", "camera_count", ">=", 5, 1, params={"period": "evaluated"}),
        crit("m", "camera_count", ">=", 1, 1, params={"period": "month"}),
        crit("p", "facility_covered_population_share", ">=", 0.5, 1,
             params={"facility_type": "police_office", "radius_m": 300,
                     "period": "evaluated"}),
    )
    profile = load_profile(text)
    unresolved = metric_requests(profile)
    assert [r.criterion_ids for r in unresolved] == [("y",), ("e",), ("m",), ("p",)]
    resolved = metric_requests(profile, period="2025")
    assert [(r.metric, r.kwargs, r.criterion_ids) for r in resolved] == [
        ("camera_count", {"period": "2025"}, ("y", "e")),
        ("camera_count", {"period": "2025-12"}, ("m",)),
        ("facility_covered_population_share",
         {"period": "2025", "facility_type": "police_office", "radius_m": 300.0}, ("p",)),
    ]


@pytest.mark.parametrize(
    ("spec", "evaluated", "expected"),
    [
        ("evaluated", "2025-Q3", parse_period("2025-Q3")),
        ("year", "2025", parse_period("2025")),
        ("year", "2025-Q3", Period("range", dt.date(2024, 10, 1), dt.date(2025, 10, 1))),
        ("year", "2025-03", Period("range", dt.date(2024, 4, 1), dt.date(2025, 4, 1))),
        ("quarter", "2025", parse_period("2025-Q4")),
        ("quarter", "2025-05", Period("range", dt.date(2025, 3, 1), dt.date(2025, 6, 1))),
        ("month", "2025-Q1", parse_period("2025-03")),
        ("month", "2025-03-31..2025-03-31", parse_period("2025-03")),
        ("month", "2025-03-30..2025-03-30",  # 31 March minus a month is clamped to 28 Feb
         Period("range", dt.date(2025, 2, 28), dt.date(2025, 3, 31))),
    ],
)
def test_resolve_period(spec, evaluated, expected):
    assert resolve_period(spec, evaluated) == expected


def test_resolve_period_refuses_unknown_spec():
    with pytest.raises(ValueError, match=r"period spec must be one of .*; got 'last-year'"):
        resolve_period("last-year", "2025")


# ----------------------------------------------------------------- the shipped profile
def test_default_profile_loads_with_sourced_criteria():
    profile = load_profile(DEFAULT_PROFILE_PATH)
    assert len(profile.criteria) >= 8
    assert all(c.source.strip() for c in profile.criteria)
    assert all(c.metric in CATALOGUE for c in profile.criteria)
    assert sum(c.weight for c in profile.criteria) == pytest.approx(100)
    assert profile.bands.partly_min_score <= profile.bands.meets_min_score
    by_id = {c.id: c for c in profile.criteria}
    working = by_id["camera_working"]
    assert (working.operator, working.threshold) == (">=", 0.98)
    assert "996" in working.source and "98%" in working.source
    rise = by_id["no_significant_rise"]
    assert (rise.operator, rise.threshold, rise.params.compare) == ("<", 1, "last-year")
    types = {c.params.facility_type for c in profile.criteria}
    assert {"police_office", "service_station", "health_station"} <= types


def test_default_profile_gives_every_band():
    profile = load_profile(DEFAULT_PROFILE_PATH)
    good = {"case_rate": 150, "no_significant_rise": 0, "camera_coverage": 0.7,
            "camera_working": 0.99, "compound_compliance": 0.9, "police_office_reach": 0.8,
            "service_station_reach": 0.8, "health_station_reach": 0.8}
    middling = good | {"camera_coverage": 0.1, "camera_working": 0.95}  # 75
    poor = good | {"case_rate": 380, "compound_compliance": 0.4, "camera_coverage": 0.2}
    metrics = pd.DataFrame([good, middling, poor, good | {"case_rate": NAN}],
                           index=["good", "middling", "poor", "no-rate"])
    statuses = evaluate(metrics, profile).communities["status"].tolist()
    assert statuses == ["meets", "partly", "fails", "incomplete"]


def test_every_catalogue_param_can_be_written_in_a_profile():
    # a parameter added to the catalogue must be added to CriterionParams too
    from geo.profile import PARAM_NAMES, CriterionParams
    names = {p for m in CATALOGUE.values() for p in m.params}
    assert names <= set(PARAM_NAMES) == set(CriterionParams.model_fields)
