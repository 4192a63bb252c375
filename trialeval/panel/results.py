"""The panel's result: :class:`PanelResult` and the per-(arm, week) running sums it gives to effects.

The sums (:class:`_WeekSums`) are gathered chunk by chunk while the panel is built, so per-week means and
the Welch difference in means of the effects step need no long table (:meth:`PanelResult.week_moments`).
"""

from __future__ import annotations

import html
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from trialeval.exceptions import InputDataError
from trialeval.io import ARMS
from trialeval.panel.kernel import _Chunk
from trialeval.panel.store import _Layout
from trialeval.stats.moments import CellMoments
from trialeval.timeaxis import WEEKS_SINCE_VISITATION, TimeAxis


def _check_int(value: Any, name: str, low: int, high: int | None = None) -> int:
    """``value`` as an int in ``[low, high]``, else :class:`InputDataError` naming the argument."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low or (
            high is not None and value > high):
        bound = f"between {low} and {high}" if high is not None else f">= {low}"
        raise InputDataError(f"{name} must be a whole number {bound}; got {value!r}")
    return int(value)


class _WeekSums:
    """Sums for per-week means and variances, gathered chunk by chunk while the panel is built.

    Cells are (arm, persons' number of observed weeks, week): the middle key lets a fixed cohort (persons
    observed at least K weeks) be summed afterwards without the rows. Indicators keep exact counts (their
    sum of squares is their sum); hours keep :class:`~trialeval.stats.moments.CellMoments` (n, mean, sum of
    squared deviations), added chunk by chunk by the parallel-variance formula, so a week where every
    person has the same hours has variance exactly 0.
    """

    def __init__(self, layout: _Layout, n_weeks: int, kept: bool = True) -> None:
        self.kept = kept                    # False: built with week_sums=False, nothing is summed
        self.k_min = layout.k_min
        self.n_weeks = n_weeks
        self.n_cells = len(ARMS) * (self.n_weeks + 1) * self.n_weeks
        self._arm, self._n_obs = layout.arm, layout.n_obs
        self.flag_outcomes = layout.flag_outcomes
        self.n = np.zeros(self.n_cells)
        self.s1 = {name: np.zeros(self.n_cells) for name in layout.flag_outcomes}   # indicators; hours below
        self.hours = CellMoments.empty(self.n_cells)

    def person_groups(self) -> tuple[np.ndarray, np.ndarray]:
        """Per person its group of cells (arm, number of observed weeks), and per group its observed
        weeks: cell ``group * n_weeks + j`` holds week index ``j`` of the group's persons (what the
        kernel needs to compute a chunk's share of the sums itself)."""
        group = (self._arm.astype(np.int64) * (self.n_weeks + 1) + self._n_obs).astype(np.int32)
        return group, np.arange(self.n_cells // self.n_weeks) % (self.n_weeks + 1)

    def add(self, chunk: _Chunk) -> None:
        if not self.kept:
            return
        if chunk.sums is not None:
            self._add(chunk.sums.n, chunk.sums.s1, chunk.sums.hours)
            return
        n_obs = self._n_obs[chunk.start:chunk.stop]
        total = int(n_obs.sum())
        if total == 0:
            return
        first = np.cumsum(n_obs) - n_obs
        person_cell = (self._arm[chunk.start:chunk.stop].astype(np.int64) * (self.n_weeks + 1) + n_obs) * self.n_weeks
        cell = np.repeat(person_cell - first, n_obs) + np.arange(total, dtype=np.int64)
        n_bits = len(self.flag_outcomes)
        if n_bits <= 8:
            # One bincount over (cell, bit pattern) gives every indicator's sum.
            patterns = (np.arange(256)[:, None] >> np.arange(n_bits)[None, :]) & 1
            counts = np.bincount(cell * 256 + chunk.flags, minlength=self.n_cells * 256).reshape(self.n_cells, 256)
            n = counts.sum(axis=1).astype(np.float64)
            by_bit = counts @ patterns
        else:
            n = np.bincount(cell, minlength=self.n_cells).astype(np.float64)
            by_bit = np.stack([np.bincount(cell, weights=(chunk.flags >> np.uint64(bit)) & 1, minlength=self.n_cells)
                               for bit in range(n_bits)], axis=1)
        hours_cell = cell[chunk.hours_row]
        worked = CellMoments.from_values(hours_cell, np.asarray(chunk.hours, dtype=np.float64), self.n_cells)
        self._add(n, {name: by_bit[:, bit] for bit, name in enumerate(self.flag_outcomes)}, worked)

    def _add(self, n: np.ndarray, s1: dict[str, np.ndarray], worked: CellMoments) -> None:
        self.n += n
        for name in self.flag_outcomes:
            self.s1[name] += s1[name]
        zeros = n - worked.n                                             # rows without hours: y = 0, exactly
        self.hours = self.hours + worked + CellMoments.from_sums(zeros, np.zeros(self.n_cells),
                                                                 np.zeros(self.n_cells))

    def moments(self, name: str, min_weeks: int | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Count, mean and sum of squared deviations, each ``(arms, weeks)``, over the persons observed
        at least up to week ``min_weeks`` (all persons when None)."""
        if not self.kept:
            raise InputDataError("the panel was built with week_sums=False, so it has no per-week sums; "
                                 "read the panel file it wrote, or build with week_sums=True")
        shape = (len(ARMS), self.n_weeks + 1, self.n_weeks)
        lo = 0 if min_weeks is None else min(max(min_weeks - self.k_min + 1, 0), self.n_weeks + 1)
        if name == "ordinary_hours":
            cells = np.arange(self.n_cells).reshape(shape)[:, lo:]
            arm_week = (cells // ((self.n_weeks + 1) * self.n_weeks)) * self.n_weeks + cells % self.n_weeks
            m = self.hours[cells.ravel()].collapse(arm_week.ravel(), len(ARMS) * self.n_weeks)
            out = (len(ARMS), self.n_weeks)
            return m.n.reshape(out), m.mean.reshape(out), m.m2.reshape(out)
        n = self.n.reshape(shape)[:, lo:].sum(axis=1)
        s1 = self.s1[name].reshape(shape)[:, lo:].sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            return n, s1 / n, np.maximum(s1 - s1 * s1 / n, 0.0)


@dataclass(frozen=True, eq=False)
class PanelResult:
    """A weekly person-by-week panel and what went into it; build it with :func:`build_panel`.

    Attributes
    ----------
    outcomes
        Outcome columns, in panel order.
    number_at_risk
        ``arm, week, n_at_risk``: persons observed per arm and week (also :meth:`at_risk`).
    rejects
        Rows dropped with ``drop_bad_rows``: ``source, row`` (1-based data row), ``person_id``, the
        ``column`` and ``reason`` (rule), and the row's values as text.
    n_spells_not_in_ledger, n_persons_not_in_ledger
        Spells (and distinct persons) in the spells input whose person is not in the ledger; ignored.
    n_spells_used
        Valid spells of ledger persons.
    settings
        The arguments that produced the panel.
    axis
        The time axis the periods are counted on (:data:`~trialeval.timeaxis.WEEKS_SINCE_VISITATION`);
        its period column (``"week"``) names the period in every table of the result.

    Notes
    -----
    The observed cells are held compactly (a bit per indicator, hours sparse); :attr:`panel` and
    :meth:`to_frame` expand them into the long table, :meth:`iter_frames` does so a chunk of persons at a
    time, and :func:`write_panel` streams them to disk.
    """

    outcomes: tuple[str, ...]
    number_at_risk: pd.DataFrame
    rejects: pd.DataFrame
    n_spells_not_in_ledger: int
    n_persons_not_in_ledger: int
    n_spells_used: int
    settings: dict[str, Any]
    _layout: _Layout = field(repr=False)
    _chunks: tuple[_Chunk, ...] = field(repr=False)
    _sums: _WeekSums = field(repr=False)
    axis: TimeAxis = WEEKS_SINCE_VISITATION

    @property
    def _arm(self) -> np.ndarray:
        return self._layout.arm

    @property
    def _n_obs(self) -> np.ndarray:
        return self._layout.n_obs

    @property
    def groups(self) -> tuple[str, str]:
        """The group labels of ``arm``: the programme group, then the reference group."""
        return self._layout.arm_labels

    @property
    def weights(self) -> np.ndarray | None:
        """The ledger's ``weight`` per person (in panel order), or None when the ledger has none."""
        return self._layout.weight

    @property
    def periods(self) -> np.ndarray:
        """The periods of the panel's window in order, as its period column writes them (``1 .. weeks``,
        from ``0, -1, …`` with pre-weeks; ``201643 …`` on a calendar axis)."""
        layout = self._layout
        if layout.period_values is not None:
            return layout.period_values
        return np.arange(layout.k_min, layout.k_min + self._sums.n_weeks)

    @property
    def streamed(self) -> bool:
        """True when the panel was written to ``settings["out"]`` while it was built and not kept."""
        return self.settings.get("out") is not None

    @property
    def kept(self) -> bool:
        """True when the compact panel is held in memory (not built with ``out=`` or ``keep_panel=False``)."""
        return self.settings.get("keep_panel", not self.streamed)

    def _require_cells(self, what: str) -> None:
        if self.streamed:
            raise InputDataError(
                f"{what}: the panel was written to {self.settings['out']} while it was built and is not "
                "kept in memory; read that file, or build without 'out' to keep the panel")
        if not self.kept:
            raise InputDataError(
                f"{what}: the panel was built with keep_panel=False and is not kept in memory (only the "
                "number at risk and the per-week sums are); build with keep_panel=True, or with out= to "
                "write it to a file")

    # ---- sizes -----------------------------------------------------------------------------------
    @property
    def n_persons(self) -> int:
        """Persons in the panel (ledger rows, excluded ones included)."""
        return len(self._arm)

    @property
    def n_rows(self) -> int:
        """Observed person-weeks, i.e. rows of the panel."""
        return int(self._n_obs.sum())

    @property
    def columns(self) -> list[str]:
        """Columns of the panel, in order."""
        weight = ["weight"] if self._layout.weight is not None else []
        return ["person_id", "arm", self.axis.column, *self.outcomes, *self._layout.groups, *weight]

    # ---- tables ----------------------------------------------------------------------------------
    def _chunk_table(self, chunk: _Chunk, start: int | None = None, stop: int | None = None, *,
                     dictionary_ids: bool = False) -> pa.Table:
        return self._layout.table(chunk, start, stop, dictionary_ids=dictionary_ids)

    def iter_frames(self) -> Iterator[pd.DataFrame]:
        """The panel a chunk of persons at a time (person-ordered), for inputs too big to hold at once.

        Examples
        --------
        >>> import pandas as pd
        >>> from trialeval.panel import build_panel
        >>> ledger = pd.DataFrame({"person_id": ["a", "b"], "arm": ["treatment", "control"],
        ...                        "visitation_date": ["2016-03-01", "2016-03-01"]})
        >>> spells = pd.DataFrame({"person_id": ["a"], "spell_type": ["internship"],
        ...                        "start_date": ["2016-03-01"], "end_date": ["2016-03-10"]})
        >>> res = build_panel(ledger, spells, "2016-03-31", weeks=4, chunk_persons=1)
        >>> [len(f) for f in res.iter_frames()]
        [4, 4]
        """
        self._require_cells("iter_frames")
        for chunk in self._chunks:
            yield self._chunk_table(chunk).to_pandas()

    def to_frame(self) -> pd.DataFrame:
        """The long panel: one row per observed person-week (a new DataFrame on every call).

        Columns ``person_id, arm, week``, the outcomes, then ``municipality``, ``stratum`` and ``weight``
        when the ledger has them. ``arm`` (the design's group labels), ``municipality`` and ``stratum``
        are categoricals, ``week`` is int16, indicators int8 (0/1), ``ordinary_hours`` and ``weight``
        float64.

        Examples
        --------
        >>> import pandas as pd
        >>> from trialeval.panel import build_panel
        >>> ledger = pd.DataFrame({"person_id": ["a"], "arm": ["treatment"],
        ...                        "visitation_date": ["2016-03-01"]})
        >>> spells = pd.DataFrame({"person_id": ["a"], "spell_type": ["ordinary_hours"],
        ...                        "start_date": ["2016-03-05"], "end_date": ["2016-03-20"],
        ...                        "hours_per_week": [14.0]})
        >>> build_panel(ledger, spells, "2016-03-31", weeks=4).to_frame()["ordinary_hours"].tolist()
        [6.0, 14.0, 12.0, 0.0]
        """
        self._require_cells("to_frame")
        tables = [self._chunk_table(c) for c in self._chunks]
        if not tables:
            return self._empty_table().to_pandas()
        return pa.concat_tables(tables).to_pandas()

    def _empty_table(self) -> pa.Table:
        return self._chunk_table(_Chunk(0, 0, np.zeros(0, np.uint8), np.zeros(0, np.int64), np.zeros(0)))

    @cached_property
    def panel(self) -> pd.DataFrame:
        """The long panel, expanded on first access and kept (see :meth:`to_frame`)."""
        return self.to_frame()

    def at_risk(self) -> pd.DataFrame:
        """Number at risk: persons observed per arm and week (a copy of :attr:`number_at_risk`)."""
        return self.number_at_risk.copy()

    def plot(self, outcome: str = "has_ordinary_hours", ax: Any = None, *, lang: str = "en",
             min_cell: int = 5) -> Any:
        """Per-week mean of one outcome by arm (delegates to :func:`trialeval.plots.plot_panel_means`).

        Descriptive only; the effect with its confidence interval is :func:`trialeval.effects`' plot.
        """
        from trialeval.plots import plot_panel_means

        if outcome not in self.outcomes:
            raise InputDataError(f"panel has no outcome '{outcome}'; it has {', '.join(self.outcomes)}")
        return plot_panel_means(self.means(), outcome, ax=ax, lang=lang, min_cell=min_cell, axis=self.axis,
                                groups=self.groups)

    def means(self) -> pd.DataFrame:
        """Per-week means of every outcome by arm, over the persons observed that week.

        A descriptive table computed from the compact panel without expanding it; for effects with
        confidence intervals use the effects step.

        Returns
        -------
        pandas.DataFrame
            ``arm, week, n_at_risk`` and one column per outcome (NaN where nobody is observed).

        Examples
        --------
        >>> import pandas as pd
        >>> from trialeval.panel import build_panel
        >>> ledger = pd.DataFrame({"person_id": ["a", "b"], "arm": ["treatment", "treatment"],
        ...                        "visitation_date": ["2016-03-01", "2016-03-01"]})
        >>> spells = pd.DataFrame({"person_id": ["a"], "spell_type": ["internship"],
        ...                        "start_date": ["2016-03-01"], "end_date": ["2016-03-10"]})
        >>> m = build_panel(ledger, spells, "2016-03-31", weeks=4).means()
        >>> m.loc[m["arm"] == "treatment", "in_internship"].tolist()
        [0.5, 0.5, 0.0, 0.0]
        """
        moments = self.week_moments()
        out = self.number_at_risk.copy()
        for name in self.outcomes:
            out[name] = moments.loc[moments["outcome"] == name, "mean"].to_numpy()
        return out

    def week_moments(self, outcomes: Sequence[str] | None = None, *, min_weeks: int | None = None
                     ) -> pd.DataFrame:
        """Per outcome, arm and week: persons observed, their mean and sum of squared deviations.

        What a difference in means with Welch standard errors needs, gathered while the panel was built
        (also when it was streamed to a file), so effect curves need no long table
        (``trialeval.effects(result)`` uses it).

        Parameters
        ----------
        outcomes
            Outcomes to report (default: all).
        min_weeks
            Fixed cohort: only persons observed at least up to week ``min_weeks``.

        Returns
        -------
        pandas.DataFrame
            ``outcome, arm, week, n, mean, ss`` (``mean`` NaN where nobody is observed).

        Examples
        --------
        >>> import pandas as pd
        >>> from trialeval.panel import build_panel
        >>> ledger = pd.DataFrame({"person_id": ["a", "b"], "arm": ["treatment", "treatment"],
        ...                        "visitation_date": ["2016-03-01", "2016-03-01"]})
        >>> spells = pd.DataFrame({"person_id": ["a"], "spell_type": ["internship"],
        ...                        "start_date": ["2016-03-01"], "end_date": ["2016-03-10"]})
        >>> m = build_panel(ledger, spells, "2016-03-31", weeks=4).week_moments(["in_internship"])
        >>> m.loc[m["arm"] == "treatment", ["n", "mean", "ss"]].values.tolist()[0]
        [2.0, 0.5, 0.5]
        """
        names = list(self.outcomes) if outcomes is None else list(outcomes)
        unknown = [o for o in names if o not in self.outcomes]
        if unknown:
            raise InputDataError(f"week_moments: unknown outcome(s) {', '.join(unknown)}; the panel has "
                                 f"{', '.join(self.outcomes)}")
        if min_weeks is not None:
            min_weeks = _check_int(min_weeks, "min_weeks", 1)
        sums = self._sums
        week = self.periods
        frames = []
        for name in names:
            n, mean, ss = sums.moments(name, min_weeks)
            frames.append(pd.DataFrame({"outcome": name, "arm": np.repeat(self.groups, len(week)),
                                        self.axis.column: np.tile(week, len(ARMS)), "n": n.ravel(),
                                        "mean": mean.ravel(), "ss": ss.ravel()}))
        return pd.concat(frames, ignore_index=True)

    # ---- reporting -------------------------------------------------------------------------------
    def rejects_by_reason(self) -> pd.DataFrame:
        """Counts of dropped rows per source and rule."""
        if self.rejects.empty:
            return pd.DataFrame({"source": [], "reason": [], "rows": []}).astype({"rows": np.int64})
        return (self.rejects.groupby(["source", "reason"], sort=True).size()
                .rename("rows").reset_index())

    def summary(self, lang: str = "en") -> str:
        """A plain-text account of the panel: persons, weeks, rows, spells used, dropped and ignored;
        numbers (and the extraction date) in ``lang``."""
        from trialeval import _console as console
        from trialeval.formatting import date as long_date

        console.check(lang)

        def c(v: int) -> str:
            return console.fmt(v, ",", lang, "count")

        s = self.settings
        arms = np.bincount(self._arm, minlength=len(ARMS)) if self.n_persons else np.zeros(2, int)
        first, second = self.groups
        no_weeks = int((self._n_obs == 0).sum())
        periods = self.periods
        from trialeval.disclosure import DEFAULT_MIN_CELL, small_count

        def persons(v: int) -> str:
            # a console summary is an export: 1-4 persons read "<5", as in the report
            return f"<{DEFAULT_MIN_CELL}" if small_count([v], DEFAULT_MIN_CELL)[0] else c(v)

        lines = [
            "Weekly panel" if self.axis.unit() == "week" else "Monthly panel",
            f"  persons: {persons(self.n_persons)} ({persons(arms[0])} {first}, {persons(arms[1])} {second}; "
            f"{persons(s['n_excluded'])} excluded kept, intention-to-treat)",
            f"  {self.axis.unit(plural=True)}: {self._period_text(int(periods[0]), lang)} to "
            f"{self._period_text(int(periods[-1]), lang)}; extraction date "
            f"{s['extraction_date'] if lang == 'en' else long_date(str(s['extraction_date']), lang)}; "
            f"min_days {s['min_days']}",
            f"  rows (observed person-{self.axis.unit(plural=True)}): {c(self.n_rows)}; persons with no observed "
            f"{self.axis.unit()}: {persons(no_weeks)}",
            f"  spells used: {c(self.n_spells_used)}",
            f"  spells of persons not in the ledger (ignored): {c(self.n_spells_not_in_ledger)} "
            f"({c(self.n_persons_not_in_ledger)} persons)",
        ]
        if s["drop_bad_rows"]:
            lines.append(f"  rows dropped as bad input: {c(len(self.rejects))}")
            for row in self.rejects_by_reason().itertuples(index=False):
                lines.append(f"    {row.source}: {row.reason}: {c(row.rows)}")
        lines.append(f"  outcomes: {', '.join(self.outcomes)}")
        return "\n".join(lines)

    def _period_text(self, k: int, lang: str) -> str:
        from trialeval import _console as console

        return self.axis.period_label(k) if self.axis.alignment == "calendar" else console.fmt(k, "", lang)

    def to_dict(self) -> dict[str, Any]:
        """Counts, settings and the number-at-risk table as JSON-ready Python values."""
        return {
            "settings": dict(self.settings),
            "outcomes": list(self.outcomes),
            "groups": list(self.groups),
            "columns": self.columns,
            "n_persons": self.n_persons,
            "n_rows": self.n_rows,
            "n_spells_used": self.n_spells_used,
            "n_spells_not_in_ledger": self.n_spells_not_in_ledger,
            "n_persons_not_in_ledger": self.n_persons_not_in_ledger,
            "n_rejected_rows": len(self.rejects),
            "rejects_by_reason": self.rejects_by_reason().to_dict(orient="records"),
            "number_at_risk": self.number_at_risk.to_dict(orient="records"),
        }

    def _repr_html_(self) -> str:
        head = "".join(f"<li>{html.escape(line.strip())}</li>" for line in self.summary().splitlines()[1:])
        from trialeval.disclosure import DEFAULT_MIN_CELL, suppress_small_cells

        # a notebook display is an export: numbers at risk below the disclosure threshold show as "·"
        shown = suppress_small_cells(self.number_at_risk, ["n_at_risk"], [], DEFAULT_MIN_CELL)
        wide = shown.pivot(index=self.axis.column, columns="arm", values="n_at_risk")
        return (f"<h4>Weekly panel</h4><ul>{head}</ul><p>Number at risk by week (fewer than "
                f"{DEFAULT_MIN_CELL} persons: ·)</p>{wide.to_html(max_rows=20, na_rep='·', float_format='{:,.0f}'.format)}")


# --------------------------------------------------------------------------------------------------
# Building
# --------------------------------------------------------------------------------------------------
