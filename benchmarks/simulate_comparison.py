"""Bias and 95 % CI coverage of difference in differences vs the naive difference in a comparison design.

Data-generating process (one replication): ``n`` programme persons and ``n`` comparison persons; an
observable ``x`` that drives selection — x ~ N(+shift/2, 1) in the programme group, N(−shift/2, 1) in the
comparison group — and the outcome's level:

    y_it = α_i + γ_t + τ_t · D_i + ε_it,   α_i = β · x_i + u_i,   u_i ~ N(0, σ_u²),   ε_it ~ N(0, σ_e²),

for periods t = −pre … −1 (before the programme) and 1 … post, with common period effects γ_t (parallel
trends) and the true effect τ_t = τ_max · (1 − exp(−t / 4)) for t ≥ 1 (0 before). The naive difference in
means at period t is biased by E[α | D = 1] − E[α | D = 0] = β · shift; the change from the baseline (the
mean of periods −pre … −1) removes α_i, so the difference in differences is unbiased.

Each replication is estimated by ``trialeval.effects`` on a comparison design (every person their own
matched set, weight 1): the default matched difference (naive) and ``did = pre``.

Run:  python benchmarks/simulate_comparison.py [--reps 200] [--seed 1]
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class DGP:
    """The simulation's parameters (defaults: the figures in docs/methods.md)."""

    n: int = 150
    pre: int = 4
    post: int = 8
    shift: float = 1.0
    beta: float = -0.5
    sigma_u: float = 0.5
    sigma_e: float = 0.5
    tau_max: float = 0.3

    def true_effect(self, t: np.ndarray) -> np.ndarray:
        """τ_t: the true effect curve (0 before the programme)."""
        t = np.asarray(t, dtype=np.float64)
        return np.where(t >= 1, self.tau_max * (1 - np.exp(-t / 4)), 0.0)

    @property
    def naive_bias(self) -> float:
        """E[α | programme] − E[α | comparison] = β · shift: the naive difference's bias in every period."""
        return self.beta * self.shift


def simulate_panel(dgp: DGP, rng: np.random.Generator) -> pd.DataFrame:
    """One replication's long panel: person_id, arm, week, weight, match_id, y."""
    n2 = 2 * dgp.n
    d = np.repeat([1, 0], dgp.n)
    x = rng.normal(np.where(d == 1, dgp.shift / 2, -dgp.shift / 2), 1.0)
    alpha = dgp.beta * x + rng.normal(0, dgp.sigma_u, n2)
    weeks = np.r_[np.arange(-dgp.pre, 0), np.arange(1, dgp.post + 1)]
    gamma = 0.05 * weeks                                         # a common trend
    y = (alpha[:, None] + gamma[None, :] + dgp.true_effect(weeks)[None, :] * d[:, None]
         + rng.normal(0, dgp.sigma_e, (n2, len(weeks))))
    ids = np.arange(n2).astype(str)
    return pd.DataFrame({"person_id": np.repeat(ids, len(weeks)),
                         "arm": np.repeat(np.where(d == 1, "programme", "comparison"), len(weeks)),
                         "week": np.tile(weeks, n2), "weight": 1.0, "match_id": np.repeat(ids, len(weeks)),
                         "y": y.ravel()})


def replicate(dgp: DGP, reps: int, seed: int = 1) -> pd.DataFrame:
    """Per replication, method and post-period: the estimate, the truth and whether the 95 % CI covers it."""
    from trialeval.design import Design
    from trialeval.effects import effects

    design = Design(kind="comparison", groups=("programme", "comparison"), reference="comparison", share=None)
    rng = np.random.default_rng(seed)
    rows = []
    for rep in range(reps):
        panel = simulate_panel(dgp, rng)
        for method, did in (("naive", None), ("did", dgp.pre)):
            t = effects(panel, "y", design=design, did=did, min_cell=0).to_frame()
            truth = dgp.true_effect(t["week"].to_numpy())
            rows.append(pd.DataFrame({"rep": rep, "method": method, "week": t["week"], "estimate": t["effect"],
                                      "truth": truth,
                                      "covered": (t["ci_low"] <= truth) & (truth <= t["ci_high"])}))
    return pd.concat(rows, ignore_index=True)


def summarise(draws: pd.DataFrame) -> pd.DataFrame:
    """Bias (mean estimate − truth, over periods and replications), its Monte Carlo SE, and CI coverage."""
    draws = draws.assign(error=draws["estimate"] - draws["truth"])
    per_rep = draws.groupby(["method", "rep"])["error"].mean()
    out = per_rep.groupby("method").agg(bias="mean", mc_se=lambda s: s.std(ddof=1) / np.sqrt(len(s)))
    out["coverage"] = draws.groupby("method")["covered"].mean()
    out["rmse"] = np.sqrt(draws.assign(sq=draws["error"] ** 2).groupby("method")["sq"].mean())
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=200)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    dgp = DGP()
    start = time.perf_counter()
    summary = summarise(replicate(dgp, args.reps, args.seed))
    print(f"{args.reps} replications, {2 * dgp.n} persons, {dgp.pre} pre- and {dgp.post} post-periods; "
          f"true naive bias {dgp.naive_bias:+.3f}; {time.perf_counter() - start:.1f} s")
    print(summary.to_string(float_format=lambda v: f"{v:+.4f}"))


if __name__ == "__main__":
    main()
