"""Category mappings: reading and checking the file, expanding names, the "matches nothing"
message (issue 12 item 7)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pandas as pd
import pytest

from geo.categories import (
    canonical_counts,
    read_category_map,
    top_categories,
    unmatched,
    unmatched_message,
)
from geo.errors import InputError

CHINA110 = Path(__file__).resolve().parents[1] / "data" / "china110"
GOOD = CHINA110 / "110类别对照.csv"
BAD = CHINA110 / "110类别对照_有误.csv"


def test_the_110_mapping_keeps_codes_as_text_and_names_its_file():
    m = read_category_map(GOOD)
    assert m.mapping == {"0101": "盗窃", "0102": "盗窃", "0201": "伤害", "0301": "诈骗",
                         "0401": "纠纷"}
    assert m.name == "110类别对照.csv"
    assert m.sha256 == hashlib.sha256(GOOD.read_bytes()).hexdigest()
    assert m.provenance() == {"file": "110类别对照.csv", "sha256": m.sha256[:16], "rows": 5}
    # a name matches the raw codes mapped to it, and a raw category of that very name
    assert m.expand(["盗窃"]) == ("0101", "0102", "盗窃")
    assert m.expand(["0201"]) == ("0201",)
    assert m.expand([]) == ()
    # resolving what was resolved gives the same raw categories
    assert m.expand(m.expand(["盗窃", "伤害"])) == m.expand(["盗窃", "伤害"])
    assert m.canonical("0102") == "盗窃" and m.canonical("9999") == "9999"


def test_a_gbk_mapping_with_wrong_rows_names_every_row():
    with pytest.raises(InputError, match="3 problems") as err:
        read_category_map(BAD)
    text = str(err.value)
    assert "row 2 (line 3): canonical is empty (got raw='0102', canonical='')" in text
    assert "row 4 (line 5): raw '0201' is mapped to '斗殴' here and to '伤害' in row 3" in text
    assert "row 5 (line 6): canonical '诈骗' is itself mapped to '欺诈' in row 6" in text
    assert err.value.parameter == "categories"


def test_missing_columns_and_unreadable_files(tmp_path):
    wrong = tmp_path / "map.csv"
    wrong.write_text("原类别,标准类别\nTHEFT,盗窃\n", encoding="utf-8")
    with pytest.raises(InputError, match="missing raw and canonical; columns found: 原类别, "
                                         "标准类别"):
        read_category_map(wrong)
    empty = tmp_path / "empty.csv"
    empty.write_text("raw,canonical\n", encoding="utf-8")
    with pytest.raises(InputError, match="has no rows under its header"):
        read_category_map(empty)
    with pytest.raises(InputError, match="cannot be read"):
        read_category_map(tmp_path / "absent.csv")


def test_counts_top_ten_and_the_message():
    raw = pd.Series({"0101": 152, "0102": 146, "0201": 186, "0301": 161, "0401": 155})
    m = read_category_map(GOOD)
    counts = canonical_counts(raw, m)
    assert top_categories(counts) == [("盗窃", 298), ("伤害", 186), ("诈骗", 161),
                                      ("纠纷", 155)]
    assert unmatched(["盗窃", "theft"], raw.index, m) == ["theft"]
    assert unmatched(["盗窃"], raw.index) == ["盗窃"]
    msg = unmatched_message("盗窃", canonical_counts(raw), None)
    assert msg.startswith("category '盗窃' matches no incident; the 5 most frequent "
                          "categories: 0201 (186), 0301 (161), 0401 (155), 0101 (152), "
                          "0102 (146); ")
    assert "--categories map.csv" in msg
    many = pd.Series({f"C{k}": 100 - k for k in range(15)} | {"THEFT": 1})
    msg = unmatched_message("theft", canonical_counts(many))
    assert "did you mean 'THEFT'?" in msg and "the 10 most frequent" in msg
    assert "C9 (91)" in msg and "C10" not in msg


def test_a_case_definition_names_canonical_categories_through_the_mapping():
    from geo.cases import CaseDefinition
    from geo.errors import ParameterError

    m = read_category_map(GOOD)
    d = CaseDefinition(exclude_categories=("盗窃",), exclude_statuses=("撤案",)).expanded(m.expand)
    assert d.exclude_categories == ("0101", "0102", "盗窃") and d.exclude_statuses == ("撤案",)
    records = pd.DataFrame({"category": ["0101", "0102", "0201", None, "盗窃"],
                            "status": ["立案"] * 5})
    assert d.mask(records).tolist() == [False, False, True, True, False]
    # an exclusion wins over an inclusion reaching the same raw category
    d = CaseDefinition(include_categories=("盗窃", "伤害"), exclude_categories=("0102",))
    d = d.expanded(m.expand)
    assert d.include_categories == ("0101", "0201", "伤害", "盗窃")
    assert d.exclude_categories == ("0102",)
    with pytest.raises(ParameterError, match="include_categories must name at least one"):
        CaseDefinition(include_categories=("0101",), exclude_categories=("盗窃",)).expanded(
            m.expand)
