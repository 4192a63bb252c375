"""Greedy matching rules by hand: order by score, rounds of 1:k, calipers, exact strata and units used up."""

from __future__ import annotations

import numpy as np

from trialeval.matching import nearest_neighbour


def test_the_highest_score_chooses_first_and_takes_the_shared_nearest():
    # programme units at 0.50 and 0.60 both want the comparison unit at 0.56; 0.60 goes first
    d = np.array([0.50, 0.60, 0.56, 0.40, 0.70])
    t = np.array([1, 1, 0, 0, 0], dtype=bool)
    r = nearest_neighbour(d, t)
    assert r.matches.ravel().tolist() == [3, 2]          # rows 0 and 1 (0.50 then gets 0.40 … not 0.70)
    assert r.weights.tolist() == [1, 1, 1, 1, 0]


def test_rounds_of_one_to_two_without_replacement():
    d = np.array([0.50, 0.60, 0.56, 0.40, 0.70, 0.52])
    t = np.array([1, 1, 0, 0, 0, 0], dtype=bool)
    r = nearest_neighbour(d, t, ratio=2)
    # round 1: 0.60 takes 0.56, 0.50 takes 0.52; round 2: 0.60 takes 0.70, 0.50 takes 0.40
    assert r.matches.tolist() == [[5, 3], [2, 4]]


def test_a_caliper_leaves_far_units_unmatched():
    d = np.array([0.0, 3.0, 0.1, 0.2, 0.3])
    t = np.array([1, 1, 0, 0, 0], dtype=bool)
    sd = np.std(d, ddof=1)
    r = nearest_neighbour(d, t, caliper=0.5)
    assert r.caliper == 0.5 * sd and r.matched.tolist() == [True, False]
    assert r.weights.tolist() == [1, 0, 1, 0, 0]


def test_exact_strata_and_a_unit_eligible_in_two_strata_is_used_once():
    # candidate 'c' is eligible in months 1 and 2 (two rows); matched in month 2 first (higher score),
    # it cannot be the month-1 match too
    d = np.array([0.90, 0.30, 0.88, 0.31, 0.20])
    t = np.array([1, 1, 0, 0, 0], dtype=bool)
    month = np.array([2, 1, 2, 1, 1])
    unit = np.array(["p1", "p2", "c", "c", "e"])
    r = nearest_neighbour(d, t, exact=month, unit_id=unit)
    assert r.matches.ravel().tolist() == [2, 4]
    without_units = nearest_neighbour(d, t, exact=month)
    assert without_units.matches.ravel().tolist() == [2, 3]


def test_with_replacement_a_unit_serves_several():
    d = np.array([0.50, 0.51, 0.505, 0.1])
    t = np.array([1, 1, 0, 0], dtype=bool)
    r = nearest_neighbour(d, t, replace=True)
    assert r.matches.ravel().tolist() == [2, 2]
    assert r.weights.tolist() == [1, 1, 1, 0]           # two matches, rescaled to the one unit matched
