"""The band's products taken from the panel kernel's chunks give the influences' cross product WᵀW
(the command-line tests in ``tests/cli/test_effects_from_spells.py`` compare the whole path with the panel
file's)."""

from __future__ import annotations

import numpy as np
import pytest

from trialeval.effects._kernel_stats import _band_sums, _steps


@pytest.mark.parametrize("censored", [True, False])
def test_band_products_give_the_influences_cross_product(censored):
    """Persons observed for different numbers of weeks (values beyond them left out), or all for every week."""
    rng = np.random.default_rng(7)
    p, nw = 60, 9
    flag = rng.random((p, nw)) < 0.3
    hours = np.where(rng.random((p, nw)) < 0.4, rng.uniform(1, 37, (p, nw)), 0.0)
    length = rng.integers(0, nw + 1, p) if censored else np.full(p, nw)
    t = (rng.random(p) < 0.5).astype(np.int8)
    # a 0/1 outcome that stays 1 once reached (from week `first`, set beyond the observed weeks too; -1: never)
    first = rng.integers(-1, nw, p)
    reached = (np.arange(nw)[None, :] >= first[:, None]) & (first[:, None] >= 0)
    cells = np.flatnonzero(hours)              # ordinary hours come as their cells, a dense float as an array
    sums = _band_sums({"flag": flag, "hours": hours, "reached": reached}, length, t, nw,
                      (cells, hours.ravel()[cells]))
    seen = reached & (np.arange(nw)[None, :] < length[:, None])         # what the band sees of it
    assert _steps(seen, seen.any(axis=1), length) is not None
    assert _steps(flag, flag.any(axis=1), np.full(p, nw)) is None
    observed = np.arange(nw)[None, :] < length[:, None]
    weeks = np.array([1, 2, 4, 5, 8])
    for name, y in (("flag", flag.astype(float)), ("hours", hours), ("ordinary_hours", hours),
                    ("reached", reached.astype(float))):
        n = np.zeros(2 * len(weeks))
        mean = np.full(2 * len(weeks), np.nan)
        W = np.zeros((p, len(weeks)))                  # each person's influences, written out
        for k, w in enumerate(weeks):
            for arm in (0, 1):
                rows = observed[:, w] & (t == arm)
                n[2 * k + arm] = rows.sum()
                if rows.sum() >= 2:
                    mean[2 * k + arm] = y[rows, w].mean()
                    W[rows, k] = (y[rows, w] - mean[2 * k + arm]) / np.sqrt(rows.sum() * (rows.sum() - 1))
        np.testing.assert_allclose(sums[name].matrix(weeks, n, mean), W.T @ W, rtol=1e-12, atol=1e-15)


def test_steps_are_checked_on_every_row_beyond_the_first_ones():
    """The first rows are checked first (most outcomes are no steps and fail there); a chunk whose first
    rows are steps is still checked whole."""
    rng = np.random.default_rng(3)
    p, nw = 2000, 12
    first = rng.integers(0, nw + 3, p)                            # beyond nw: never reached
    a = np.arange(nw)[None, :] >= first[:, None]
    length = np.full(p, nw)
    nonzero = a.any(axis=1)
    np.testing.assert_array_equal(_steps(a, nonzero, length), first[nonzero])
    late = a.copy()
    late[1500] = [True, False] * (nw // 2)                         # row 1500: not a step
    assert _steps(late, late.any(axis=1), length) is None
    early = a.copy()
    early[3] = [False, True] * (nw // 2)                           # among the first rows
    assert _steps(early, early.any(axis=1), length) is None
