"""What goes with a site's result, and who gets there: regressions with HC2 standard errors.

**Site level** (``trialeval explain``): a result per site — the programme group's share at a period, its
change between two periods, or the site's effect — regressed on site factors from a file (fidelity,
caseworker beliefs, size), by OLS or, with weights (e.g. the site's number of persons), WLS. Standard
errors are HC2 and intervals and p-values use the t distribution on n − k df, as R's
``estimatr::lm_robust(se_type = "HC2")``; R² is ``lm``'s. The scatter shows the fitted line and its
equation (``y = 0.0514x + 0.5811, R² = 0.078``).

**Person level**: an outcome at a period (or ever by a period) regressed on background covariates (0/1
and categorical: each level against the first, sorted, as R's treatment contrasts), HC2. These are
associations among the persons followed, not effects: the table says so.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

from trialeval.disclosure import DEFAULT_MIN_CELL, few_persons
from trialeval.exceptions import InputDataError
from trialeval.io import require_columns

Measure = Literal["share", "change", "effect"]
#: What a person-level table says under it.
ASSOCIATION_CAVEAT = ("These are associations among the persons followed, not effects of the covariates: "
                      "persons differ in more than the covariates shown.")
COEF_COLUMNS = ["term", "estimate", "se", "t", "df", "p_value", "ci_low", "ci_high"]


@dataclass(frozen=True, eq=False)
class Regression:
    """An OLS/WLS fit with HC2 standard errors."""

    response: str
    table: pd.DataFrame
    r2: float
    n: int
    data: pd.DataFrame
    weights: str | None = None
    caveat: str = ""
    settings: dict[str, Any] = field(default_factory=dict)

    def equation(self, digits: int = 4) -> str:
        """``y = 0.0514x + 0.5811, R² = 0.078`` for a regression on one factor."""
        est = dict(zip(self.table["term"], self.table["estimate"]))
        slopes = [t for t in self.table["term"] if t != "(Intercept)"]
        body = " + ".join(f"{est[t]:.{digits}f}{'x' if len(slopes) == 1 else '·' + t}" for t in slopes)
        return f"y = {body} + {est['(Intercept)']:.{digits}f}, R² = {self.r2:.3f}".replace("+ -", "− ")

    def summary(self, lang: str = "en") -> str:
        """The coefficients with HC2 standard errors and p-values, and R²; numbers in ``lang``."""
        from trialeval._console import check, fmt, p

        check(lang)
        rows = "\n".join(f"  {r.term:<24} {fmt(r.estimate, '.4f', lang):>10}  SE {fmt(r.se, '.4f', lang)}  "
                         f"p {p(r.p_value, lang)}"
                         for r in self.table.itertuples(index=False))
        head = (f"{self.response} on {', '.join(t for t in self.table['term'] if t != '(Intercept)')} "
                f"(n = {fmt(self.n, '', lang, 'count')}, HC2)")
        return "\n".join(filter(None, [head, rows, f"  R² = {fmt(self.r2, '.3f', lang)}", self.caveat]))

    def tidy(self) -> pd.DataFrame:
        """One row per term in the broom / pyfixest sense: ``term, estimate, std_error, statistic, df,
        p_value, conf_low, conf_high, n``."""
        t = self.table
        return pd.DataFrame({"term": t["term"], "estimate": t["estimate"], "std_error": t["se"],
                             "statistic": t["t"], "df": t["df"], "p_value": t["p_value"],
                             "conf_low": t["ci_low"], "conf_high": t["ci_high"], "n": self.n}).reset_index(drop=True)

    def _repr_html_(self) -> str:
        """The coefficient table (sites or persons with fewer than the minimum cell size are already left
        out of the fit)."""
        import html

        return (f"<p>{html.escape(self.response)} (n = {self.n:,}, HC2), R² = {self.r2:.3f}</p>"
                + self.tidy().to_html(index=False, float_format=lambda v: f"{v:.4f}"))

    def export_frame(self) -> pd.DataFrame:
        """The coefficient table with the fit's n and R² (and the caveat, when there is one) in every row."""
        out = self.table.assign(n=self.n, r2=self.r2)
        return out.assign(note=self.caveat) if self.caveat else out

    def plot(self, ax: Any = None, *, lang: str = "en") -> Any:
        """Scatter of the response on the one factor, with the fitted line and its equation."""
        from trialeval.site_plots import regression_scatter

        return regression_scatter(self, ax=ax, lang=lang)


def hc2_regression(data: pd.DataFrame, response: str, terms: Sequence[str], *, weights: str | None = None,
                   alpha: float = 0.05, source: str = "data") -> Regression:
    """OLS (WLS with ``weights``) of ``response`` on ``terms`` plus an intercept, HC2 covariance.

    Categorical (text) terms become one 0/1 column per level but the first (sorted).

    Examples
    --------
    >>> d = pd.DataFrame({"y": [1.0, 2.0, 2.5, 4.0, 5.5], "x": [1.0, 2.0, 3.0, 4.0, 5.0]})
    >>> fit = hc2_regression(d, "y", ["x"])
    >>> fit.table["estimate"].round(4).tolist(), round(fit.r2, 4), fit.equation()
    ([-0.3, 1.1], 0.968, 'y = 1.1000x − 0.3000, R² = 0.968')
    """
    import statsmodels.api as sm
    from scipy import stats

    require_columns(data, [response, *terms, *([weights] if weights else [])], source)
    frame = data[[response, *terms, *([weights] if weights else [])]].dropna()
    if len(frame) < len(terms) + 2:
        raise InputDataError(f"{source}: {len(frame)} complete rows is too few to regress '{response}' "
                             f"on {len(terms)} term(s)")
    X = _design(frame, terms, source)
    y = pd.to_numeric(frame[response], errors="coerce")
    if y.isna().any():
        raise InputDataError(f"{source}: column '{response}' must be numeric")
    if np.linalg.matrix_rank(X.to_numpy(float)) < X.shape[1]:
        raise InputDataError(f"{source}: the terms {', '.join(terms)} are collinear (or a column is constant); "
                             "drop one")
    if weights is not None:
        w = pd.to_numeric(frame[weights], errors="coerce")
        if w.isna().any() or (w <= 0).any():
            raise InputDataError(f"{source}: column '{weights}' (weights) must be positive numbers")
        model = sm.WLS(y.to_numpy(float), X.to_numpy(float), weights=w.to_numpy(float))
    else:
        model = sm.OLS(y.to_numpy(float), X.to_numpy(float))
    fit = model.fit(cov_type="HC2", use_t=True)
    r2 = float(fit.rsquared)
    df = float(fit.df_resid)
    se = np.sqrt(np.diag(fit.cov_params()))
    est = np.asarray(fit.params)
    crit = stats.t.ppf(1 - alpha / 2, df)
    table = pd.DataFrame({"term": X.columns, "estimate": est, "se": se, "t": est / se, "df": df,
                          "p_value": 2 * stats.t.sf(np.abs(est / se), df),
                          "ci_low": est - crit * se, "ci_high": est + crit * se})
    return Regression(response, table, r2, len(frame), frame, weights)


def _design(frame: pd.DataFrame, terms: Sequence[str], source: str) -> pd.DataFrame:
    cols: dict[str, np.ndarray] = {"(Intercept)": np.ones(len(frame))}
    for term in terms:
        s = frame[term]
        if s.dtype == bool or pd.api.types.is_numeric_dtype(s):
            cols[term] = s.to_numpy(dtype=float)
            continue
        levels = sorted(s.astype(str).unique())
        if len(levels) < 2:
            raise InputDataError(f"{source}: column '{term}' has one value only ({levels[0]!r}); it explains nothing")
        for level in levels[1:]:
            cols[f"{term}{level}"] = (s.astype(str) == level).to_numpy(dtype=float)
    return pd.DataFrame(cols, index=frame.index)


def site_measure(panel: pd.DataFrame, by: str, outcome: str, period: int, *, measure: Measure = "share",
                 from_period: int | None = None, period_column: str = "week", min_cell: int = DEFAULT_MIN_CELL,
                 source: str = "panel") -> pd.DataFrame:
    """One result per site: ``by, n, <measure>``; sites with fewer than ``min_cell`` persons left out.

    ``share``: the programme group's mean of ``outcome`` at ``period``; ``change``: that mean at
    ``period`` minus at ``from_period``; ``effect``: the site's difference in means at ``period``.
    """
    require_columns(panel, ["arm", by, period_column, outcome], source)
    if measure == "change" and from_period is None:
        raise InputDataError("a change between periods needs the earlier period (--from-week)")
    observed = panel.loc[panel[outcome].notna()]
    at = observed.loc[observed[period_column] == period]
    programme = at.loc[at["arm"] == "treatment"].groupby(by)[outcome]
    if measure == "share":
        out = pd.DataFrame({"n": programme.size(), "share": programme.mean()})
    elif measure == "change":
        before = observed.loc[(observed[period_column] == from_period) & (observed["arm"] == "treatment")]
        out = pd.DataFrame({"n": programme.size(),
                            "change": programme.mean() - before.groupby(by)[outcome].mean()})
    elif measure == "effect":
        control = at.loc[at["arm"] == "control"].groupby(by)[outcome]
        out = pd.DataFrame({"n": programme.size() + control.size().reindex(programme.size().index, fill_value=0),
                            "n_control": control.size(),
                            "effect": programme.mean() - control.mean()})
        out = out.loc[~few_persons(out["n_control"].fillna(0), min_cell)].drop(columns="n_control")
    else:
        raise InputDataError(f"measure must be share, change or effect; got {measure!r}")
    out = out.loc[~few_persons(out["n"], min_cell)].dropna()
    return out.reset_index().rename(columns={"index": by})


def person_regression(panel: pd.DataFrame, outcome: str, period: int, covariates: Sequence[str], *,
                      ever: bool = False, period_column: str = "week", min_cell: int = DEFAULT_MIN_CELL,
                      source: str = "panel") -> Regression:
    """``outcome`` at ``period`` (or, with ``ever``, 1 if it was positive in any period from 1 up to it) on
    background covariates, HC2; the caveat that these are associations comes with it.

    The persons are those with an observed ``outcome`` at ``period`` (followed to it). Covariates are taken
    from each person's row at ``period``. A 0/1 term (a 0/1 covariate or a level of a categorical one) that
    fewer than ``min_cell`` persons have, or lack, is suppressed: its numbers are blank and ``suppressed``
    is true. ``persons`` is the number with the term.
    """
    require_columns(panel, ["person_id", period_column, outcome, *covariates], source)
    at = panel.loc[(panel[period_column] == period) & panel[outcome].notna(), ["person_id", outcome, *covariates]]
    if ever:
        window = panel.loc[(panel[period_column] >= 1) & (panel[period_column] <= period)
                           & panel["person_id"].isin(at["person_id"])]
        reached = (window[outcome] > 0).groupby(window["person_id"]).any().astype(float)
        at = at.assign(**{outcome: at["person_id"].map(reached).to_numpy()})
    fit = hc2_regression(at, outcome, covariates, source=source)
    table = _suppress_terms(fit.table, fit.data, covariates, min_cell)
    return Regression(fit.response, table, fit.r2, fit.n, fit.data, None, ASSOCIATION_CAVEAT,
                      {"period": period, "ever": ever, "min_cell": min_cell})


def _suppress_terms(table: pd.DataFrame, data: pd.DataFrame, covariates: Sequence[str], min_cell: int
                    ) -> pd.DataFrame:
    """Blank the 0/1 terms that fewer than ``min_cell`` persons have or lack; add ``persons`` per term."""
    design = _design(data, covariates, "data")
    binary = design.isin([0.0, 1.0]).all() & (design.columns != "(Intercept)")
    persons = design.sum().where(binary)
    small = binary & (few_persons(persons, min_cell) | few_persons(len(design) - persons, min_cell))
    out = table.assign(persons=table["term"].map(persons).to_numpy(),
                       suppressed=table["term"].map(small).fillna(False).to_numpy(dtype=bool))
    numbers = ["estimate", "se", "t", "p_value", "ci_low", "ci_high", "persons"]
    out.loc[out["suppressed"], numbers] = np.nan
    return out
