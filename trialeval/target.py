"""A target population over calendar time: the gross and narrow groups, their curves by site group, and
the two-period difference in differences between site groups.

On a calendar axis (ISO weeks ``2016-W43`` or months ``2016-03``) everyone in the population is observed
in every period from ``from`` to ``to`` (up to the extraction date). ``[target]`` of ``trial.toml``
declares who is followed::

    [target]
    rule = "benefit"               # an outcome or spell type: the rule holds in a period when it is 1
    from = "2016-W43"
    to = "2018-W50"
    site_group = "stv_jobcentre"   # a column of the population: the two groups of sites compared
    programme = "yes"              # the value of site_group of the programme's sites (true/1 by default)
    site = "jobcentre"             # the site (default municipality): the clusters of the standard errors
    before = "2016-W43"            # a period or [first, last] before …
    after = ["2018-W01", "2018-W50"]   # … and after: the two-period difference in differences

- A person enters the **gross** group in the first period the rule holds and stays in it.
- A person-period is in the **narrow** group when the rule holds that period.

Per site group, period and outcome the curves give the mean among the persons followed and their number
(disclosure-controlled as in :mod:`trialeval.curves`: the narrow group is inside the gross group, so a
small difference between them suppresses the narrow cell). The difference in differences is the
regression of the outcome on the person-period rows of the two periods, ``y ~ group * after``, with CR2
standard errors clustered by site and Bell–McCaffrey degrees of freedom — R's
``estimatr::lm_robust(y ~ g * after, clusters = site, se_type = "CR2")`` — its interaction being the
programme sites' change minus the other sites' change. It compares groups of sites over time, not a
lottery: it is an effect only if both groups would have changed alike without the programme (parallel
trends).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from trialeval.curves import draw_curves, is_share, series_cells
from trialeval.disclosure import few_persons, small_count
from trialeval.exceptions import ConfigError, InputDataError
from trialeval.timeaxis import CALENDAR_MONTH, CALENDAR_WEEK, TimeAxis

#: The two populations of a target group, in the order shown.
POPULATIONS = ("gross", "narrow")
_WEEK = re.compile(r"^(\d{4})-W(\d{2})$")
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
_KEYS = {"rule", "from", "to", "site_group", "site", "programme", "before", "after", "outcomes"}

TEXT: dict[str, dict[str, str]] = {
    "en": {"title": "Target population over calendar time",
           "gross": "Gross group (entered the target group)", "narrow": "Narrow group (in the target group that period)",
           "programme_sites": "Programme sites", "other_sites": "Other sites",
           "caveat": "A comparison of groups of sites over time, not a lottery: the difference in differences is "
                     "an effect only if both groups of sites would have changed alike without the programme "
                     "(parallel trends).",
           "did": "Difference in differences, {pop}, {outcome}: {est} (95 % CI {lo} to {hi}), CR2 clustered by "
                  "{site}, {sites} sites",
           "followed": "persons followed in {period}: {counts}",
           "hidden": "{n} cell(s) with fewer than {k} persons (or a share resting on fewer) are suppressed."},
    "da": {"title": "Målgruppe over kalendertid",
           "gross": "Bruttogruppe (indtrådt i målgruppen)", "narrow": "Nettogruppe (i målgruppen i perioden)",
           "programme_sites": "Indsatsens enheder", "other_sites": "Øvrige enheder",
           "caveat": "En sammenligning af grupper af enheder over tid, ikke en lodtrækning: forskellen i "
                     "forskelle er kun en effekt, hvis begge grupper af enheder ville have udviklet sig ens uden "
                     "indsatsen (parallelle tendenser).",
           "did": "Forskel i forskelle, {pop}, {outcome}: {est} (95 %-KI {lo} til {hi}), CR2 klynget på {site}, "
                  "{sites} enheder",
           "followed": "personer fulgt i {period}: {counts}",
           "hidden": "{n} celle(r) med færre end {k} personer (eller en andel baseret på færre) er undertrykt."},
}
#: The row of the difference in ``target_did.csv``.
DIFFERENCE = "difference"


def parse_period(label: Any, where: str) -> tuple[TimeAxis, int]:
    """A calendar period label as its axis and number: ``2016-W43`` → (calendar weeks, 201643).

    Examples
    --------
    >>> axis, k = parse_period("2016-W43", "from")
    >>> axis.name, k, parse_period("2016-03", "to")[1]
    ('calendar_week', 201643, 201603)
    >>> parse_period("2017-W53", "[target] to")
    Traceback (most recent call last):
    ...
    trialeval.exceptions.ConfigError: [target] to: 2017-W53 is not a calendar period; give an ISO week 2016-W43 (2017 has 52 weeks) or a month 2016-03
    """
    from trialeval.panel.periods import parse_period as checked_period

    text = str(label).strip() if isinstance(label, str) else ""
    week, month = _WEEK.match(text), _MONTH.match(text)
    axis = CALENDAR_WEEK if week else CALENDAR_MONTH if month else None
    if axis is not None:
        try:
            return axis, checked_period(axis, text, where)
        except InputDataError:
            pass
    if week:
        last_week = int(CALENDAR_WEEK.period_of(None, np.array([f"{week[1]}-12-28"], dtype="datetime64[D]"))[0]) % 100
        raise ConfigError(f"{where}: {text} is not a calendar period; give an ISO week 2016-W43 "
                          f"({week[1]} has {last_week} weeks) or a month 2016-03")
    raise ConfigError(f"{where}: {label!r} is not a calendar period; give an ISO week 2016-W43 or a month 2016-03")


@dataclass(frozen=True)
class TargetSettings:
    """``[target]`` of ``trial.toml``, checked (see the module).

    Examples
    --------
    >>> s = TargetSettings.from_dict({"rule": "benefit", "from": "2016-W43", "to": "2016-W52",
    ...                               "site_group": "stv", "before": "2016-W43", "after": ["2016-W50", "2016-W52"]})
    >>> s.axis.name, s.period_from, s.before, s.after, s.site
    ('calendar_week', 201643, (201643, 201643), (201650, 201652), 'municipality')
    >>> TargetSettings.from_dict({"rule": "benefit", "from": "2016-W50", "to": "2016-W43", "site_group": "g"})
    Traceback (most recent call last):
    ...
    trialeval.exceptions.ConfigError: trial.toml: [target] from (2016-W50) is after to (2016-W43)
    """

    rule: str
    period_from: int
    period_to: int
    axis_name: str
    site_group: str
    site: str = "municipality"
    programme: Any = None
    before: tuple[int, int] | None = None
    after: tuple[int, int] | None = None
    outcomes: tuple[str, ...] | None = None

    @property
    def axis(self) -> TimeAxis:
        """The calendar axis of the periods (weeks or months)."""
        return CALENDAR_WEEK if self.axis_name == CALENDAR_WEEK.name else CALENDAR_MONTH

    def label(self, k: int) -> str:
        """A period's label, e.g. ``2016-W43``."""
        return self.axis.period_label(int(k))

    @classmethod
    def from_dict(cls, table: Mapping[str, Any], source: str = "trial.toml",
                  columns: Mapping[str, str] | None = None) -> TargetSettings:
        where = f"{source}: [target]"
        unknown = set(table) - _KEYS
        if unknown:
            raise ConfigError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}; allowed: {', '.join(sorted(_KEYS))}")
        for key in ("rule", "from", "to", "site_group"):
            if not isinstance(table.get(key), str) or not table[key].strip():
                raise ConfigError(f"{where} {key} is required (a text), e.g. rule = \"benefit\", from = \"2016-W43\", "
                                  "to = \"2018-W50\", site_group = \"stv_jobcentre\"")
        axis, first = parse_period(table["from"], f"{where} from")
        axis_to, last = parse_period(table["to"], f"{where} to")
        if axis_to != axis:
            raise ConfigError(f"{where}: from ({table['from']}) and to ({table['to']}) are not on the same axis "
                              "(both weeks 2016-W43 or both months 2016-03)")
        if first > last:
            raise ConfigError(f"{where} from ({table['from']}) is after to ({table['to']})")
        contrast = [_range(table.get(key), key, axis, (first, last), where) for key in ("before", "after")]
        if (contrast[0] is None) != (contrast[1] is None):
            raise ConfigError(f"{where}: give both before and after (or neither)")
        if contrast[0] is not None and contrast[1] is not None and contrast[0][1] >= contrast[1][0]:
            raise ConfigError(f"{where}: before must end before after begins")
        site = table.get("site", (columns or {}).get("municipality", "municipality"))
        if not isinstance(site, str):
            raise ConfigError(f"{where} site must be a column name")
        outcomes = table.get("outcomes")
        if outcomes is not None and (not isinstance(outcomes, list) or not all(isinstance(o, str) for o in outcomes)):
            raise ConfigError(f"{where} outcomes must be a list of outcome names")
        return cls(rule=table["rule"].strip(), period_from=first, period_to=last, axis_name=axis.name,
                   site_group=table["site_group"].strip(), site=site, programme=table.get("programme"),
                   before=contrast[0], after=contrast[1], outcomes=tuple(outcomes) if outcomes is not None else None)

    def check_columns(self, population: pd.DataFrame, source: str) -> None:
        """Stop unless ``population`` has ``person_id``, the site and the site group, and every site is in one
        site group of two (naming the column and the offending values)."""
        for column, key in (("person_id", "person_id"), (self.site, "site"), (self.site_group, "site_group")):
            if column not in population.columns:
                raise InputDataError(f"{source}: column '{column}' ([target] {key}) is missing")
        groups = population[self.site_group].astype(str)
        if population[self.site_group].isna().any() or groups.nunique() != 2:
            raise InputDataError(f"{source}: column '{self.site_group}' ([target] site_group) must hold two site "
                                 f"groups and no blank; it holds {sorted(groups.unique())[:10]}")
        split = population.groupby(population[self.site].astype(str))[self.site_group].nunique()
        if (split > 1).any():
            raise InputDataError(f"{source}: site(s) {', '.join(split.index[split > 1][:10])} of column '{self.site}' "
                                 f"are in both groups of '{self.site_group}'")

    def programme_value(self, values: pd.Series, source: str) -> str:
        """The site group of the programme's sites, as text: ``programme``, else the true / 1 of two."""
        present = sorted(values.astype(str).unique())
        if self.programme is not None:
            if str(self.programme) not in present:
                raise InputDataError(f"{source}: [target] programme = {self.programme!r} is not a value of column "
                                     f"'{self.site_group}' ({', '.join(present)})")
            return str(self.programme)
        for value in ("True", "true", "1", "1.0", "yes"):
            if value in present:
                return value
        raise InputDataError(f"{source}: set [target] programme to the value of '{self.site_group}' that marks the "
                             f"programme's sites (one of {', '.join(present)})")


def _range(value: Any, key: str, axis: TimeAxis, window: tuple[int, int], where: str) -> tuple[int, int] | None:
    if value is None:
        return None
    labels = [value] if isinstance(value, str) else value
    if not isinstance(labels, list) or not 1 <= len(labels) <= 2:
        raise ConfigError(f"{where} {key} must be a period \"2016-W43\" or a range [\"2016-W43\", \"2016-W52\"]")
    periods = []
    for label in labels:
        found, k = parse_period(label, f"{where} {key}")
        if found != axis:
            raise ConfigError(f"{where} {key}: {label} is not on the axis of from and to")
        if not window[0] <= k <= window[1]:
            raise ConfigError(f"{where} {key}: {label} is outside from … to")
        periods.append(k)
    if periods[0] > periods[-1]:
        raise ConfigError(f"{where} {key}: the range's first period is after its last")
    return periods[0], periods[-1]


def target_membership(panel: pd.DataFrame, rule: str, period: str) -> pd.DataFrame:
    """``panel`` sorted by person and period with boolean columns ``narrow`` (the rule holds that period)
    and ``gross`` (the rule has held in this or an earlier period of the panel).

    Examples
    --------
    >>> p = pd.DataFrame({"person_id": ["a"] * 5, "calendar_week": [201601, 201602, 201603, 201604, 201605],
    ...                   "benefit": [0, 1, 0, 1, None]})
    >>> m = target_membership(p, "benefit", "calendar_week")
    >>> m["narrow"].tolist(), m["gross"].tolist()
    ([False, True, False, True, False], [False, True, True, True, True])
    """
    if rule not in panel.columns:
        raise InputDataError(f"panel: no column for the target rule '{rule}'")
    out = panel.sort_values(["person_id", period], kind="stable").reset_index(drop=True)
    narrow = pd.to_numeric(out[rule], errors="coerce").fillna(0).to_numpy() > 0
    out["narrow"] = narrow
    out["gross"] = pd.Series(narrow, index=out.index).groupby(out["person_id"].to_numpy()).cummax().to_numpy()
    return out


def target_curves(panel: pd.DataFrame, outcomes: Sequence[str], settings: TargetSettings, *,
                  min_cell: int = 5) -> pd.DataFrame:
    """Per population (gross, narrow), site group, period and outcome: persons followed and the mean.

    ``panel`` comes from :func:`target_membership` with the site group column. Returns ``population,
    site_group, <period>, period_label, outcome, n_followed, mean, suppressed`` (disclosure-controlled).
    """
    period = settings.axis.column
    groups = sorted(panel[settings.site_group].astype(str).unique())
    site_group = panel[settings.site_group].astype(str).to_numpy()
    members = {f"{pop}\x00{g}": panel[pop].to_numpy(dtype=bool) & (site_group == g)
               for pop in POPULATIONS for g in groups}
    cells = series_cells(panel, members, outcomes, period, min_cell)
    parts = cells["series"].str.split("\x00", expand=True)
    cells.insert(0, "population", parts[0])
    cells.insert(1, "site_group", parts[1])
    cells = cells.drop(columns="series")
    cells.insert(3, "period_label", cells[period].map(settings.label))
    order = {p: i for i, p in enumerate(POPULATIONS)}
    return cells.sort_values(["outcome", "population", "site_group", period],
                             key=lambda c: c.map(order) if c.name == "population" else c,
                             kind="stable").reset_index(drop=True)


def did_rows(panel: pd.DataFrame, outcome: str, population: str, settings: TargetSettings) -> pd.DataFrame:
    """The person-period rows of the difference in differences: in ``population`` in a before or after
    period, the outcome observed; columns ``person_id, period, site, group (1 = programme), after, y``."""
    assert settings.before is not None and settings.after is not None
    k = panel[settings.axis.column].to_numpy()
    before = (k >= settings.before[0]) & (k <= settings.before[1])
    after = (k >= settings.after[0]) & (k <= settings.after[1])
    y = pd.to_numeric(panel[outcome], errors="coerce")
    keep = (before | after) & panel[population].to_numpy(dtype=bool) & y.notna().to_numpy()
    programme = settings.programme_value(panel[settings.site_group], "population")
    rows = pd.DataFrame({"person_id": panel["person_id"].to_numpy()[keep], "period": k[keep],
                         "site": panel[settings.site].astype(str).to_numpy()[keep],
                         "group": (panel[settings.site_group].astype(str).to_numpy()[keep] == programme).astype(float),
                         "after": after[keep].astype(float), "y": y.to_numpy(dtype=float)[keep]})
    return rows


def did_estimate(rows: pd.DataFrame, alpha: float = 0.05) -> dict[str, float]:
    """``y ~ group * after`` by least squares with CR2 by ``site``: the interaction, its SE, df, CI and p.

    As ``estimatr::lm_robust(y ~ group * after, clusters = site, se_type = "CR2")``; missing values (NaN)
    when a cell of the two-by-two is empty or there are fewer than three sites.

    Examples
    --------
    >>> rows = pd.DataFrame({"site": list("aabbccdd"), "group": [1, 1, 1, 1, 0, 0, 0, 0],
    ...                      "after": [0, 1] * 4, "y": [1.0, 3, 2, 4, 1, 1, 2, 3]})
    >>> round(did_estimate(rows)["estimate"], 10)   # (3.5 − 1.5) − (2 − 1.5)
    1.5
    """
    from trialeval.comparison import cr2_regression
    from trialeval.effects.inference import _t_inference
    g, a, y = (rows[c].to_numpy(dtype=float) for c in ("group", "after", "y"))
    nan = {"estimate": np.nan, "se": np.nan, "df": np.nan, "ci_low": np.nan, "ci_high": np.nan, "p_value": np.nan}
    cells = [((g == i) & (a == j)).sum() for i in (0, 1) for j in (0, 1)]
    if min(cells) == 0:
        return nan
    means = {(i, j): float(y[(g == i) & (a == j)].mean()) for i in (0, 1) for j in (0, 1)}
    estimate = (means[1, 1] - means[1, 0]) - (means[0, 1] - means[0, 0])
    if rows["site"].nunique() < 3:
        return {**nan, "estimate": estimate}
    X = np.column_stack([np.ones(len(y)), g, a, g * a])
    fit = cr2_regression(X, y, rows["site"].to_numpy(), None, ("(Intercept)", "group", "after", "group:after"))
    se = float(np.sqrt(fit.vcov[3, 3]))
    low, high, p = _t_inference(np.array([fit.beta[3]]), np.array([se]), np.array([fit.df[3]]), alpha)
    return {"estimate": float(fit.beta[3]), "se": se, "df": float(fit.df[3]), "ci_low": float(low[0]),
            "ci_high": float(high[0]), "p_value": float(p[0])}


def did_table(panel: pd.DataFrame, outcomes: Sequence[str], settings: TargetSettings, *, min_cell: int = 5,
              alpha: float = 0.05) -> pd.DataFrame:
    """Per population and outcome: each site group's mean before and after and its change, and the
    difference of the changes (programme sites minus the others) with its CR2 CI.

    Columns ``population, outcome, site_group, n_before, n_after, mean_before, mean_after, change, se, df,
    ci_low, ci_high, p_value, n_sites, suppressed``; ``n_`` are persons (a person followed in several
    periods of a range counts once), means are over person-periods. A site group's cell with fewer than
    ``min_cell`` persons, or (a share) fewer than ``min_cell`` persons ever with or ever without the outcome,
    is suppressed, and so is then the difference; a narrow cell is suppressed too when the person-periods
    of the gross cell outside it would be such a cell (the two cells' difference would reveal them).
    """
    programme = settings.programme_value(panel[settings.site_group], "population")
    other = [v for v in sorted(panel[settings.site_group].astype(str).unique()) if v != programme][0]
    out = []
    gross = {outcome: did_rows(panel, outcome, "gross", settings) for outcome in outcomes}
    for population in POPULATIONS:
        for outcome in outcomes:
            rows = gross[outcome] if population == "gross" else did_rows(panel, outcome, population, settings)
            share = is_share(panel[outcome])
            hidden_any = False
            for value, flag in ((programme, 1.0), (other, 0.0)):
                part = rows.loc[rows["group"] == flag]
                row: dict[str, Any] = {"population": population, "outcome": outcome, "site_group": value}
                hidden = False
                for when, a in (("before", 0.0), ("after", 1.0)):
                    cell = part.loc[part["after"] == a]
                    row[f"n_{when}"] = float(cell["person_id"].nunique())
                    row[f"mean_{when}"] = float(cell["y"].mean()) if len(cell) else np.nan
                    hidden |= bool(_cell_disclosive(cell, share, min_cell))
                    if population != "gross":           # the gross cell minus this one must not be small either
                        whole = gross[outcome]
                        whole = whole.loc[(whole["group"] == flag) & (whole["after"] == a)]
                        rest = whole.merge(cell[["person_id", "period"]], on=["person_id", "period"], how="left",
                                           indicator=True)
                        rest = rest.loc[rest["_merge"] == "left_only"]
                        hidden |= len(rest) > 0 and bool(_cell_disclosive(rest, share, min_cell))
                row["change"] = row["mean_after"] - row["mean_before"]
                row["n_sites"] = float(part["site"].nunique())
                row["suppressed"] = hidden
                if hidden:
                    row.update({c: np.nan for c in ("n_before", "n_after", "mean_before", "mean_after", "change")})
                hidden_any |= hidden
                out.append(row)
            fit = did_estimate(rows, alpha)
            diff = {"population": population, "outcome": outcome, "site_group": DIFFERENCE,
                    "change": fit["estimate"], **{k: fit[k] for k in ("se", "df", "ci_low", "ci_high", "p_value")},
                    "n_sites": float(rows["site"].nunique()), "suppressed": hidden_any}
            if hidden_any:
                diff.update({c: np.nan for c in ("change", "se", "df", "ci_low", "ci_high", "p_value")})
            out.append(diff)
    columns = ["population", "outcome", "site_group", "n_before", "n_after", "mean_before", "mean_after", "change",
               "se", "df", "ci_low", "ci_high", "p_value", "n_sites", "suppressed"]
    return pd.DataFrame(out).reindex(columns=columns)


def _cell_disclosive(cell: pd.DataFrame, share: bool, min_cell: int) -> bool:
    persons = cell.groupby("person_id")["y"].agg(["max", "min"])
    if few_persons([float(len(persons))], min_cell)[0]:       # an empty cell has nothing to show either
        return True
    if share:
        ever, never = float((persons["max"] > 0).sum()), float((persons["min"] <= 0).sum())
        return bool(small_count([ever, never], min_cell).any())
    return False


@dataclass(frozen=True, eq=False)
class TargetResult:
    """The target population's curves and difference in differences (:func:`target_population`)."""

    curves: pd.DataFrame
    did: pd.DataFrame | None
    settings: TargetSettings
    min_cell: int = 5
    labels: Mapping[str, Any] = field(default_factory=dict)

    @property
    def table(self) -> pd.DataFrame:
        """The curves (for notebooks)."""
        return self.curves

    @property
    def outcomes(self) -> list[str]:
        """The outcomes, in order."""
        return list(dict.fromkeys(self.curves["outcome"]))

    def summary(self, lang: str = "en") -> str:
        """The populations followed in the last period and the differences in differences, with the caveat."""
        from trialeval.formatting import number
        from trialeval.i18n import outcome as outcome_label
        t = TEXT[lang]
        lines = [t["title"]]
        last = self.curves[self.settings.axis.column].max() if len(self.curves) else None
        if last is not None:
            first_outcome = self.curves.loc[(self.curves[self.settings.axis.column] == last)
                                            & (self.curves["outcome"] == self.outcomes[0])]
            counts = ", ".join(f"{r.population} {r.site_group} "
                               + ("·" if pd.isna(r.n_followed) else str(int(r.n_followed)))
                               for r in first_outcome.itertuples())
            lines.append(t["followed"].format(period=self.settings.label(last), counts=counts))
        if self.did is not None:
            for r in self.did.loc[self.did["site_group"] == DIFFERENCE].itertuples():
                def f(v: float) -> str:
                    return "·" if pd.isna(v) else number(float(v), lang, 3)
                lines.append(t["did"].format(pop=r.population, outcome=outcome_label(str(r.outcome), lang, self.labels),
                                             est=f(r.change), lo=f(r.ci_low), hi=f(r.ci_high), site=self.settings.site,
                                             sites=int(r.n_sites)))
        hidden = int(self.curves["suppressed"].sum())
        if hidden:
            lines.append(t["hidden"].format(n=hidden, k=self.min_cell))
        lines.append(t["caveat"])
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        """A compact view for notebooks: the summary and the (disclosure-controlled) table."""
        from trialeval._console import summary_html
        return summary_html(self)

    def plot(self, outcome: str, *, lang: str = "en") -> Figure:
        """The curves of ``outcome``: gross (left) and narrow (right) group, mean above, persons followed below."""
        return plot_target(self.curves, outcome, self.settings.axis, self.settings.site_group, lang=lang,
                           labels=self.labels, programme=self.settings.programme_value(self.curves["site_group"],
                                                                                       "population"))


def plot_target(curves: pd.DataFrame, outcome: str, axis: TimeAxis, site_group: str = "site_group", *,
                lang: str = "en", labels: Mapping[str, Any] | None = None, programme: str | None = None) -> Figure:
    """The figure of one outcome from a (controlled) curves table: gross group left, narrow group right, a
    line per site group; mean above, persons followed below. Suppressed cells are gaps. With ``programme``
    (the site group of the programme's sites) the lines are called programme sites and other sites."""
    from trialeval.i18n import outcome as outcome_label
    from trialeval.i18n import value
    fig = Figure(figsize=(11.0, 5.6), layout="constrained")
    axes = fig.subplots(2, 2, sharex=True, height_ratios=[3, 1.4])
    part = curves.loc[curves["outcome"] == outcome]
    def name(g: Any) -> str:
        group = f"{site_group} = {value(str(g), lang)}"
        if programme is None:
            return group
        return f"{TEXT[lang]['programme_sites' if str(g) == programme else 'other_sites']} ({group})"

    order = [(g, name(g)) for g in sorted(part["site_group"].unique())]
    for j, population in enumerate(POPULATIONS):
        rows = part.loc[part["population"] == population]
        draw_curves(axes[0, j], axes[1, j], rows, "site_group", order, axis, lang)
        axes[0, j].set_title(TEXT[lang][population], fontsize="medium")
    fig.suptitle(outcome_label(outcome, lang, labels))
    return fig


def target_population(panel: pd.DataFrame, population: pd.DataFrame, settings: TargetSettings,
                      outcomes: Sequence[str], *, min_cell: int = 5, alpha: float = 0.05, source: str = "population",
                      labels: Mapping[str, Any] | None = None) -> TargetResult:
    """The gross and narrow groups' curves by site group and, with ``before``/``after``, the difference
    in differences, from a calendar-axis panel holding the rule's indicator.

    Parameters
    ----------
    panel
        Person-by-period panel on the settings' calendar axis: ``person_id``, the period column, the rule's
        column and the outcomes. Periods outside ``from`` … ``to`` are left out.
    population
        One row per person: ``person_id``, the site and the site group columns.
    settings
        ``[target]``.
    outcomes
        Outcome columns of ``panel``.
    min_cell, alpha
        Disclosure threshold; 1 − confidence level.
    source, labels
        The population's name in messages; outcome labels.
    """
    settings.check_columns(population, source)
    period = settings.axis.column
    missing = [c for c in [period, *outcomes] if c not in panel.columns]
    if missing:
        raise InputDataError(f"panel: column(s) {', '.join(missing)} missing")
    k = panel[period].to_numpy()
    rows = panel.loc[(k >= settings.period_from) & (k <= settings.period_to)]
    persons = population[["person_id", settings.site, settings.site_group]].astype({"person_id": str})
    if persons["person_id"].duplicated().any():
        raise InputDataError(f"{source}: person_id must be unique")
    rows = rows.drop(columns=[c for c in (settings.site, settings.site_group) if c in rows.columns and c != "person_id"])
    rows = rows.assign(person_id=rows["person_id"].astype(str)).merge(persons, on="person_id", how="inner")
    marked = target_membership(rows, settings.rule, period)
    curves = target_curves(marked, outcomes, settings, min_cell=min_cell)
    did = (did_table(marked, outcomes, settings, min_cell=min_cell, alpha=alpha)
           if settings.before is not None else None)
    return TargetResult(curves, did, settings, min_cell, dict(labels or {}))


__all__ = ["DIFFERENCE", "POPULATIONS", "TargetResult", "TargetSettings", "did_estimate", "did_rows", "did_table",
           "parse_period", "plot_target", "target_curves", "target_membership", "target_population"]
