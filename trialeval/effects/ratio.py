"""Two more ways to read an effect per period: the ratio of the arms' means ("twice the hours") and the
difference in the mean among those with the outcome above zero ("hours among those who work").

Both come from per-(arm, period) sums of ``y``, ``y²`` and of the same among persons with ``y > 0``, read
from a panel file a batch at a time (memory bounded by the batch).

- **Ratio of means** ``R = ȳ_T / ȳ_C`` with a delta-method CI on the log scale:
  ``se(log R) = sqrt(s²_T / (n_T ȳ_T²) + s²_C / (n_C ȳ_C²))`` and ``R · exp(± z se)``, ``z`` the normal
  quantile (the delta method is a large-sample approximation).
- **Mean among those with the outcome > 0**: the arms' means over persons with ``y > 0`` and their
  difference with a Welch CI and p-value (Welch–Satterthwaite degrees of freedom). This is a descriptive
  comparison: who has the outcome can itself differ between the arms, so it is not an effect.

Cells with fewer than ``min_cell`` persons, or fewer than ``min_cell`` with the outcome above zero, are
suppressed (blank), as in every exported table.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from trialeval.exceptions import InputDataError

#: Sums per cell: n, Σy, Σy², and over y > 0: n, Σy, Σy².
_SUMS = 6


def _batches(path: Path, columns: list[str]) -> Iterator[pd.DataFrame]:
    """The columns of a Parquet or CSV panel, a batch at a time."""
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    suffix = path.suffix.lower()
    try:
        if suffix in (".parquet", ".pq"):
            for batch in pq.ParquetFile(path).iter_batches(columns=columns, batch_size=1 << 20):
                yield batch.to_pandas()
        elif suffix == ".csv":
            options = pacsv.ConvertOptions(include_columns=columns)
            with pacsv.open_csv(path, read_options=pacsv.ReadOptions(block_size=1 << 24),
                                convert_options=options) as reader:
                for batch in reader:
                    yield batch.to_pandas()
        else:
            raise InputDataError(f"{path}: a panel is a .parquet or .csv file")
    except (OSError, ValueError) as exc:        # pyarrow's errors derive from these
        if isinstance(exc, InputDataError):
            raise
        raise InputDataError(f"{path}: cannot read the columns {', '.join(columns)}: {exc}") from exc


def arm_sums(panel: str | os.PathLike[str] | pd.DataFrame, outcomes: Sequence[str], groups: tuple[str, str], *,
             period_column: str = "week") -> tuple[np.ndarray, np.ndarray]:
    """The periods of the panel and, per outcome, arm (programme group first) and period, the sums
    ``(outcomes, 2, periods, 6)``: n, Σy, Σy² and the same over ``y > 0``."""
    columns = [period_column, "arm", *outcomes]
    frames = [panel[columns]] if isinstance(panel, pd.DataFrame) else _batches(Path(panel), columns)
    by_period: dict[int, np.ndarray] = {}
    for frame in frames:
        arm = frame["arm"].astype(str).to_numpy()
        code = np.where(arm == groups[0], 0, np.where(arm == groups[1], 1, -1))
        if (code < 0).any():
            bad = sorted(set(arm[code < 0]))[:5]
            raise InputDataError(f"{'panel' if isinstance(panel, pd.DataFrame) else panel}: arm values "
                                 f"{', '.join(map(repr, bad))} are not the groups {groups[0]!r} and {groups[1]!r}")
        period = frame[period_column].to_numpy(dtype=np.int64)
        periods, index = np.unique(period, return_inverse=True)
        cell = code * len(periods) + index
        for p in periods:
            by_period.setdefault(int(p), np.zeros((len(outcomes), 2, _SUMS)))
        for k, name in enumerate(outcomes):
            y = frame[name].to_numpy(dtype=np.float64)
            seen = ~np.isnan(y)
            pos = seen & (y > 0)
            y0 = np.where(seen, y, 0.0)
            parts = [seen, y0, y0 * y0, pos, np.where(pos, y0, 0.0), np.where(pos, y0 * y0, 0.0)]
            sums = np.stack([np.bincount(cell, weights=v.astype(np.float64), minlength=2 * len(periods))
                             for v in parts], axis=-1).reshape(2, len(periods), _SUMS)
            for j, p in enumerate(periods):
                by_period[int(p)][k] += sums[:, j]
    keys = np.array(sorted(by_period), dtype=np.int64)
    stacked = np.stack([by_period[int(p)] for p in keys], axis=2) if len(keys) else np.zeros((len(outcomes), 2, 0, _SUMS))
    return keys, stacked


def _moments(n: np.ndarray, s1: np.ndarray, s2: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Means and sample variances (n − 1) from sums; NaN where undefined."""
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = s1 / n
        var = (s2 - n * mean * mean) / (n - 1)
    return mean, np.maximum(var, 0.0)


def ratio_and_positive(panel: str | os.PathLike[str] | pd.DataFrame, outcomes: Sequence[str], *,
                       groups: tuple[str, str] = ("treatment", "control"), alpha: float = 0.05,
                       min_cell: int = 5, period_column: str = "week") -> tuple[pd.DataFrame, pd.DataFrame]:
    """The ratio-of-means table and the mean-among-positive table, one row per outcome and period.

    Examples
    --------
    >>> panel = pd.DataFrame({"week": [1] * 12, "arm": ["treatment"] * 6 + ["control"] * 6,
    ...                       "hours": [0, 10, 20, 30, 40, 50, 0, 0, 10, 10, 20, 20]})
    >>> ratio, positive = ratio_and_positive(panel, ["hours"], min_cell=2)
    >>> ratio.loc[0, ["mean_treatment", "mean_control", "ratio"]].round(4).tolist()
    [25.0, 10.0, 2.5]
    >>> positive.loc[0, ["n_positive_treatment", "mean_positive_treatment", "mean_positive_control"]].tolist()
    [5.0, 30.0, 15.0]
    """
    from scipy.special import ndtri, stdtr, stdtrit

    periods, sums = arm_sums(panel, outcomes, groups, period_column=period_column)
    z = float(ndtri(1 - alpha / 2))
    ratio_rows, positive_rows = [], []
    for k, name in enumerate(outcomes):
        s = sums[k]                                        # (2 arms, periods, 6)
        mean, var = _moments(s[..., 0], s[..., 1], s[..., 2])
        pmean, pvar = _moments(s[..., 3], s[..., 4], s[..., 5])
        n, npos = s[..., 0], s[..., 3]
        with np.errstate(invalid="ignore", divide="ignore"):
            r = mean[0] / mean[1]
            se_log = np.sqrt(var[0] / (n[0] * mean[0] ** 2) + var[1] / (n[1] * mean[1] ** 2))
            small = (n < min_cell).any(axis=0) | (npos < min_cell).any(axis=0)
            ratio_rows.append(pd.DataFrame({
                "outcome": name, period_column: periods, "n_treatment": n[0], "n_control": n[1],
                "mean_treatment": mean[0], "mean_control": mean[1], "ratio": r, "se_log_ratio": se_log,
                "ci_low": r * np.exp(-z * se_log), "ci_high": r * np.exp(z * se_log), "suppressed": small}))
            a, b = pvar[0] / npos[0], pvar[1] / npos[1]
            diff = pmean[0] - pmean[1]
            se = np.sqrt(a + b)
            df = (a + b) ** 2 / (a ** 2 / (npos[0] - 1) + b ** 2 / (npos[1] - 1))
            t = diff / se
            q = stdtrit(df, 1 - alpha / 2)
            positive_rows.append(pd.DataFrame({
                "outcome": name, period_column: periods, "n_positive_treatment": npos[0],
                "n_positive_control": npos[1], "mean_positive_treatment": pmean[0],
                "mean_positive_control": pmean[1], "difference": diff, "se": se, "df": df,
                "ci_low": diff - q * se, "ci_high": diff + q * se, "p_value": 2 * stdtr(df, -np.abs(t)),
                "suppressed": small}))
    return _suppress(pd.concat(ratio_rows, ignore_index=True)), _suppress(pd.concat(positive_rows, ignore_index=True))


def _suppress(table: pd.DataFrame) -> pd.DataFrame:
    """Blank every number of a suppressed row but the period."""
    numbers = [c for c in table.columns if c not in ("outcome", "week", "suppressed") and table[c].dtype.kind == "f"]
    table.loc[table["suppressed"], numbers] = np.nan
    return table
