"""Balance of a comparison design, before and after matching or weighting, as R's ``cobalt`` defines it.

For each covariate (a categorical one as one 0/1 column per level):

- **means** by group, weighted after matching (Σ wx / Σ w);
- **standardised mean difference** of a continuous covariate: the difference in (weighted) means divided
  by the standard deviation of the programme group in the sample *before* matching (``s.d.denom =
  "treated"``, the estimand being the effect on the programme group), so before and after are on one scale;
  a 0/1 covariate shows the raw difference in proportions (``binary = "raw"``);
- **variance ratio** (programme / comparison) of a continuous covariate, with weighted variances
  Σw(x − m)² · Σw / ((Σw)² − Σw²) (unbiased for frequency-like weights; the ordinary variance when all
  weights are 1);
- a flag where |SMD| > 0.1 after matching.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from trialeval.exceptions import InputDataError

#: |SMD| above which a covariate is flagged after matching.
SMD_FLAG = 0.1
COLUMNS = ["covariate", "binary", "mean_programme_before", "mean_comparison_before", "smd_before",
           "variance_ratio_before", "mean_programme_after", "mean_comparison_after", "smd_after",
           "variance_ratio_after", "flag"]


def weighted_mean(x: np.ndarray, w: np.ndarray) -> float:
    return float(np.sum(w * x) / np.sum(w))


def weighted_variance(x: np.ndarray, w: np.ndarray) -> float:
    """Σw(x − m)² · Σw / ((Σw)² − Σw²): the sample variance when every weight is 1.

    Examples
    --------
    >>> x = np.array([1.0, 2.0, 4.0])
    >>> bool(np.isclose(weighted_variance(x, np.ones(3)), np.var(x, ddof=1)))
    True
    """
    sw = np.sum(w)
    m = np.sum(w * x) / sw
    denominator = float(sw * sw - np.sum(w * w))
    return float(np.sum(w * (x - m) ** 2) * sw / denominator) if denominator > 0 else float("nan")


def _columns(data: pd.DataFrame, covariates: Sequence[str]) -> dict[str, np.ndarray]:
    out: dict[str, np.ndarray] = {}
    for name in covariates:
        s = data[name]
        if s.isna().any():
            raise InputDataError(f"column '{name}' has missing values; balance before and after needs all")
        if s.dtype == bool or pd.api.types.is_numeric_dtype(s):
            out[name] = s.to_numpy(dtype=np.float64)
        else:
            for level in sorted(s.astype(str).unique()):
                out[f"{name}_{level}"] = (s.astype(str) == level).to_numpy(dtype=np.float64)
    return out


@dataclass(frozen=True, eq=False)
class WeightedBalance:
    """The table before and after, and whether every |SMD| after is within the flag threshold."""

    table: pd.DataFrame

    @property
    def balanced(self) -> bool:
        return not self.table["flag"].astype(bool).any()

    def _repr_html_(self) -> str:
        """A compact view for notebooks: the summary (and the table, when there is one)."""
        from trialeval._console import summary_html

        return summary_html(self)

    def summary(self) -> str:
        flagged = self.table.loc[self.table["flag"].astype(bool), "covariate"].tolist()
        worst = self.table["smd_after"].abs().max()
        text = f"Largest |SMD| after matching {worst:.3f} over {len(self.table)} covariate columns"
        return text + (f"; above {SMD_FLAG}: {', '.join(flagged)}" if flagged else f"; none above {SMD_FLAG}")

    def plot(self, ax: Any = None, *, lang: str = "en") -> Any:
        """Love plot with the SMDs before and after."""
        from trialeval.site_plots import love_before_after

        return love_before_after(self, ax=ax, lang=lang)


def balance_before_after(before: pd.DataFrame, after: pd.DataFrame, covariates: Sequence[str], *,
                         programme: np.ndarray, programme_after: np.ndarray,
                         weights_after: np.ndarray | None = None) -> WeightedBalance:
    """Balance of ``covariates`` in the sample before matching (unweighted) and after (``weights_after``).

    ``programme`` / ``programme_after`` mark the programme rows of ``before`` / ``after``.

    Examples
    --------
    >>> before = pd.DataFrame({"age": [30.0, 40, 50, 20, 25, 60, 35]})
    >>> t = np.array([1, 1, 1, 0, 0, 0, 0], dtype=bool)
    >>> after = before.iloc[[0, 1, 2, 4, 5, 6]]
    >>> b = balance_before_after(before, after, ["age"], programme=t, programme_after=t[[0, 1, 2, 4, 5, 6]])
    >>> b.table[["smd_before", "smd_after"]].round(4).values.tolist()
    [[0.5, 0.0]]
    """
    programme = np.asarray(programme, dtype=bool)
    programme_after = np.asarray(programme_after, dtype=bool)
    w_after = np.ones(len(after)) if weights_after is None else np.asarray(weights_after, dtype=np.float64)
    cols_before, cols_after = _columns(before, covariates), _columns(after, covariates)
    rows = []
    for name, x in cols_before.items():
        xa = cols_after.get(name, np.zeros(len(after)))
        binary = bool(np.isin(x, (0.0, 1.0)).all())
        sd = 1.0 if binary else float(np.std(x[programme], ddof=1))
        ones = np.ones(len(x))
        row: dict[str, Any] = {"covariate": name, "binary": binary}
        for when, data, t, w in (("before", x, programme, ones), ("after", xa, programme_after, w_after)):
            m1, m0 = weighted_mean(data[t], w[t]), weighted_mean(data[~t], w[~t])
            row[f"mean_programme_{when}"], row[f"mean_comparison_{when}"] = m1, m0
            row[f"smd_{when}"] = (m1 - m0) / sd if sd > 0 else np.nan
            v1, v0 = (np.nan, np.nan) if binary else (weighted_variance(data[t], w[t]),
                                                       weighted_variance(data[~t], w[~t]))
            row[f"variance_ratio_{when}"] = v1 / v0 if v0 > 0 else np.nan   # NaN also when v0 is NaN
        row["flag"] = "|SMD| > 0.1" if abs(row["smd_after"]) > SMD_FLAG else ""
        rows.append(row)
    return WeightedBalance(pd.DataFrame(rows, columns=COLUMNS))
