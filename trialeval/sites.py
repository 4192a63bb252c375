"""Where it worked: the effect per site and per subgroup, their spread, and tests of heterogeneity.

Per site (``by``: any column of the panel, e.g. ``municipality``) and period, the effect is the
difference in means with its Welch (HC2) standard error, t interval and p-value — the default estimator
of the effect curves, computed from the same moments. Sites too small to show (fewer than ``min_cell``
persons in an arm, or a share resting on fewer than ``min_cell`` persons with or without the outcome)
are pooled into one site ``other``; when ``other`` is itself too small it is left out and only counted.

Across the sites shown: the spread of the estimates (minimum, quartiles as R's ``quantile`` type 7,
maximum), Cochran's Q with its χ² p-value, I² = max(0, (Q − df)/Q), and the DerSimonian–Laird
random-effects pooled estimate (as R ``metafor::rma(method = "DL")``): with wᵢ = 1/vᵢ,
τ² = max(0, (Q − (k − 1)) / (Σw − Σw²/Σw)), wᵢ* = 1/(vᵢ + τ²), μ = Σwᵢ*yᵢ / Σwᵢ*, SE = (Σwᵢ*)^−½ and a
normal interval.

Per subgroup of a declared covariate, the effect likewise; the interaction test asks whether the
subgroup effects differ: the Wald χ² of the interaction terms of the fully interacted regression
``y ~ arm * subgroup`` with HC2 covariance, which for these independent subgroups is Σ wg (τg − τ̄w)² with
wg = 1/SEg², on G − 1 df. p-values are Holm-adjusted across the declared family of covariates.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from trialeval.disclosure import DEFAULT_MIN_CELL, few_persons, share_disclosive
from trialeval.effects.estimators import welch
from trialeval.effects.inference import _holm, _t_inference
from trialeval.exceptions import InputDataError
from trialeval.io import require_columns
from trialeval.stats.moments import CellMoments

#: The pooled site of the sites too small to show.
OTHER = "other"
SITE_COLUMNS = ["site", "n_treatment", "n_control", "mean_treatment", "mean_control", "effect", "se", "df",
                "ci_low", "ci_high", "p_value"]


def _cell_effects(group: np.ndarray, treated: np.ndarray, y: np.ndarray, n_groups: int, alpha: float,
                  matched: tuple[np.ndarray, np.ndarray] | None = None) -> pd.DataFrame:
    """Difference in means per group with Welch SE, df, t interval and p (the effect curves' default);
    with ``matched`` = (match_id, weight) the comparison design's weighted difference with CR2 SEs by
    matched set in each group (:func:`_matched_effects`)."""
    if matched is not None:
        return _matched_effects(group, treated, y, n_groups, alpha, *matched)
    m = CellMoments.from_values(group * 2 + treated, y, 2 * n_groups)
    t, c = m[1::2], m[0::2]
    var, df = welch(t, c)
    effect = t.mean - c.mean
    se = np.sqrt(var)
    low, high, p = _t_inference(effect, se, df, alpha)
    return pd.DataFrame({"n_treatment": t.n.astype(np.int64), "n_control": c.n.astype(np.int64),
                         "mean_treatment": t.mean, "mean_control": c.mean, "effect": effect, "se": se, "df": df,
                         "ci_low": low, "ci_high": high, "p_value": p})


def _matched_effects(group: np.ndarray, treated: np.ndarray, y: np.ndarray, n_groups: int, alpha: float,
                     match_id: np.ndarray, weight: np.ndarray) -> pd.DataFrame:
    """Per group: ``lm_robust(y ~ arm, weights, clusters = match_id, se_type = "CR2")`` on its rows
    (:func:`trialeval.comparison.weighted_difference`), weighted arm means; NaN where a group lacks an arm
    or has fewer than two matched sets. One regression per site: sites are few."""
    from trialeval.comparison import weighted_difference

    rows = []
    for g in range(n_groups):
        m = group == g
        t, c = m & (treated == 1), m & (treated == 0)
        row = {"n_treatment": int(t.sum()), "n_control": int(c.sum()),
               "mean_treatment": np.average(y[t], weights=weight[t]) if t.any() else np.nan,
               "mean_control": np.average(y[c], weights=weight[c]) if c.any() else np.nan}
        fit = (weighted_difference(y[m], treated[m], match_id[m], weight[m], alpha)
               if t.any() and c.any() and len(np.unique(match_id[m])) > 1 else None)
        row.update({"effect": fit["estimate"], "se": fit["se"], "df": fit["df"], "ci_low": fit["ci_low"],
                    "ci_high": fit["ci_high"], "p_value": fit["p_value"]} if fit is not None else
                   dict.fromkeys(("effect", "se", "df", "ci_low", "ci_high", "p_value"), np.nan))
        rows.append(row)
    return pd.DataFrame(rows, columns=["n_treatment", "n_control", "mean_treatment", "mean_control", "effect", "se",
                                       "df", "ci_low", "ci_high", "p_value"])


def _period_rows(panel: pd.DataFrame, outcome: str, period: int, period_column: str, source: str
                 ) -> pd.DataFrame:
    require_columns(panel, ["arm", period_column, outcome], source)
    rows = panel.loc[(panel[period_column] == period) & panel[outcome].notna()]
    if rows.empty:
        raise InputDataError(f"{source}: no observed values of '{outcome}' in {period_column} {period}")
    return rows


def _too_small(table: pd.DataFrame, min_cell: int, binary: bool) -> np.ndarray:
    small = few_persons(table["n_treatment"], min_cell) | few_persons(table["n_control"], min_cell)
    if binary:
        small |= share_disclosive(table["n_treatment"], table["mean_treatment"], min_cell)
        small |= share_disclosive(table["n_control"], table["mean_control"], min_cell)
    return small


@dataclass(frozen=True)
class Heterogeneity:
    """Cochran's Q, I² and the DerSimonian–Laird random-effects pooled estimate over k estimates."""

    k: int
    q: float
    df: int
    p_value: float
    i2: float
    tau2: float
    estimate: float
    se: float
    ci_low: float
    ci_high: float

    def to_dict(self) -> dict[str, float]:
        return dict(self.__dict__)


def dersimonian_laird(estimate: Sequence[float] | np.ndarray, variance: Sequence[float] | np.ndarray,
                      alpha: float = 0.05) -> Heterogeneity:
    """Q, I², τ² and the random-effects pooled estimate (``metafor::rma(yi, vi, method = "DL")``).

    Estimates with a missing or non-positive variance are left out.

    Examples
    --------
    >>> h = dersimonian_laird([0.1, 0.3, 0.2], [0.01, 0.02, 0.015])    # Q below its df: τ² = 0
    >>> round(h.q, 4), round(h.estimate, 4), h.tau2, h.i2
    (1.3846, 0.1769, 0.0, 0.0)
    >>> h = dersimonian_laird([0.1, 0.6, 0.2], [0.01, 0.02, 0.015])
    >>> round(h.q, 4), round(h.tau2, 5), round(h.estimate, 4), round(h.i2, 4)
    (8.5385, 0.04722, 0.2868, 0.7658)
    """
    y = np.asarray(estimate, dtype=float)
    v = np.asarray(variance, dtype=float)
    ok = np.isfinite(y) & np.isfinite(v) & (v > 0)
    y, v = y[ok], v[ok]
    k = len(y)
    if k < 2:
        nan = float("nan")
        return Heterogeneity(k, nan, max(k - 1, 0), nan, nan, nan, nan, nan, nan, nan)
    w = 1 / v
    fixed = np.sum(w * y) / np.sum(w)
    q = float(np.sum(w * (y - fixed) ** 2))
    df = k - 1
    tau2 = max(0.0, (q - df) / (np.sum(w) - np.sum(w * w) / np.sum(w)))
    ws = 1 / (v + tau2)
    mu = float(np.sum(ws * y) / np.sum(ws))
    se = float(np.sqrt(1 / np.sum(ws)))
    z = stats.norm.ppf(1 - alpha / 2)
    i2 = max(0.0, (q - df) / q) if q > 0 else 0.0
    return Heterogeneity(k, q, df, float(stats.chi2.sf(q, df)), i2, float(tau2), mu, se, mu - z * se, mu + z * se)


@dataclass(frozen=True, eq=False)
class SiteResult:
    """The effect per site at one period, with the spread and the heterogeneity across sites."""

    outcome: str
    period: int
    by: str
    table: pd.DataFrame
    pooled: pd.Series
    heterogeneity: Heterogeneity
    n_hidden: int
    settings: dict[str, Any] = field(default_factory=dict)

    @property
    def spread(self) -> dict[str, float]:
        """Minimum, quartiles (R's type 7) and maximum of the site estimates shown."""
        e = self.table["effect"].dropna().to_numpy()
        if len(e) == 0:
            return {k: float("nan") for k in ("min", "q1", "median", "q3", "max")}
        q = np.quantile(e, [0, 0.25, 0.5, 0.75, 1])
        return dict(zip(("min", "q1", "median", "q3", "max"), map(float, q)))

    def summary(self, lang: str = "en") -> str:
        """Spread of the site effects, the pooled effect and the heterogeneity; numbers in ``lang``."""
        from trialeval._console import check, fmt, p

        check(lang)
        h, s = self.heterogeneity, self.spread

        def e(v: Any) -> str:
            return fmt(v, ".3f", lang, "estimate")

        hidden = f"; {self.n_hidden} small site(s) could not be shown even pooled" if self.n_hidden else ""
        return (f"{self.outcome}, period {self.period}: {len(self.table)} sites by {self.by}{hidden}. "
                f"Effects from {e(s['min'])} to {e(s['max'])} (quartiles {e(s['q1'])}, {e(s['median'])}, "
                f"{e(s['q3'])}); pooled {e(self.pooled['effect'])}. Q = {fmt(h.q, '.2f', lang)} on {h.df} df "
                f"(p = {p(h.p_value, lang)}), I² = {fmt(100 * h.i2, '.0f', lang)} %, random-effects "
                f"{e(h.estimate)} [{e(h.ci_low)}; {e(h.ci_high)}]")

    def tidy(self) -> pd.DataFrame:
        """One row per site (then the pooled and random-effects rows) in the broom sense: ``term`` (the
        site), ``period``, ``estimate``, ``std_error``, ``statistic``, ``conf_low``, ``conf_high`` and the
        other columns of :meth:`export_frame` (small sites as exported)."""
        return _tidy(self.export_frame().rename(columns={"site": "term"}), self.period)

    def _repr_html_(self) -> str:
        """The exported site table (small sites pooled or hidden) under the summary."""
        import html

        return f"<p>{html.escape(self.summary())}</p>" + self.export_frame().to_html(index=False, na_rep="·")

    def export_frame(self) -> pd.DataFrame:
        """The site table with the pooled and the random-effects rows under it."""
        h = self.heterogeneity
        pooled = pd.DataFrame([{"site": "all (pooled persons)", **self.pooled.to_dict()}])
        random = pd.DataFrame([{"site": "random effects (DerSimonian–Laird)", "effect": h.estimate, "se": h.se,
                                "ci_low": h.ci_low, "ci_high": h.ci_high}])
        out = pd.concat([self.table, pooled, random], ignore_index=True)[SITE_COLUMNS]
        out.insert(0, "period", self.period)
        out.insert(0, "outcome", self.outcome)
        return out

    def plot(self, ax: Any = None, *, lang: str = "en") -> Any:
        """Caterpillar plot: sites ordered by estimate with their CIs, the pooled estimate as a line."""
        from trialeval.site_plots import caterpillar_plot

        return caterpillar_plot(self, ax=ax, lang=lang)


def site_effects(panel: pd.DataFrame, by: str, outcome: str, period: int, *, period_column: str = "week",
                 alpha: float = 0.05, min_cell: int = DEFAULT_MIN_CELL, source: str = "panel") -> SiteResult:
    """The effect of ``outcome`` at ``period`` per value of ``by``, small sites pooled into ``other``.

    Examples
    --------
    >>> rng = np.random.default_rng(1)
    >>> p = pd.DataFrame({"site": np.repeat(list("ABCD"), 50), "arm": np.tile(["treatment", "control"], 100),
    ...                   "week": 1, "y": rng.normal(size=200)})
    >>> r = site_effects(p, "site", "y", 1)
    >>> r.table["site"].tolist(), r.heterogeneity.k
    (['A', 'B', 'C', 'D'], 4)
    """
    require_columns(panel, [by], source)
    rows = _period_rows(panel, outcome, period, period_column, source)
    treated = (rows["arm"] == "treatment").to_numpy().astype(np.int64)
    y = rows[outcome].to_numpy(dtype=np.float64)
    matched = ((rows["match_id"].to_numpy(), rows["weight"].to_numpy(dtype=np.float64)
                if "weight" in rows.columns else np.ones(len(rows))) if "match_id" in rows.columns else None)
    binary = bool(np.isin(y, (0.0, 1.0)).all())
    codes, sites = pd.factorize(rows[by].astype(str), sort=True)
    table = _cell_effects(codes, treated, y, len(sites), alpha, matched)
    table.insert(0, "site", list(sites))
    small = _too_small(table, min_cell, binary)
    n_hidden = 0
    if small.any():
        in_small = small[codes]
        other = _cell_effects(np.zeros(int(in_small.sum()), dtype=np.int64), treated[in_small], y[in_small], 1, alpha,
                              None if matched is None else (matched[0][in_small], matched[1][in_small]))
        other.insert(0, "site", OTHER)
        table = table.loc[~small]
        if _too_small(other, min_cell, binary)[0]:
            n_hidden = int(small.sum())
        else:
            table = pd.concat([table, other], ignore_index=True)
    table = table.reset_index(drop=True)
    pooled = _cell_effects(np.zeros(len(y), dtype=np.int64), treated, y, 1, alpha, matched).iloc[0]
    h = dersimonian_laird(table["effect"], table["se"] ** 2, alpha)
    settings = {"by": by, "outcome": outcome, "period": period, "alpha": alpha, "min_cell": min_cell}
    return SiteResult(outcome, period, by, table, pooled, h, n_hidden, settings)


@dataclass(frozen=True, eq=False)
class SubgroupResult:
    """Effects per subgroup of each declared covariate, with interaction tests Holm-adjusted across them."""

    outcome: str
    period: int
    table: pd.DataFrame
    tests: pd.DataFrame

    def summary(self, lang: str = "en") -> str:
        """The interaction test of each covariate (Holm-adjusted); numbers in ``lang``."""
        from trialeval._console import check, fmt, p

        check(lang)
        lines = [f"{self.outcome}, period {self.period}: effects by subgroup"]
        for r in self.tests.itertuples(index=False):
            if r.df < 1:
                lines.append(f"  {r.covariate}: fewer than two subgroups large enough to show; no test")
                continue
            lines.append(f"  {r.covariate}: interaction χ² = {fmt(r.chi2, '.2f', lang)} on {r.df} df, "
                         f"p = {p(r.p_value, lang)} (Holm {p(r.p_holm, lang)})")
        return "\n".join(lines)

    def tidy(self) -> pd.DataFrame:
        """One row per subgroup in the broom sense: ``term`` (covariate=level), ``period``, ``estimate``,
        ``std_error``, ``statistic``, ``conf_low``, ``conf_high`` and the table's other columns (subgroups
        too small to show are not in the table)."""
        t = self.table.copy()
        t.insert(0, "term", t["covariate"].astype(str) + "=" + t["subgroup"].astype(str))
        return _tidy(t, self.period)

    def _repr_html_(self) -> str:
        """The subgroup table and the interaction tests."""
        import html

        return (f"<p>{html.escape(self.outcome)}, period {self.period}: effects by subgroup</p>"
                + self.table.to_html(index=False, na_rep="·") + self.tests.to_html(index=False, na_rep="·"))

    def plot(self, ax: Any = None, *, lang: str = "en") -> Any:
        """Forest plot of the subgroup effects."""
        from trialeval.site_plots import forest_plot

        return forest_plot(self, ax=ax, lang=lang)


def subgroup_effects(panel: pd.DataFrame, covariates: Sequence[str], outcome: str, period: int, *,
                     period_column: str = "week", alpha: float = 0.05, min_cell: int = DEFAULT_MIN_CELL,
                     source: str = "panel") -> SubgroupResult:
    """The effect per subgroup of each covariate (a column of the panel: text, 0/1 or a band) and the
    interaction test of each, Holm-adjusted across ``covariates``.

    Subgroups too small to show (as sites) are left out of the table and of the test, and counted.
    """
    rows = _period_rows(panel, outcome, period, period_column, source)
    require_columns(rows, list(covariates), source)
    treated = (rows["arm"] == "treatment").to_numpy().astype(np.int64)
    y = rows[outcome].to_numpy(dtype=np.float64)
    binary = bool(np.isin(y, (0.0, 1.0)).all())
    tables, tests = [], []
    for covariate in covariates:
        codes, levels = pd.factorize(rows[covariate].astype("string").fillna("(missing)"), sort=True)
        t = _cell_effects(codes, treated, y, len(levels), alpha)
        t.insert(0, "subgroup", list(levels))
        t.insert(0, "covariate", covariate)
        shown = t.loc[~_too_small(t, min_cell, binary)]
        tables.append(shown)
        ok = shown["se"].gt(0) & shown["effect"].notna()
        e, w = shown.loc[ok, "effect"].to_numpy(), 1 / shown.loc[ok, "se"].to_numpy() ** 2
        df = int(ok.sum()) - 1
        chi2 = float(np.sum(w * (e - np.sum(w * e) / np.sum(w)) ** 2)) if df > 0 else float("nan")
        tests.append({"covariate": covariate, "groups": int(ok.sum()), "chi2": chi2, "df": df,
                      "p_value": float(stats.chi2.sf(chi2, df)) if df > 0 else float("nan"),
                      "n_hidden": int(len(t) - len(shown))})
    test = pd.DataFrame(tests)
    test["p_holm"] = _holm(test["p_value"].to_numpy(dtype=float))
    return SubgroupResult(outcome, period, pd.concat(tables, ignore_index=True), test)


def sites_tables(panel: pd.DataFrame, by: str, outcomes: Sequence[str], periods: Sequence[int], *,
                 period_column: str = "week", alpha: float = 0.05, min_cell: int = DEFAULT_MIN_CELL,
                 source: str = "panel") -> tuple[pd.DataFrame, pd.DataFrame, list[SiteResult]]:
    """:func:`site_effects` for every outcome and period: the site rows (with the pooled and random-effects
    rows), one heterogeneity row per outcome and period (Q, I², τ², the spread), and the results."""
    results = [site_effects(panel, by, outcome, int(period), period_column=period_column, alpha=alpha,
                            min_cell=min_cell, source=source)
               for outcome in outcomes for period in periods]
    rows = pd.concat([r.export_frame() for r in results], ignore_index=True).rename(columns={"period": period_column})
    het = pd.DataFrame([{"outcome": r.outcome, period_column: r.period, "sites": len(r.table),
                         "sites_not_shown": r.n_hidden, **{k: v for k, v in r.heterogeneity.to_dict().items()
                                                           if k != "k"},
                         **{f"spread_{k}": v for k, v in r.spread.items()}} for r in results])
    return rows, het, results


def subgroup_tables(panel: pd.DataFrame, covariates: Sequence[str], outcomes: Sequence[str],
                    periods: Sequence[int], *, period_column: str = "week", alpha: float = 0.05,
                    min_cell: int = DEFAULT_MIN_CELL, source: str = "panel"
                    ) -> tuple[pd.DataFrame, pd.DataFrame, list[SubgroupResult]]:
    """:func:`subgroup_effects` for every outcome and period: the subgroup rows and the interaction tests."""
    results = [subgroup_effects(panel, covariates, outcome, int(period), period_column=period_column, alpha=alpha,
                                min_cell=min_cell, source=source)
               for outcome in outcomes for period in periods]
    rows = pd.concat([r.table.assign(outcome=r.outcome, **{period_column: r.period}) for r in results],
                     ignore_index=True)
    tests = pd.concat([r.tests.assign(outcome=r.outcome, **{period_column: r.period}) for r in results],
                      ignore_index=True)
    first = ["outcome", period_column]
    return (rows[first + [c for c in rows.columns if c not in first]],
            tests[first + [c for c in tests.columns if c not in first]], results)


def _tidy(t: pd.DataFrame, period: int) -> pd.DataFrame:
    """``t`` with broom's column names: effect → estimate, se → std_error, ci_* → conf_*, a statistic."""
    out = t.rename(columns={"effect": "estimate", "se": "std_error", "ci_low": "conf_low", "ci_high": "conf_high"})
    out = out.drop(columns=[c for c in ("outcome",) if c in out])
    if "period" not in out:
        out.insert(1, "period", period)
    out = out[["term", "period"] + [c for c in out.columns if c not in ("term", "period")]]
    if {"estimate", "std_error"} <= set(out.columns):
        out.insert(list(out.columns).index("std_error") + 1, "statistic", out["estimate"] / out["std_error"])
    return out.reset_index(drop=True)
