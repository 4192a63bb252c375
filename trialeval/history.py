"""History covariates from spells: what a person did in the 52, 104 or 156 weeks before a date.

For each window of W weeks before a person's (pseudo) visitation date and each measure: weeks with an
``internship``, a ``wage_subsidy`` or a ``benefit`` spell (a week counts when a spell covers at least
``min_days`` of its days, as in the panel), and ``ordinary_hours`` summed over the weeks (pro rata). They are
the panel's own pre-visitation weeks −W+1 … 0 (week 0 is the 7 days before the date), computed by the
same kernel for programme persons and candidates alike.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from trialeval.exceptions import InputDataError

#: The measures a history can hold, and the panel column each comes from.
HISTORY_MEASURES = {"internship": "in_internship", "wage_subsidy": "in_wage_subsidy",
                    "ordinary_hours": "ordinary_hours", "benefit": "self_supporting"}
DEFAULT_WINDOWS = (52, 104, 156)


def history_columns(measures: Sequence[str], windows: Sequence[int]) -> list[str]:
    """The names of the history columns: ``internship_weeks_52``, ``ordinary_hours_104``, …"""
    return [f"{m}_{w}" if m == "ordinary_hours" else f"{m}_weeks_{w}" for m in measures for w in windows]


def history_covariates(persons: pd.DataFrame, spells: pd.DataFrame | Any, *,
                       windows: Sequence[int] = DEFAULT_WINDOWS,
                       measures: Sequence[str] = ("internship", "ordinary_hours", "benefit"),
                       min_days: int = 1, date_column: str = "visitation_date") -> pd.DataFrame:
    """History columns for each row of ``persons`` (``person_id`` and ``date_column``, ids unique).

    Returns ``persons``' index with one column per measure and window (:func:`history_columns`).

    Examples
    --------
    >>> spells = pd.DataFrame({"person_id": ["A", "A"], "spell_type": ["benefit", "ordinary_hours"],
    ...                        "start_date": ["2015-01-01", "2016-05-03"], "end_date": ["2016-12-31", "2016-05-16"],
    ...                        "hours_per_week": [None, 10.0]})
    >>> # weeks -3 … 0 are 4-31 May: 13 of the 14 days of 10 hours a week, 130/7 hours
    >>> h = history_covariates(pd.DataFrame({"person_id": ["A"], "visitation_date": ["2016-06-01"]}), spells,
    ...                        windows=[4, 52], measures=["ordinary_hours", "benefit"])
    >>> h.round(2).to_dict("records")
    [{'ordinary_hours_4': 18.57, 'ordinary_hours_52': 20.0, 'benefit_weeks_4': 4.0, 'benefit_weeks_52': 52.0}]
    """
    from trialeval.panel import build_panel

    unknown = [m for m in measures if m not in HISTORY_MEASURES]
    if unknown:
        raise InputDataError(f"unknown history measure(s) {', '.join(unknown)}; known: {', '.join(HISTORY_MEASURES)}")
    if persons["person_id"].duplicated().any():
        raise InputDataError("history covariates need one row per person and date")
    longest = max(windows)
    dates = pd.to_datetime(persons[date_column])
    ledger = pd.DataFrame({"person_id": persons["person_id"].astype(str).to_numpy(), "arm": "treatment",
                           "visitation_date": dates.dt.strftime("%Y-%m-%d").to_numpy()})
    extraction = (dates.max() + pd.Timedelta(days=6)).strftime("%Y-%m-%d")
    panel = build_panel(ledger, spells, extraction, weeks=1, pre_weeks=longest, min_days=min_days,
                        min_matched_share=0).to_frame()
    panel = panel.loc[panel["week"] <= 0]
    code = pd.Index(ledger["person_id"]).get_indexer(panel["person_id"].astype(str))
    out = {}
    for m in measures:
        values = panel[HISTORY_MEASURES[m]].to_numpy(dtype=np.float64)
        if m == "benefit":
            values = 1.0 - values                     # a week with a benefit spell is not self-supporting
        for w, name in zip(windows, history_columns([m], windows)):
            inside = panel["week"].to_numpy() > -w
            out[name] = np.bincount(code[inside], weights=values[inside], minlength=len(ledger))
    return pd.DataFrame(out, index=persons.index)
