"""The Design value: one re-randomisation routine, and no randomisation inference without a lottery."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trialeval.design import Design
from trialeval.exceptions import DesignError


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(0, 4), min_size=1, max_size=40), st.integers(0, 2**32 - 1))
def test_permutations_keep_every_blocks_counts(blocks, seed):
    blocks = np.array(blocks)
    rng = np.random.default_rng(seed)
    assignment = rng.integers(0, 2, len(blocks))
    perm = Design(blocks=blocks).permutations(np.random.default_rng(seed), 7)
    assert perm.shape == (7, len(blocks))
    for row in perm:
        assert sorted(row.tolist()) == list(range(len(blocks)))          # a permutation of the units
        assert np.array_equal(blocks[row], blocks)                      # each unit takes a unit of its block
        shuffled = assignment[row]
        for b in np.unique(blocks):
            assert shuffled[blocks == b].sum() == assignment[blocks == b].sum()


def test_each_unit_is_treated_with_the_blocks_share():
    blocks = np.array(["x", "y", "x", "y", "x"])            # x: units 0, 2, 4 (one treated); y: 1, 3 (one)
    assignment = np.array([1, 1, 0, 0, 0])
    perm = Design(blocks=blocks).permutations(np.random.default_rng(5), 30_000)
    treated = assignment[perm].mean(axis=0)
    np.testing.assert_allclose(treated, [1 / 3, 1 / 2, 1 / 3, 1 / 2, 1 / 3], atol=0.01)


def test_the_draws_follow_the_generator_row_by_row():
    """Sorted blocks: the keys are the generator's uniforms, draw by draw (balance's stream, unchanged)."""
    codes = np.array([0, 0, 0, 1, 1])
    expected = np.argsort(codes[None, :] + np.random.default_rng(9).random((4, 5)), axis=1)
    np.testing.assert_array_equal(Design(blocks=codes).permutations(np.random.default_rng(9), 4), expected)


@pytest.mark.parametrize("kind", ["selection", "comparison"])
def test_a_design_that_is_not_a_lottery_refuses_randomisation_inference(kind):
    design = Design(kind=kind, groups=("programme", "comparison"), reference="comparison")
    assert not design.randomised
    with pytest.raises(DesignError, match=f"this is a {kind} design: its groups were not formed by lot"):
        design.permutations(np.random.default_rng(1), 10, n_units=4)


def test_group_vocabulary_is_data():
    design = Design(groups=("indsats", "kontrol"), reference="kontrol")
    assert design.groups == ("indsats", "kontrol") and design.reference == "kontrol"
    with pytest.raises(DesignError, match="reference group 'control' is not one of the groups"):
        Design(groups=("programme", "comparison"), reference="control")
    with pytest.raises(DesignError, match="design kind must be one of"):
        Design(kind="lottery")  # type: ignore[arg-type]
