"""Template filters that put figures into words on the pages."""

import pytest

from territories.templatetags.territory_tags import percent


@pytest.mark.parametrize(("fraction", "text"), [(0.0472, "4.7"), (0.05, "5.0"), (0, "0.0"), (1.2346, "123.5"),
                                                 ("0.25", "25.0"), (None, "")])
def test_percent_keeps_a_decimal_so_4_7_does_not_read_as_5(fraction, text):
    assert percent(fraction) == text


def test_percent_takes_the_number_of_decimals():
    assert percent(0.04718, 2) == "4.72"
