"""Rules read in words on the hierarchy page: open-ended ranges, lists and emptiness say what they mean."""

import pytest

from accounts.services.criteria import criteria_describe


@pytest.mark.parametrize(
    ("condition", "words"),
    [
        ({"field": "annual_revenue", "op": "range", "value": [1000000, None]}, "annual_revenue at least 1,000,000"),
        ({"field": "potential", "op": "range", "value": [None, 5000.0]}, "potential at most 5,000"),
        ({"field": "employees", "op": "range", "value": [10, 250]}, "employees between 10 and 250"),
        ({"field": "tier", "op": "in", "value": ["A", "B"]}, "tier in ('A', 'B')"),
        ({"field": "state", "op": "not_in", "value": ["CA"]}, "state not in ('CA')"),
        ({"field": "industry", "op": "is_empty", "value": True}, "industry is empty"),
        ({"field": "industry", "op": "is_empty", "value": False}, "industry is not empty"),
        ({"field": "name", "op": "not_equals", "value": "Acme"}, "name not equals 'Acme'"),
    ],
)
def test_each_condition_reads_in_words(condition, words):
    assert criteria_describe(criteria=[condition]) == words


def test_groups_nest_in_brackets_and_logic_joins_them():
    criteria = [
        {"field": "segment", "op": "equals", "value": "enterprise"},
        {"logic": "any", "criteria": [{"field": "tier", "op": "equals", "value": "A"},
                                      {"field": "potential", "op": "range", "value": [1e6, None]}]},
    ]
    assert criteria_describe(criteria=criteria) == (
        "segment equals 'enterprise' and (tier equals 'A' or potential at least 1,000,000)"
    )
    assert criteria_describe(criteria=[]) == "any account"
