"""Descriptive curves for groups of persons that may overlap: the mean of each outcome per period and
the number followed, with no effect and no confidence interval between the groups.

An evaluation often shows more than two groups side by side — the first wave, everyone, the comparison
group — and the groups may share persons (everyone includes the first wave). A difference between two such
curves is not an effect: the groups were not drawn by lot and may overlap, so this module never computes
one. Groups are declared in ``trial.toml``::

    [curves.groups]
    group_1 = "wave == 1"
    all = "true"
    comparison = "arm == 'control'"

    [curves.labels]
    group_1 = { en = "Group 1", da = "Gruppe 1" }

A filter is ``true`` (everyone) or one or more conditions ``column op value`` joined by ``and``, with the
operators of the eligibility rules (``== != >= <= > < in "not in"``); the value is a number, ``true`` /
``false``, a quoted string (``'control'`` or ``"control"``) or a list. Filters are read by the small
parser of :class:`trialeval.config.EligibilityRule`, never evaluated as code, and are applied to the
ledger's columns (one row per person).

The disclosure rule (:mod:`trialeval.disclosure`) is applied per group, period and outcome: a cell with
1 to ``min_cell − 1`` persons followed, or (for a share) with 1 to ``min_cell − 1`` persons with or
without the outcome, is suppressed. Because groups may be nested, a difference of two cells could reveal
a small cell: where the persons followed in one group are all in another and the persons only in the
larger group would be such a small cell, the smaller group's cell is suppressed too. (Differences of two
nested groups are checked; sums of three or more groups are not.)
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from trialeval.config import EligibilityRule
from trialeval.disclosure import share_disclosive, small_count
from trialeval.exceptions import ConfigError, InputDataError
from trialeval.timeaxis import TIME_AXES, TimeAxis

#: The words of the curves' outputs in English and Danish.
TEXT: dict[str, dict[str, str]] = {
    "en": {"note": "Descriptive: the groups may overlap and were not drawn by lot; no effect and no confidence "
                   "interval between groups is computed.",
           "followed": "Persons followed", "percent": "Percent", "mean": "Mean",
           "title": "Curves by group", "groups": "{n} group(s), {p} period(s), {o} outcome(s)",
           "hidden": "{n} cell(s) with fewer than {k} persons (or a share resting on fewer) are suppressed."},
    "da": {"note": "Beskrivende: grupperne kan overlappe og er ikke trukket ved lodtrækning; der beregnes ingen "
                   "effekt og intet konfidensinterval mellem grupperne.",
           "followed": "Personer fulgt", "percent": "Procent", "mean": "Gennemsnit",
           "title": "Kurver pr. gruppe", "groups": "{n} gruppe(r), {p} periode(r), {o} udfald",
           "hidden": "{n} celle(r) med færre end {k} personer (eller en andel baseret på færre) er undertrykt."},
}
#: The ``note`` column of ``curves.csv``: what the table is not.
NOTE = TEXT["en"]["note"]
_AND = re.compile(r"\s+and\s+")
_GROUP_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def parse_filter(text: Any, where: str) -> tuple[EligibilityRule, ...]:
    """A group filter as its conditions: ``true`` is everyone (no condition), else ``cond and cond …``.

    Examples
    --------
    >>> [r.text for r in parse_filter("wave == 1 and arm == 'control'", "g")]
    ['wave == 1', "arm == 'control'"]
    >>> parse_filter("true", "g")
    ()
    >>> parse_filter("wave = 1", "[curves.groups] g")
    Traceback (most recent call last):
    ...
    trialeval.exceptions.ConfigError: [curves.groups] g: the filter 'wave = 1' is not 'true' or 'column op value' (joined by 'and'), op one of ==, !=, >=, <=, >, <, in, not in
    """
    if not isinstance(text, str) or not text.strip():
        raise ConfigError(f"{where}: a filter must be a non-empty string such as \"wave == 1\" or \"true\"")
    if text.strip().lower() == "true":
        return ()
    rules = []
    for part in _AND.split(text.strip()):
        try:
            rules.append(EligibilityRule.parse(part))
        except ConfigError:
            raise ConfigError(f"{where}: the filter {text!r} is not 'true' or 'column op value' (joined by 'and'), "
                              "op one of ==, !=, >=, <=, >, <, in, not in") from None
    return tuple(rules)


@dataclass(frozen=True)
class CurveGroup:
    """One declared group: its name, filter (as written and parsed) and labels."""

    name: str
    filter: str
    rules: tuple[EligibilityRule, ...] = ()
    label_en: str = ""
    label_da: str = ""

    def label(self, lang: str = "en") -> str:
        """The group's label in ``lang``, else its name."""
        return (self.label_da if lang == "da" else self.label_en) or self.label_en or self.name

    def members(self, ledger: pd.DataFrame, source: str) -> np.ndarray:
        """Which rows of ``ledger`` are in the group (a missing value never meets a condition)."""
        keep = np.ones(len(ledger), dtype=bool)
        for rule in self.rules:
            if rule.column not in ledger.columns:
                raise InputDataError(f"{source}: the filter {self.filter!r} of group '{self.name}' names column "
                                     f"'{rule.column}', which is missing")
            keep &= rule.holds(ledger, source).to_numpy()
        return keep


@dataclass(frozen=True)
class CurveSettings:
    """``[curves]`` of ``trial.toml``: the groups (in order) and, optionally, the outcomes to show.

    Examples
    --------
    >>> s = CurveSettings.from_dict({"groups": {"all": "true", "control": "arm == 'control'"},
    ...                              "labels": {"all": {"en": "Everyone", "da": "Alle"}}}, "trial.toml")
    >>> [g.label("da") for g in s.groups]
    ['Alle', 'control']
    """

    groups: tuple[CurveGroup, ...]
    outcomes: tuple[str, ...] | None = None

    @classmethod
    def from_dict(cls, table: Mapping[str, Any], source: str) -> CurveSettings:
        where = f"{source}: [curves]"
        unknown = set(table) - {"groups", "labels", "outcomes"}
        if unknown:
            raise ConfigError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}; allowed: groups, labels, outcomes")
        groups = table.get("groups")
        if not isinstance(groups, Mapping) or not groups:
            raise ConfigError(f"{where} groups must be a table of group = \"filter\", e.g. all = \"true\"")
        labels = table.get("labels", {})
        if not isinstance(labels, Mapping) or set(labels) - set(groups):
            raise ConfigError(f"{where} labels must be a table of groups declared in [curves.groups], each "
                              "{ en = \"…\", da = \"…\" }")
        parsed = []
        for name, text in groups.items():
            if not _GROUP_NAME.match(name):
                raise ConfigError(f"{where}.groups: '{name}' is not a name (letters, digits, _)")
            label = labels.get(name, {})
            if not isinstance(label, Mapping) or set(label) - {"en", "da"} or not all(
                    isinstance(v, str) for v in label.values()):
                raise ConfigError(f"{where}.labels: {name} must be {{ en = \"…\", da = \"…\" }}")
            parsed.append(CurveGroup(name, str(text), parse_filter(text, f"{where}.groups {name}"),
                                     label.get("en", ""), label.get("da", "")))
        outcomes = table.get("outcomes")
        if outcomes is not None and (not isinstance(outcomes, list) or not all(isinstance(o, str) for o in outcomes)):
            raise ConfigError(f"{where} outcomes must be a list of outcome names")
        return cls(tuple(parsed), tuple(outcomes) if outcomes is not None else None)


def panel_axis(columns: Sequence[str], source: str) -> TimeAxis:
    """The time axis of a panel, from its period column (``week``, ``month``, ``calendar_week``…)."""
    for axis in TIME_AXES.values():
        if axis.column in columns:
            return axis
    raise InputDataError(f"{source}: no period column; a panel has one of "
                         + ", ".join(a.column for a in TIME_AXES.values()))


def is_share(values: pd.Series) -> bool:
    """Whether an outcome is a share: its observed values are all 0 or 1.

    Examples
    --------
    >>> is_share(pd.Series([0, 1, None])), is_share(pd.Series([0.0, 37.5]))
    (True, False)
    """
    v = pd.to_numeric(values, errors="coerce").dropna()
    return bool(v.isin([0, 1]).all())


def series_cells(panel: pd.DataFrame, members: Mapping[str, np.ndarray], outcomes: Sequence[str], period: str,
                 min_cell: int) -> pd.DataFrame:
    """Per series (a row mask of ``panel``), period and outcome: persons followed and the mean, controlled.

    ``panel`` has one row per person and period; a person is followed in a period for an outcome when the
    outcome is observed there. Returns ``series, <period>, outcome, n_followed, mean, suppressed`` with the
    suppressed cells blank (see the module's disclosure rule; ``min_cell = 0`` suppresses nothing).

    Examples
    --------
    >>> p = pd.DataFrame({"week": [1] * 8, "y": [1, 1, 0, 0, 1, 1, 0, 0]})
    >>> cells = series_cells(p, {"all": np.ones(8, bool), "first": np.arange(8) < 4}, ["y"], "week", 2)
    >>> cells[["series", "n_followed", "mean"]].values.tolist()
    [['all', 8.0, 0.5], ['first', 4.0, 0.5]]
    >>> series_cells(p, {"all": np.ones(8, bool), "first": np.arange(8) < 7}, ["y"], "week", 2)["suppressed"].tolist()
    [False, True]
    """
    periods, code = np.unique(panel[period].to_numpy(), return_inverse=True)
    size = len(periods)
    names = list(members)
    rows = []
    for outcome in outcomes:
        y = pd.to_numeric(panel[outcome], errors="coerce").to_numpy(dtype=np.float64)
        followed = ~np.isnan(y)
        y0 = np.where(followed, y, 0.0)
        share = is_share(panel[outcome])
        masks = {g: followed & np.asarray(members[g], dtype=bool) for g in names}
        n = {g: np.bincount(code[m], minlength=size).astype(float) for g, m in masks.items()}
        s = {g: np.bincount(code[m], weights=y0[m], minlength=size) for g, m in masks.items()}
        hidden = {g: _disclosive(n[g], s[g], share, min_cell) for g in names}
        for a in names:
            for b in names:
                if a == b:
                    continue
                both = np.bincount(code[masks[a] & masks[b]], minlength=size)
                nested = (both == n[a]) & (n[b] > n[a])
                hidden[a] |= nested & _disclosive(n[b] - n[a], s[b] - s[a], share, min_cell)
        for g in names:
            with np.errstate(invalid="ignore", divide="ignore"):
                mean = np.where(n[g] > 0, s[g] / np.where(n[g] > 0, n[g], 1), np.nan)
            frame = pd.DataFrame({"series": g, period: periods, "outcome": outcome,
                                  "n_followed": np.where(hidden[g], np.nan, n[g]),
                                  "mean": np.where(hidden[g], np.nan, mean), "suppressed": hidden[g]})
            rows.append(frame)
    columns = ["series", period, "outcome", "n_followed", "mean", "suppressed"]
    table = pd.concat(rows, ignore_index=True) if rows else pd.DataFrame(columns=columns)
    return table.sort_values(["outcome", "series", period], key=_in_order(names, list(outcomes)),
                             kind="stable").reset_index(drop=True)


def _in_order(series: list[str], outcomes: list[str]) -> Any:
    def key(column: pd.Series) -> pd.Series:
        if column.name == "series":
            return column.map(series.index)
        if column.name == "outcome":
            return column.map(outcomes.index)
        return column
    return key


def _disclosive(n: np.ndarray, total: np.ndarray, share: bool, min_cell: int) -> np.ndarray:
    """Cells of ``n`` persons (summing to ``total``) that may not be shown."""
    hidden = small_count(n, min_cell)
    if share:
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = np.where(n > 0, total / np.where(n > 0, n, 1), 0.0)
        hidden |= share_disclosive(n, mean, min_cell)
    return hidden


@dataclass(frozen=True, eq=False)
class CurvesResult:
    """Descriptive curves of declared groups (:func:`group_curves`).

    Attributes
    ----------
    table
        ``group, label, label_da, <period>, period_label, outcome, n_followed, mean, suppressed, note``;
        disclosure-controlled.
    axis
        The panel's time axis.
    groups
        The declared groups, in order.
    min_cell
        The disclosure threshold applied.
    labels
        Outcome labels (``{name: {"label_en":…, "label_da":…}}``) for figures.
    """

    table: pd.DataFrame
    axis: TimeAxis
    groups: tuple[CurveGroup, ...]
    min_cell: int = 5
    labels: Mapping[str, Any] = field(default_factory=dict)

    @property
    def outcomes(self) -> list[str]:
        """The outcomes of the table, in order."""
        return list(dict.fromkeys(self.table["outcome"]))

    def summary(self, lang: str = "en") -> str:
        """A few lines for the console."""
        t = TEXT[lang]
        lines = [t["title"], t["groups"].format(n=len(self.groups), p=self.table[self.axis.column].nunique(),
                                                o=len(self.outcomes))]
        counts = self.table.groupby("group", sort=False)["n_followed"].max()
        for g in self.groups:
            n = counts.get(g.name, np.nan)
            lines.append(f"  {g.label(lang)} ({g.filter}): {t['followed'].lower()} max "
                         + ("·" if pd.isna(n) else f"{int(n)}"))
        hidden = int(self.table["suppressed"].sum())
        if hidden:
            lines.append(t["hidden"].format(n=hidden, k=self.min_cell))
        lines.append(t["note"])
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        """A compact view for notebooks: the summary and the (disclosure-controlled) table."""
        from trialeval._console import summary_html
        return summary_html(self)

    def plot(self, outcome: str, *, lang: str = "en") -> Figure:
        """The curves of ``outcome``: mean (top) and persons followed (bottom), a line per group."""
        from trialeval.i18n import outcome as outcome_label
        fig = Figure(figsize=(7.5, 5.6), layout="constrained")
        top, bottom = fig.subplots(2, 1, sharex=True, height_ratios=[3, 1.4])
        part = self.table.loc[self.table["outcome"] == outcome]
        draw_curves(top, bottom, part, "group", [(g.name, g.label(lang)) for g in self.groups], self.axis, lang)
        top.set_title(outcome_label(outcome, lang, self.labels))
        fig.suptitle(TEXT[lang]["note"], fontsize=7, wrap=True)
        return fig


def draw_curves(top: Axes, bottom: Axes, table: pd.DataFrame, series: str, order: Sequence[tuple[str, str]],
                axis: TimeAxis, lang: str) -> None:
    """Draw the mean (``top``) and persons followed (``bottom``) of one outcome, a line per series.

    Suppressed cells are gaps. A share is drawn in percent. On a calendar axis the periods are placed one
    after the other and labelled ``2016-W43`` / ``2016-03``.
    """
    from trialeval.plots import _number_ticks
    t = TEXT[lang]
    period = axis.column
    periods = np.sort(pd.unique(table[period]))
    calendar = axis.alignment == "calendar"
    x_of = {p: (i if calendar else p) for i, p in enumerate(periods)}
    from trialeval.report_tables import HOURS_OUTCOMES
    hours = bool(table["outcome"].isin(HOURS_OUTCOMES).any()) if "outcome" in table.columns else False
    share = not hours and len(table) > 0 and bool(table["mean"].dropna().between(0, 1).all())
    for name, label in order:
        part = table.loc[table[series] == name].sort_values(period)
        x = part[period].map(x_of).to_numpy(dtype=float)
        mean = part["mean"].to_numpy(dtype=float) * (100.0 if share else 1.0)
        top.plot(x, mean, marker="." if len(x) < 30 else None, linewidth=1.5, label=label)
        bottom.plot(x, part["n_followed"].to_numpy(dtype=float), linewidth=1.2, label=label)
    top.set_ylabel(t["percent"] if share else t["mean"])
    bottom.set_ylabel(t["followed"])
    bottom.set_xlabel(axis.axis_label(lang))
    for ax in (top, bottom):
        _number_ticks(ax, lang)
        ax.grid(True, linewidth=0.3, alpha=0.6)
    if calendar and len(periods):
        step = max(1, int(np.ceil(len(periods) / 8)))
        ticks = np.arange(0, len(periods), step)
        bottom.set_xticks(ticks, [axis.period_label(int(periods[i]), lang) for i in ticks], rotation=30,
                          fontsize="small")
    top.legend(loc="best", fontsize="small")


def group_curves(panel: pd.DataFrame, ledger: pd.DataFrame, settings: CurveSettings, *,
                 outcomes: Sequence[str] | None = None, min_cell: int = 5, source: str = "ledger",
                 labels: Mapping[str, Any] | None = None) -> CurvesResult:
    """Per declared group, period and outcome: persons followed and the mean — descriptive, no effect.

    Parameters
    ----------
    panel
        The person-by-period panel (any time axis): ``person_id``, the period column, the outcomes.
    ledger
        One row per person: ``person_id`` and the columns the filters name.
    settings
        The groups (``[curves]``).
    outcomes
        Outcome columns of ``panel`` (default ``settings.outcomes``).
    min_cell
        Disclosure threshold (see the module).
    source
        The ledger's name in messages.
    labels
        Outcome labels for the figures.

    Examples
    --------
    >>> panel = pd.DataFrame({"person_id": ["a", "b", "c", "a", "b", "c"], "week": [1, 1, 1, 2, 2, 2],
    ...                       "y": [1, 0, 1, 1, 1, None]})
    >>> ledger = pd.DataFrame({"person_id": ["a", "b", "c"], "wave": [1, 1, 2]})
    >>> s = CurveSettings.from_dict({"groups": {"all": "true", "first": "wave == 1"}}, "t.toml")
    >>> r = group_curves(panel, ledger, s, outcomes=["y"], min_cell=0)
    >>> r.table[["group", "week", "n_followed", "mean"]].values.tolist()
    [['all', 1, 3.0, 0.6666666666666666], ['all', 2, 2.0, 1.0], ['first', 1, 2.0, 0.5], ['first', 2, 2.0, 1.0]]
    """
    names = list(outcomes if outcomes is not None else settings.outcomes or ())
    if not names:
        raise InputDataError("no outcomes: give --outcomes or [curves] outcomes (or [analysis] outcomes)")
    axis = panel_axis(list(panel.columns), "panel")
    missing = [o for o in names if o not in panel.columns]
    if missing:
        raise InputDataError(f"panel: outcome column(s) {', '.join(missing)} missing")
    if "person_id" not in ledger.columns or ledger["person_id"].duplicated().any():
        raise InputDataError(f"{source}: needs one row per person_id")
    ids = ledger["person_id"].astype(str).to_numpy()
    where = pd.Index(ids).get_indexer(panel["person_id"].astype(str))
    if (where < 0).any():
        raise InputDataError(f"{source}: {int((where < 0).sum())} panel row(s) have a person_id not in the ledger")
    members = {g.name: g.members(ledger, source)[where] for g in settings.groups}
    cells = series_cells(panel, members, names, axis.column, min_cell)
    by_name = {g.name: g for g in settings.groups}
    table = cells.rename(columns={"series": "group"})
    table.insert(1, "label", table["group"].map(lambda g: by_name[g].label("en")))
    table.insert(2, "label_da", table["group"].map(lambda g: by_name[g].label("da")))
    table.insert(4, "period_label", table[axis.column].map(lambda k: axis.period_label(int(k), "en")))
    table["note"] = NOTE
    return CurvesResult(table, axis, settings.groups, min_cell, dict(labels or {}))


__all__ = ["CurveGroup", "CurveSettings", "CurvesResult", "NOTE", "draw_curves", "group_curves", "is_share",
           "panel_axis", "parse_filter", "series_cells"]
