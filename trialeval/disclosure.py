"""Disclosure control for exported aggregates (SPEC §11).

Statistics Denmark lets no table leave a research server with a cell built on fewer than 5 persons.
Every exported aggregate passes through :func:`suppress_small_cells`; person ids are never exported.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

DEFAULT_MIN_CELL = 5


def suppress_small_cells(
    table: pd.DataFrame,
    count_columns: Sequence[str],
    value_columns: Sequence[str],
    min_cell: int = DEFAULT_MIN_CELL,
) -> pd.DataFrame:
    """Blank the values of rows where any count is below ``min_cell``, and mark them.

    The counts themselves are blanked too (a small count is itself disclosive) and a boolean
    ``suppressed`` column says which rows were touched.

    Examples
    --------
    >>> import pandas as pd
    >>> t = pd.DataFrame({"n_treatment": [10, 3], "n_control": [8, 9], "effect": [0.1, 0.5]})
    >>> out = suppress_small_cells(t, ["n_treatment", "n_control"], ["effect"])
    >>> out["effect"].isna().tolist(), out["suppressed"].tolist()
    ([False, True], [False, True])
    """
    if min_cell < 0:
        raise ValueError(f"min_cell must be >= 0; got {min_cell}")
    out = table.copy()
    counts = out[list(count_columns)].apply(pd.to_numeric, errors="coerce")
    small = (counts < min_cell).any(axis=1).to_numpy()
    for col in list(value_columns) + list(count_columns):
        if small.any():
            if not pd.api.types.is_float_dtype(out[col]):
                out[col] = out[col].astype("float64") if pd.api.types.is_numeric_dtype(out[col]) else out[col].astype(object)
            out.loc[small, col] = np.nan
    out["suppressed"] = small
    return out
