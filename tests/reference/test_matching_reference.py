"""trialeval.matching against R's MatchIt 4.7.2 (built from source) on lalonde; from make_reference_matching.R."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose

from trialeval.matching import logit_propensity, nearest_neighbour

HERE = Path(__file__).parent
LALONDE = pd.read_csv(HERE / "lalonde.csv")
COVARIATES = ["age", "educ", "race", "married", "nodegree", "re74", "re75"]
MATCHES = pd.read_csv(HERE / "matching_reference_matches.csv")
WEIGHTS = pd.read_csv(HERE / "matching_reference_weights.csv")
CASES = {
    "nearest_1": {},
    "caliper_0.2": {"caliper": 0.2},
    "ratio_2_caliper_0.25": {"ratio": 2, "caliper": 0.25},
    "replace_1": {"replace": True},
    "replace_3_caliper_0.1": {"replace": True, "ratio": 3, "caliper": 0.1},
    "exact_race_caliper_0.3": {"exact": "race", "caliper": 0.3},
    "exact_married_ratio_2": {"exact": "married", "ratio": 2},
}
TREATED = LALONDE["treat"].to_numpy() == 1


R_DISTANCE = pd.read_csv(HERE / "matching_reference_distance.csv")["distance"].to_numpy()


def test_the_logit_propensity_score_equals_glm():
    assert_allclose(logit_propensity(LALONDE, TREATED, COVARIATES), R_DISTANCE, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("case", list(CASES))
def test_matches_and_weights_equal_matchit(case):
    """Given R's scores (the scores alone agree to 1e-10; near-ties 1e-16 apart would otherwise decide)."""
    distance = R_DISTANCE
    options = dict(CASES[case])
    exact = LALONDE[options.pop("exact")].to_numpy() if "exact" in options else None
    result = nearest_neighbour(distance, TREATED, exact=exact, **options)
    got = {(int(result.treated_rows[i]) + 1, j + 1): int(c) + 1
           for i, j in zip(*np.nonzero(result.matches >= 0)) for c in [result.matches[i, j]]}
    ref = MATCHES[MATCHES["case"] == case]
    want = {(int(r.treated_row), int(r.slot)): int(r.control_row) for r in ref.itertuples(index=False)}
    if options.get("replace"):
        # with replacement the k matches are taken at once: only the set per programme unit has meaning
        # (MatchIt's slot order among exactly tied distances comes from an unstable partial sort)
        got, want = _as_sets(got), _as_sets(want)
    assert got == want
    w = WEIGHTS[WEIGHTS["case"] == case].sort_values("row")["weight"].to_numpy()
    assert_allclose(result.weights, w, rtol=1e-12, atol=1e-12)
    assert len(want) > 100


def _as_sets(matches: dict[tuple[int, int], int]) -> dict[int, set[int]]:
    out: dict[int, set[int]] = {}
    for (treated_row, _), control in matches.items():
        out.setdefault(treated_row, set()).add(control)
    return out
