"""Covariates as regressors and the omnibus F-test of joint orthogonality, for :mod:`trialeval.balance`.

Each covariate is continuous, binary or categorical (see :mod:`trialeval.balance`); the omnibus test
regresses the treatment indicator on all of them and its randomisation-inference p-value permutes the
arms within the randomisation blocks. The public names are also importable from :mod:`trialeval.balance`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy import stats

from trialeval.design import Design
from trialeval.disclosure import small_count
from trialeval.exceptions import InputDataError
from trialeval.io import require_columns
from trialeval.progress import tick

Kind = Literal["continuous", "binary", "categorical"]

#: Columns of ``balance_omnibus.csv``: the five test columns, then the Monte-Carlo SE and the sample used.
OMNIBUS_COLUMNS = (
    "test", "statistic", "df1", "df2", "p_value", "mc_se", "draws", "n_used", "n_dropped", "note",
)
_DEFAULT_BLOCKS = ("wave", "municipality", "stratum")
_CHUNK = 250  # permutations per matrix product; bounds memory at ~ 250 × n doubles


_TRUE = {"true": 1.0, "false": 0.0}


def _kind(s: pd.Series, forced_categorical: bool, source: str) -> Kind:
    """Continuous, binary or categorical (see the module docstring)."""
    if forced_categorical:
        return "categorical"
    if pd.api.types.is_datetime64_any_dtype(s) or pd.api.types.is_timedelta64_dtype(s):
        raise InputDataError(f"{source}: covariate '{s.name}' holds dates; give a number (e.g. days) instead")
    if pd.api.types.is_bool_dtype(s):
        return "binary"
    if isinstance(s.dtype, pd.CategoricalDtype):
        return "categorical"
    values = s.dropna()
    if pd.api.types.is_numeric_dtype(s):
        return "binary" if len(values) and values.isin((0, 1)).all() else "continuous"
    if len(values) and values.map(lambda v: isinstance(v, (bool, np.bool_))
                                  or str(v).strip().lower() in _TRUE).all():
        return "binary"
    return "categorical"


def _binary_values(s: pd.Series) -> tuple[np.ndarray, str]:
    """0/1 floats with NaN for missing, and the label of the level reported (``1`` or ``true``)."""
    if pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s):
        return pd.to_numeric(s).to_numpy(dtype=float), "1"
    out = s.map(lambda v: np.nan if v is None or v is pd.NA or (isinstance(v, float) and math.isnan(v))
                else (1.0 if v is True or v is np.True_ or str(v).strip().lower() == "true" else 0.0))
    return out.to_numpy(dtype=float), "true"


def _levels(s: pd.Series) -> tuple[np.ndarray, list[str]]:
    """Integer codes (−1 = missing) and level labels; categories keep their order, text is sorted."""
    if isinstance(s.dtype, pd.CategoricalDtype):
        cat = s.cat.remove_unused_categories()
        return cat.cat.codes.to_numpy(), [str(c) for c in cat.cat.categories]
    text = s.astype(object).where(s.notna(), None).map(lambda v: None if v is None else str(v))
    labels = sorted(set(text.dropna()))
    codes = pd.Categorical(text, categories=labels).codes
    return np.asarray(codes), labels



def _block_columns(ledger: pd.DataFrame, strata: str | Sequence[str] | None, source: str) -> list[str]:
    if strata is None:
        return [c for c in _DEFAULT_BLOCKS if c in ledger.columns]
    cols = [strata] if isinstance(strata, str) else list(strata)
    require_columns(ledger, cols, source)
    return cols


def design_matrix(df: pd.DataFrame, kinds: Mapping[str, str]) -> tuple[np.ndarray, list[str], list[str]]:
    """The covariates as regressors: continuous and binary as one column, categoricals as dummies
    (all levels but the first). Missing values stay NaN. Returns the matrix, its column names and the
    covariates left out because they are entirely missing.

    Examples
    --------
    >>> import pandas as pd
    >>> X, names, skipped = design_matrix(pd.DataFrame({"a": [1.0, 2.0], "g": ["x", "y"]}),
    ...                                   {"a": "continuous", "g": "categorical"})
    >>> X.tolist(), names
    ([[1.0, 0.0], [2.0, 1.0]], ['a', 'g[y]'])
    """
    columns, names, skipped = [], [], []
    for name, kind in kinds.items():
        s = df[name]
        if s.isna().all():
            skipped.append(name)
            continue
        if kind == "continuous":
            columns.append(pd.to_numeric(s, errors="coerce").to_numpy(dtype=float))
            names.append(name)
        elif kind == "binary":
            columns.append(_binary_values(s)[0])
            names.append(name)
        else:
            codes, labels = _levels(s)
            for j in range(1, len(labels)):
                columns.append(np.where(codes < 0, np.nan, (codes == j).astype(float)))
                names.append(f"{name}[{labels[j]}]")
    X = np.column_stack(columns) if columns else np.empty((len(df), 0))
    return X, names, skipped


def _group_demean(A: np.ndarray, groups: np.ndarray, n_groups: int) -> np.ndarray:
    sizes = np.bincount(groups, minlength=n_groups).astype(float)
    if A.ndim == 1:
        return A - (np.bincount(groups, weights=A, minlength=n_groups) / sizes)[groups]
    means = np.stack([np.bincount(groups, weights=A[:, j], minlength=n_groups) for j in range(A.shape[1])],
                     axis=1) / sizes[:, None]
    return A - means[groups]


def _column_basis(X: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Orthonormal basis of the column space of X (rank-revealing, like R's aliasing in ``lm``).

    Columns whose norm collapsed relative to ``reference`` (the same column before demeaning) are
    aliased with the fixed effects and dropped.
    """
    if X.shape[1] == 0:
        return np.empty((X.shape[0], 0))
    norms = np.linalg.norm(X, axis=0)
    ref = np.maximum(np.linalg.norm(reference, axis=0), 1e-300)
    keep = norms > 1e-9 * ref
    X = X[:, keep] / norms[keep]
    if X.shape[1] == 0:
        return np.empty((X.shape[0], 0))
    U, s, _ = np.linalg.svd(X, full_matrices=False)
    return U[:, s > 1e-9 * s[0]]


def _omnibus(ledger: pd.DataFrame, kinds: Mapping[str, str], treated: np.ndarray, block_cols: list[str],
             strata_fe: bool, draws: int, rng: np.random.Generator,
             progress: Callable[[int, int], None] | None) -> pd.DataFrame:
    N = len(ledger)
    blocks = (ledger.groupby(block_cols, sort=True, dropna=False).ngroup().to_numpy()
              if block_cols else np.zeros(N, dtype=np.int64))
    order = np.argsort(blocks, kind="stable")  # blocks contiguous: permute within them by sorting keys
    blocks = blocks[order]
    D_all = treated[order].astype(float)
    X_all, _, skipped = design_matrix(ledger.iloc[order], kinds)
    complete = ~np.isnan(X_all).any(axis=1)
    n = int(complete.sum())
    X, D = X_all[complete], D_all[complete]
    notes = []
    if skipped:
        notes.append(f"left out (all missing): {', '.join(skipped)}")
    if n < N:
        notes.append(f"{N - n} row(s) with missing covariates dropped")
    if strata_fe:
        groups = np.unique(blocks[complete], return_inverse=True)[1]
    else:
        groups = np.zeros(n, dtype=np.int64)
    n_groups = int(groups.max()) + 1 if n else 0
    Q = _column_basis(_group_demean(X, groups, n_groups), X) if n else np.empty((0, 0))
    D = D if n else np.zeros(0)
    q = Q.shape[1]
    df2 = n - n_groups - q
    label = "f_test" if not strata_fe else "f_test_strata_fe"
    base = {"df1": float(q), "df2": float(df2), "n_used": n, "n_dropped": N - n}
    one_arm = n == 0 or D.min() == D.max()
    if q == 0 or df2 <= 0 or one_arm:
        why = ("an arm has no person with every covariate observed" if one_arm
               else "no covariate varies" if q == 0 else "too few persons for the regressors")
        note = "; ".join(notes + [f"not computed: {why}"])
        return _omnibus_frame([
            {"test": label, "statistic": np.nan, "p_value": np.nan, "mc_se": np.nan, "draws": 0,
             "note": note, **base},
            {"test": "randomisation_inference", "statistic": np.nan, "p_value": np.nan, "mc_se": np.nan,
             "draws": 0, "note": note, **base}])
    total = float(np.sum(_group_demean(D, groups, n_groups) ** 2))
    explained = float(np.sum((Q.T @ D) ** 2))
    f_obs = _f_value(explained, total, q, df2)
    p_f = float(stats.f.sf(f_obs, q, df2)) if np.isfinite(f_obs) else 0.0
    note = "; ".join(notes + ([f"strata fixed effects: {n_groups} blocks"] if strata_fe else []))
    rows = [{"test": label, "statistic": f_obs, "p_value": p_f, "mc_se": np.nan, "draws": 0,
             "note": note, **base}]
    if draws > 0:
        f_sim = _permutation_f(D_all, blocks, complete, groups, n_groups, Q, q, df2, draws, rng, progress)
        # ties (e.g. F = 0 whenever block counts fix it) must count despite rounding in either F
        p_ri = float(np.mean(f_sim >= f_obs - 1e-9 * max(f_obs, 1.0)))
        ri_note = "; ".join(notes + [f"arms permuted within {len(np.unique(blocks))} block(s) of "
                                     f"{', '.join(block_cols) if block_cols else 'the whole sample'}"])
        rows.append({"test": "randomisation_inference", "statistic": f_obs, "p_value": p_ri,
                     "mc_se": math.sqrt(p_ri * (1 - p_ri) / draws), "draws": draws, "note": ri_note, **base})
    return _omnibus_frame(rows)


def _protect_omnibus(table: pd.DataFrame, min_cell: int) -> pd.DataFrame:
    """Blank ``n_used``/``n_dropped`` (and the note's count) when 1 to ``min_cell − 1`` persons were dropped."""
    small = small_count(table["n_dropped"], min_cell)
    if not small.any():
        return table
    out = table.copy()
    out[["n_used", "n_dropped"]] = out[["n_used", "n_dropped"]].astype("float64")
    out.loc[small, ["n_used", "n_dropped"]] = np.nan
    out.loc[small, "note"] = out.loc[small, "note"].str.replace(
        r"\d+ row\(s\) with missing covariates dropped",
        f"fewer than {min_cell} rows with missing covariates dropped", regex=True)
    return out


def _f_value(explained: np.ndarray | float, total: np.ndarray | float, q: int, df2: int) -> Any:
    """F = (explained / q) / ((total − explained) / df2); a perfect fit gives inf."""
    resid = np.maximum(np.asarray(total, dtype=float) - explained, 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        f = (np.asarray(explained) / q) / (resid / df2)
    return float(f) if np.ndim(f) == 0 else f


def _permutation_f(D_all: np.ndarray, blocks: np.ndarray, complete: np.ndarray, groups: np.ndarray,
                   n_groups: int, Q: np.ndarray, q: int, df2: int, draws: int, rng: np.random.Generator,
                   progress: Callable[[int, int], None] | None) -> np.ndarray:
    """F for ``draws`` re-randomisations, all at once per chunk.

    Rows are sorted by block; :meth:`Design.permutations` shuffles the arms within blocks. Q is orthogonal to the fixed effects (or the intercept), so the explained sum of
    squares is ``‖Qᵀd‖²`` and the total is the within-group sum of squares of d.
    """
    sizes = np.bincount(groups, minlength=n_groups).astype(float)
    starts = np.concatenate(([0], np.cumsum(sizes[:-1]).astype(np.int64)))
    out = np.empty(draws)
    design = Design(blocks=blocks)
    done = 0
    while done < draws:
        b = min(_CHUNK, draws - done)
        perm = design.permutations(rng, b)
        d = D_all[perm][:, complete]  # b × n, groups contiguous
        sums = np.add.reduceat(d, starts, axis=1)
        total = d.sum(axis=1) - (sums ** 2 / sizes).sum(axis=1)  # d is 0/1, so d² = d
        explained = ((d @ Q) ** 2).sum(axis=1)
        out[done:done + b] = _f_value(explained, total, q, df2)
        done += b
        tick(progress, done, draws, "Randomisation F-test", "draws")
    return out


def _omnibus_frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    out = pd.DataFrame(rows, columns=list(OMNIBUS_COLUMNS))
    out["draws"] = out["draws"].astype(np.int64)
    for col in ("n_used", "n_dropped"):
        out[col] = out[col].astype(np.int64)
    return out
