"""The panel and the effect curves carry their time axis and take the period column from it."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from trialeval.effects import EffectsResult, effects
from trialeval.exceptions import InputDataError
from trialeval.panel import build_panel
from trialeval.timeaxis import DAYS_PER_WEEK, WEEKS_SINCE_VISITATION

LEDGER = pd.DataFrame({"person_id": [f"p{i}" for i in range(20)],
                       "arm": ["treatment", "control"] * 10,
                       "visitation_date": ["2016-03-01"] * 20})
SPELLS = pd.DataFrame({"person_id": ["p0", "p1"], "spell_type": ["internship", "ordinary_hours"],
                       "start_date": ["2016-03-06", "2016-03-01"], "end_date": ["2016-03-09", "2016-03-03"],
                       "hours_per_week": [np.nan, 14.0]})


def test_panel_and_effects_carry_the_axis() -> None:
    res = build_panel(LEDGER, SPELLS, "2016-03-28", weeks=4, axis="weeks_since_visitation", min_matched_share=0)
    assert res.axis is WEEKS_SINCE_VISITATION
    assert res.columns[2] == WEEKS_SINCE_VISITATION.column == "week"
    eff = effects(res, ["in_internship"])
    assert isinstance(eff, EffectsResult) and eff.axis is res.axis
    assert effects(res.to_frame(), ["in_internship"]).axis is WEEKS_SINCE_VISITATION


def test_hours_are_a_weekly_rate() -> None:
    res = build_panel(LEDGER, SPELLS, "2016-03-28", weeks=4, min_matched_share=0)
    hours = res.to_frame().set_index("person_id").loc["p1", "ordinary_hours"]
    assert hours.iloc[0] == 14.0 * 3 / DAYS_PER_WEEK


def test_other_axes_are_refused_by_the_panel() -> None:
    fortnights = dataclasses.replace(WEEKS_SINCE_VISITATION, name="fortnights", period_days=14)
    with pytest.raises(InputDataError, match="'fortnights' is not supported by the panel; it builds weeks_since_visitation"):
        build_panel(LEDGER, SPELLS, "2016-03-28", weeks=4, axis=fortnights)
    with pytest.raises(InputDataError, match="unknown time axis 'months'"):
        build_panel(LEDGER, SPELLS, "2016-03-28", weeks=4, axis="months")
