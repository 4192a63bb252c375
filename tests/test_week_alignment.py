"""Weekly registers against visitation weeks: an ISO week (Monday–Sunday) from DREAM and a panel week that
starts on the visitation weekday overlap on two panel weeks unless visitation is a Monday. With
``min_days = 4`` a register week counts for the panel week that holds most of its days, which is the week
a day-exact spell of that panel week is recorded in: the DREAM panel then equals the day-exact panel."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pyarrow.parquet as pq

from trialeval.panel import build_panel
from trialeval.registers import DreamCodes, convert_dream

CODES = DreamCodes.from_dict({"codes": {"internship": ["651"]}}, "test")
FIRST = dt.date(2016, 3, 7)                      # a Monday: persons visit on each weekday of that week


def people() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Seven persons (visitation Monday … Sunday) in an internship exactly in panel week 3, as day-exact
    spells and as the DREAM extract that records it in the ISO week holding most of its days."""
    visits = [FIRST + dt.timedelta(days=d) for d in range(7)]
    ledger = pd.DataFrame({"person_id": [f"p{d}" for d in range(7)], "arm": ["treatment", "control"] * 3 + ["treatment"],
                           "visitation_date": [v.isoformat() for v in visits]})
    starts = [v + dt.timedelta(days=14) for v in visits]
    exact = pd.DataFrame({"person_id": ledger["person_id"], "spell_type": "internship",
                          "start_date": [s.isoformat() for s in starts],
                          "end_date": [(s + dt.timedelta(days=6)).isoformat() for s in starts]})
    weeks = {s + dt.timedelta(days=k) for s in starts for k in range(7)}
    columns = sorted({d.isocalendar()[:2] for d in weeks})
    rows = []
    for pid, s in zip(ledger["person_id"], starts):
        days = pd.Series([(s + dt.timedelta(days=k)).isocalendar()[:2] for k in range(7)]).value_counts()
        majority = days.index[0]                                   # 4 or more of the 7 days
        rows.append({"person_id": pid, **{f"y_{y}_{w:02d}": "651" if (y, w) == majority else "" for y, w in columns}})
    return ledger, exact, pd.DataFrame(rows)


def test_register_weeks_with_min_days_4_equal_the_day_exact_panel(tmp_path) -> None:
    ledger, exact, dream = people()
    dream.to_csv(tmp_path / "dream.csv", index=False)
    convert_dream(tmp_path / "dream.csv", CODES, tmp_path / "dream.parquet")
    spells = pq.read_table(tmp_path / "dream.parquet").to_pandas()
    for col in ("start_date", "end_date"):
        spells[col] = pd.to_datetime(spells[col]).dt.strftime("%Y-%m-%d")
    day_exact = build_panel(ledger, exact, "2016-06-30", weeks=6).to_frame()
    weekly_4 = build_panel(ledger, spells, "2016-06-30", weeks=6, min_days=4).to_frame()
    weekly_1 = build_panel(ledger, spells, "2016-06-30", weeks=6, min_days=1).to_frame()
    # by hand: everyone is in week 3 only
    assert day_exact.groupby("week")["in_internship"].sum().tolist() == [0, 0, 7, 0, 0, 0]
    assert weekly_4["in_internship"].tolist() == day_exact["in_internship"].tolist()
    # min_days = 1: the register week also touches a neighbouring panel week for the six persons who did not
    # visit on a Monday (week 2 for Tuesday-Thursday visits, week 4 for Friday-Sunday ones)
    counts = weekly_1.groupby("week")["in_internship"].sum().tolist()
    assert counts == [0, 3, 7, 3, 0, 0]
