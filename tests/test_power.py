from __future__ import annotations

import math

import pytest

from trialeval.exceptions import DesignError
from trialeval.power import power


def test_mde_matches_hand_computation():
    # z_.975 = 1.959963985, z_.80 = 0.841621234; N = 1000, p = .5: SE = sqrt(1/250) = 0.0632455532
    assert power(1000, sd=1.0).mde == pytest.approx((1.959963985 + 0.841621234) * 0.0632455532, rel=1e-9)


def test_mde_for_a_proportion_and_unequal_shares():
    # JobFirst-sized trial: 2,408 persons, 7 % baseline: σ = sqrt(.07 × .93) = 0.255147016
    result = power(2408, proportion=0.07)
    assert result.sd == pytest.approx(0.255147016, rel=1e-8)
    assert result.mde == pytest.approx(2.801585219 * 0.255147016 / math.sqrt(602), rel=1e-8)
    # a third treated: N p (1 − p) = 900 × 2/9 = 200
    assert power(900, share=1 / 3, sd=2.0, alpha=0.1, power=0.9).mde == pytest.approx(
        (1.644853627 + 1.281551566) * 2.0 / math.sqrt(200), rel=1e-8)


@pytest.mark.parametrize("kwargs, message", [
    ({"n": 1, "sd": 1.0}, "n must be"),
    ({"n": 100}, "exactly one of sd"),
    ({"n": 100, "sd": 1.0, "proportion": 0.1}, "exactly one of sd"),
    ({"n": 100, "proportion": 1.2}, "proportion must be in"),
    ({"n": 100, "sd": 1.0, "share": 1.0}, "share must be in"),
])
def test_bad_power_inputs(kwargs, message):
    with pytest.raises(DesignError, match=message):
        power(**kwargs)
