"""One message shape for option checks: ``<where> <name> must be <rule>; got <value>``."""

from __future__ import annotations

import pytest

from trialeval._validation import OptionError, check_choice, check_int, check_open_interval, check_option
from trialeval.config import TrialConfig
from trialeval.exceptions import ConfigError, InputDataError


def test_whole_numbers():
    assert check_int("weeks", 52, 1, 1040) == 52
    with pytest.raises(OptionError, match=r"^weeks must be from 1 to 1040; got 0$"):
        check_int("weeks", 0, 1, 1040)
    with pytest.raises(OptionError, match=r"^effects: min_cell must be a whole number >= 0; got -1$"):
        check_int("min_cell", -1, 0, where="effects:")
    with pytest.raises(OptionError, match=r"got 2.5$"):
        check_int("weeks", 2.5, 1)
    with pytest.raises(OptionError, match=r"got True$"):
        check_int("weeks", True, 0)


def test_intervals_choices_and_rules():
    assert check_open_interval("alpha", 0.1, 0, 1) == 0.1
    with pytest.raises(OptionError, match=r"^alpha must be in \(0, 1\); got 1.5$"):
        check_open_interval("alpha", 1.5, 0, 1)
    assert check_choice("lang", "da", ("en", "da")) == "da"
    with pytest.raises(OptionError, match=r"^lang must be one of en, da; got 'fr'$"):
        check_choice("lang", "fr", ("en", "da"))
    with pytest.raises(ConfigError, match=r"^x: k must be even; got 3$"):
        check_option("k", 3, False, "even", where="x:", error=ConfigError)


def test_option_errors_are_input_errors_naming_the_option():
    error = OptionError("weeks must be from 1 to 1040; got 0", option="--weeks")
    assert isinstance(error, InputDataError) and error.option == "--weeks" and str(error) == error.message


@pytest.mark.parametrize("analysis, message", [
    ({"weeks": 0}, "t.toml: [analysis] weeks must be from 1 to 1040; got 0"),
    ({"min_days": 9}, "t.toml: [analysis] min_days must be from 1 to 7; got 9"),
    ({"alpha": 1.5}, "t.toml: [analysis] alpha must be in (0, 1); got 1.5"),
    ({"report_weeks": [13, 0]}, "t.toml: [analysis] report_weeks must be whole weeks from 1 to 1040; got [13, 0]"),
])
def test_config_uses_the_one_shape(analysis, message):
    with pytest.raises(ConfigError) as info:
        TrialConfig.from_dict({"trial": {"seed": 1, "treatment_share": 0.5}, "analysis": analysis}, source="t.toml")
    assert str(info.value) == message
