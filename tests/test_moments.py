"""The moments core: one pass equals any split added back, weighted moments, exact zeros for constant cells."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose, assert_array_equal

from trialeval.stats.moments import CellMoments, cell_code

SIZE = 4


@st.composite
def cells_and_splits(draw):
    n = draw(st.integers(1, 60))
    codes = np.array(draw(st.lists(st.integers(0, SIZE - 1), min_size=n, max_size=n)))
    y = np.array(draw(st.lists(st.floats(-1e3, 1e3, allow_nan=False), min_size=n, max_size=n)))
    w = np.array(draw(st.lists(st.floats(0.1, 10.0), min_size=n, max_size=n)))
    cuts = sorted(draw(st.lists(st.integers(0, n), max_size=4)))
    perm = np.array(draw(st.permutations(range(n))))
    return codes, y, w, cuts, perm


def _assert_same(a: CellMoments, b: CellMoments) -> None:
    assert_array_equal(a.n, b.n)
    scale = 1.0 + np.nanmax(np.abs(np.r_[b.mean, 0.0]))
    assert_allclose(a.mean, b.mean, rtol=1e-12, atol=1e-12 * scale, equal_nan=True)
    assert_allclose(a.m2, b.m2, rtol=1e-12, atol=1e-12 * scale**2)


@settings(max_examples=200, deadline=None)
@given(cells_and_splits())
def test_adding_the_moments_of_any_split_gives_the_one_pass_moments(case):
    codes, y, w, cuts, perm = case
    codes, y, w = codes[perm], y[perm], w[perm]
    whole = CellMoments.from_values(codes, y, SIZE, weights=w)
    parts = [CellMoments.from_values(codes[a:b], y[a:b], SIZE, weights=w[a:b])
             for a, b in zip([0, *cuts], [*cuts, len(y)])]
    total = CellMoments.empty(SIZE, weighted=True)
    for p in parts:
        total = total + p
    _assert_same(total, whole)
    assert total.weight is not None and whole.weight is not None
    assert_allclose(total.weight, whole.weight, rtol=1e-12)
    assert_allclose(total.wmean, whole.wmean, rtol=1e-12, atol=1e-9, equal_nan=True)
    assert_allclose(total.wm2, whole.wm2, rtol=1e-12, atol=1e-6)


@settings(max_examples=100, deadline=None)
@given(cells_and_splits())
def test_one_pass_moments_equal_numpy_per_cell(case):
    codes, y, _, _, _ = case
    m = CellMoments.from_values(codes, y, SIZE)
    for c in range(SIZE):
        yc = y[codes == c]
        assert m.n[c] == len(yc)
        if len(yc):
            assert_allclose(m.mean[c], yc.mean(), rtol=1e-12, atol=1e-12)
            assert_allclose(m.m2[c], ((yc - yc.mean()) ** 2).sum(), rtol=1e-10, atol=1e-9)
        else:
            assert np.isnan(m.mean[c]) and m.m2[c] == 0.0


def test_batches_of_rows_add_up_to_the_one_pass_moments():
    rng = np.random.default_rng(3)
    week, t = rng.integers(0, 5, 1000), rng.integers(0, 2, 1000).astype(np.int8)
    y = rng.gamma(2.0, 10.0, 1000)
    flag = (y > 20).astype(np.int8)
    one = [CellMoments.from_values(cell_code([(week, 2), (t, 1)]), v, 10) for v in (y, flag)]
    batched = CellMoments.from_rows([(week, 2), (t, 1)], [y, flag], 10, chunk=97)
    for a, b in zip(batched, one):
        _assert_same(a, b)
    # integer outcomes keep exact sums: identical to the last bit
    assert_array_equal(batched[1].mean, one[1].mean)
    assert_array_equal(batched[1].m2, one[1].m2)


def test_weighted_moments_equal_numpys_weighted_formulas():
    rng = np.random.default_rng(7)
    codes = rng.integers(0, 3, 500)
    y = rng.normal(5.0, 2.0, 500)
    w = rng.integers(1, 6, 500).astype(float)
    m = CellMoments.from_values(codes, y, 3, weights=w)
    for c in range(3):
        yc, wc = y[codes == c], w[codes == c]
        avg = np.average(yc, weights=wc)
        assert_allclose(m.weight[c], wc.sum(), rtol=1e-14)
        assert_allclose(m.wmean[c], avg, rtol=1e-13)
        assert_allclose(m.wm2[c] / m.weight[c], np.average((yc - avg) ** 2, weights=wc), rtol=1e-12)
        # integer weights as frequencies: numpy's fweights covariance (ddof 1)
        assert_allclose(m.variance(ddof=1, weighted=True)[c], np.cov(yc, fweights=wc.astype(int)), rtol=1e-12)
        assert_allclose(m.variance(ddof=1)[c], yc.var(ddof=1), rtol=1e-12)


@pytest.mark.parametrize("value", [0.0, 0.1, 37.5, -1e-7, 1e12 / 3])
def test_a_constant_cell_has_m2_exactly_zero_and_its_own_value_as_mean(value):
    codes = np.array([0, 1, 0, 1, 1, 0, 1])
    y = np.where(codes == 1, value, np.array([3.0, 0, 8.5, 0, 0, 1.25, 0]))
    for batch in (7, 2):
        m = CellMoments.from_rows([(codes, 1)], [y], 2, chunk=batch)[0]
        assert m.m2[1] == 0.0 and m.mean[1] == value
        assert m.variance()[1] == 0.0
        assert m.m2[0] > 0
    ints = CellMoments.from_values(codes, np.where(codes == 1, 4, codes * 0 + 9).astype(np.int16), 2)
    assert ints.m2.tolist() == [0.0, 0.0]


def test_empty_cells_are_the_identity_and_collapse_merges_cells():
    rng = np.random.default_rng(11)
    codes, y = rng.integers(0, 6, 200), rng.normal(size=200)
    m = CellMoments.from_values(codes, y, 6)
    _assert_same(m + CellMoments.empty(6), m)
    _assert_same(CellMoments.empty(6) + m, m)
    merged = m.collapse(np.array([0, 0, 1, 1, 2, 2]), 3)
    _assert_same(merged, CellMoments.from_values(codes // 2, y, 3))
    assert_array_equal(m[1::2].n, m.n[1::2])
    assert len(m) == 6


def test_from_sums_takes_running_sums_at_the_boundary():
    m = CellMoments.from_sums(np.array([0.0, 3.0]), np.array([np.nan, 2.0]), np.array([np.nan, 2.0]))
    assert m.n.tolist() == [0.0, 3.0] and np.isnan(m.mean[0]) and m.m2.tolist() == [0.0, 2.0]
    assert np.isnan(m.variance()[0]) and m.variance()[1] == 1.0
    with pytest.raises(ValueError, match="without weights"):
        m.variance(weighted=True)


def test_panel_sums_give_a_constant_hours_week_variance_exactly_zero():
    """The panel's running sums are moments too. The three treated persons work 0.7 hours a week in weeks
    1-2 and the controls none: every arm-week is constant, so SE is exactly 0 and df, CI and p are missing,
    from the sums as from the rows (the sums once gave SE 1.5e-09 here)."""
    import pandas as pd

    from trialeval.effects import effects
    from trialeval.panel import build_panel

    ids = [f"p{i:02d}" for i in range(6)]
    ledger = pd.DataFrame({"person_id": ids, "arm": ["treatment", "control"] * 3, "visitation_date": "2016-03-07"})
    spells = pd.DataFrame({"person_id": ids[::2], "spell_type": "ordinary_hours", "start_date": "2016-03-07",
                           "end_date": "2016-03-20", "hours_per_week": 0.7})
    panel = build_panel(ledger, spells, "2016-04-03", weeks=4, min_matched_share=0)
    for source in (panel, panel.to_frame()):
        table = effects(source, ["ordinary_hours"], min_cell=0).to_frame()
        assert table["mean_treatment"].tolist() == [0.7, 0.7, 0.0, 0.0]
        assert table["se"].tolist() == [0.0, 0.0, 0.0, 0.0]
        assert table[["df", "ci_low", "ci_high", "p_value"]].isna().all().all()
