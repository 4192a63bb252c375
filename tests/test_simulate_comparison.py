"""A small run of benchmarks/simulate_comparison.py: with selection on an observable that shifts the outcome's
level, the naive difference is biased by β·shift while the difference in differences recovers the true curve.
The tolerances are 5 Monte Carlo standard errors computed from the data-generating process."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("simulate_comparison", ROOT / "benchmarks" / "simulate_comparison.py")
sim = importlib.util.module_from_spec(spec)
assert spec.loader is not None
sys.modules.setdefault("simulate_comparison", sim)     # dataclasses look their module up
spec.loader.exec_module(sim)

REPS = 6


@pytest.fixture(scope="module")
def draws():
    return sim.replicate(sim.DGP(pre=3, post=6), REPS, seed=11)


def test_did_recovers_the_true_curve_where_the_naive_difference_is_biased(draws):
    dgp = sim.DGP(pre=3, post=6)
    n, su2, se2, b = dgp.n, dgp.sigma_u ** 2, dgp.sigma_e ** 2, dgp.beta
    # Monte Carlo SE of the mean error over periods and replications, from the DGP:
    # naive: the level α (variance β² + σ_u² within a group) does not average out over periods
    naive_se = np.sqrt(2 * (b * b + su2 + se2 / dgp.post) / n / REPS)
    # DiD: α cancels; the change is ε_t − mean of pre ε (variance σ_e²/post + σ_e²/pre averaged over periods)
    did_se = np.sqrt(2 * (se2 / dgp.post + se2 / dgp.pre) / n / REPS)
    summary = sim.summarise(draws)
    assert abs(summary.loc["naive", "bias"] - dgp.naive_bias) < 5 * naive_se
    assert abs(summary.loc["did", "bias"]) < 5 * did_se
    assert abs(dgp.naive_bias) > 20 * did_se                   # the bias is far outside the DiD's noise
    # the DiD curve, period by period (SE of one period's mean over the replications)
    per_week_se = np.sqrt(2 * (se2 + se2 / dgp.pre) / n / REPS)
    did = draws.loc[draws["method"] == "did"].groupby("week")[["estimate", "truth"]].mean()
    assert did.index.tolist() == list(range(1, dgp.post + 1))
    assert np.all(np.abs(did["estimate"] - did["truth"]) < 5 * per_week_se)
    assert np.allclose(did["truth"], dgp.tau_max * (1 - np.exp(-did.index.to_numpy() / 4)))
    # coverage: the DiD's intervals hold the truth about 95 % of the time, the naive ones almost never
    assert summary.loc["did", "coverage"] >= 0.8
    assert summary.loc["naive", "coverage"] <= 0.1
