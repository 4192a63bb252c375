"""Number formats by language: every quantity, the minus sign, missing values and tick labels."""

from __future__ import annotations

import math

import pytest

from trialeval import formatting as f


@pytest.mark.parametrize(("quantity", "value", "da", "en"), [
    ("count", 4704, "4.704", "4,704"),
    ("count", 1234567.6, "1.234.568", "1,234,568"),
    ("share", 0.46, "46,0 %", "46.0%"),
    ("share", 0.12345, "12,3 %", "12.3%"),
    ("kroner", -1000, "−1.000 kr.", "DKK −1,000"),
    ("kroner", 375970.4, "375.970 kr.", "DKK 375,970"),
    ("hours", 3.254, "3,25", "3.25"),
    ("estimate", -0.0456, "−0,046", "−0.046"),
    ("p_value", 0.0, "< 0,001", "< 0.001"),
    ("p_value", 0.001, "0,001", "0.001"),
    ("pp", 0.049, "4,9 pct.-point", "4.9 pp"),
])
def test_each_quantity_in_both_languages(quantity, value, da, en):
    assert f.formatter(quantity, "da")(value) == da
    assert f.formatter(quantity, "en")(value) == en


def test_a_value_rounding_to_zero_has_no_minus_and_missing_is_empty():
    assert f.estimate(-0.0004, "da") == "0,000"
    assert f.kroner(-0.4, "en") == "DKK 0"
    assert f.share(math.nan, "da") == "" and f.count(None, "en") == ""


def test_dates_in_words():
    assert f.date("2016-12-31", "da") == "31. december 2016"
    assert f.date("2016-02-29", "en") == "29 February 2016"


def test_tick_labels_follow_the_language():
    share_ticks = f.tick_formatter("share", "da")
    assert [share_ticks(v, 0) for v in (0.0, 0.1, 0.125)] == ["0 %", "10 %", "12,5 %"]
    assert f.tick_formatter("kroner", "da")(-25000.0, 0) == "−25.000"
    assert f.tick_formatter("hours", "en")(2.5, 0) == "2.50"


def test_an_unknown_language_or_quantity_is_an_error():
    with pytest.raises(ValueError, match="language must be one of en, da"):
        f.count(1, "de")
    with pytest.raises(ValueError, match="unknown quantity 'money'"):
        f.formatter("money", "en")
