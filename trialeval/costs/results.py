"""The result of :func:`trialeval.costs.costs`: tables, summary, export and figures."""

from __future__ import annotations

import dataclasses
import html
import math
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

from trialeval.costs.model import Correlation, Payer
from trialeval.costs.scenarios import Scenarios
from trialeval.exceptions import InputDataError
from trialeval.timeaxis import WEEKS_SINCE_VISITATION, TimeAxis

#: The columns of ``costs.csv``, in order (one row per scenario and payer).
TABLE_COLUMNS = (
    "scenario", "label", "payer", "benefit_savings", "tax_revenue", "costs", "net_result",
    "benefit_savings_per_100", "tax_revenue_per_100", "costs_per_100", "net_result_per_100",
    "break_even_scale", "break_even_persistence_years", "break_even_cost", "payback_week",
    "prob_net_positive", "persistence", "horizon_years", "discount_rate", "cohorts", "include_startup",
    "programme_cost", "observed_weeks", "end_effect_hours", "end_effect_self_supporting",
)


@dataclass(frozen=True, eq=False)
class CostsResult:
    """Cost scenarios evaluated on one effects table.

    Attributes
    ----------
    table
        One row per scenario and payer (the ``costs.csv`` columns, :data:`TABLE_COLUMNS`).
    flows
        Discounted weekly flows per scenario, payer and calendar week, with the cumulative net result.
    sensitivity
        One-way sensitivity of the total net result per participant: scenario, parameter, low/high
        setting and net result.
    scenarios
        The :class:`Scenarios` evaluated.
    axis
        The time axis the periods are counted on (that of ``scenarios``; weeks since visitation).
    """

    table: pd.DataFrame
    flows: pd.DataFrame
    sensitivity: pd.DataFrame
    scenarios: Scenarios
    observed_weeks: int
    draws: int
    correlation: Correlation
    notes: tuple[str, ...] = field(default_factory=tuple)
    axis: TimeAxis = WEEKS_SINCE_VISITATION

    def to_frame(self) -> pd.DataFrame:
        """The ``costs.csv`` table (a copy)."""
        return self.table.copy()

    def summary(self, lang: str = "en") -> str:
        """A plain-text table of the net result per participant by scenario and payer; numbers in ``lang``
        (Danish: whole kroner ``1.504``, P(net > 0) and the break-even scale with two decimals ``0,46``)."""
        from trialeval import _console as console

        console.check(lang)
        t, words = self.table, self.axis.text("en")
        payback_header = f"payback {words.abbreviation}"

        def kr(v: Any) -> str:
            return console.fmt(v, ",.0f", lang, "kroner" if lang != "en" else None).removesuffix(" kr.")

        lines = [
            f"Cost scenarios ({self.scenarios.source}); observed window: {words.plural} 1–{self.observed_weeks}; "
            f"kr. per participant, present value",
            f"{'scenario':<10}{'payer':<14}{'benefit':>11}{'tax':>11}{'costs':>11}{'net':>11}"
            f"{'P(net>0)':>10}{payback_header:>12}{'b-e scale':>11}",
        ]
        for row in t.itertuples():
            payback = "never" if pd.isna(row.payback_week) else f"{int(row.payback_week)}"
            lines.append(
                f"{row.scenario:<10}{row.payer:<14}{kr(row.benefit_savings):>11}{kr(row.tax_revenue):>11}"
                f"{kr(row.costs):>11}{kr(row.net_result):>11}{console.fmt(row.prob_net_positive, '.2f', lang):>10}"
                f"{payback:>12}{console.fmt(row.break_even_scale, '.2f', lang):>11}")
        labels = {s.name: f"{s.label} [{s.persistence}, {console.fmt(s.horizon_years, 'g', lang)} y, "
                          f"r = {console.fmt(s.discount_rate, '.1%', lang, 'share' if lang != 'en' else None)}, "
                          f"{s.cohorts} cohort(s){'' if s.include_startup else ', running costs only'}]"
                  for s in self.scenarios.scenarios}
        lines += ["", *(f"{k}: {v}" for k, v in labels.items())]
        lines.append(f"P(net>0) from {console.fmt(self.draws, '', lang, 'count')} draws of the effect curves "
                     f"(correlation: {self.correlation}).")
        lines += list(self.notes)
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict: the table, the settings (with the time axis's name) and the notes."""
        def clean(v: Any) -> Any:
            if isinstance(v, float) and not math.isfinite(v):
                return None if math.isnan(v) else ("inf" if v > 0 else "-inf")
            return v.item() if isinstance(v, np.generic) else v

        rows = [{k: clean(v) for k, v in r.items()} for r in self.table.to_dict(orient="records")]
        return {
            "source": self.scenarios.source, "observed_weeks": self.observed_weeks, "draws": self.draws,
            "correlation": self.correlation, "axis": self.axis.name, "notes": list(self.notes), "table": rows,
            "scenarios": [{"name": s.name, "label": s.label, "persistence": str(s.persistence),
                           "horizon_years": s.horizon_years, "discount_rate": s.discount_rate,
                           "cohorts": s.cohorts, "include_startup": s.include_startup,
                           "prices": dataclasses.asdict(s.prices), "programme": dataclasses.asdict(s.programme)}
                          for s in self.scenarios.scenarios],
        }

    def _repr_html_(self) -> str:
        cols = ["scenario", "payer", "benefit_savings", "tax_revenue", "costs", "net_result",
                "prob_net_positive", "payback_week", "break_even_scale"]
        return (f"<p><b>Cost scenarios</b> ({html.escape(self.scenarios.source)}), kr. per participant, "
                f"observed {self.axis.unit(plural=True)} 1–{self.observed_weeks}</p>"
                + self.table[cols].to_html(index=False, float_format=lambda v: f"{v:,.2f}"))

    def plot(self, kind: Literal["jcurve", "bars", "tornado"] = "jcurve", *, scenario: str | None = None,
             payer: Payer = "total", ax: Any = None, lang: str = "en") -> Any:
        """Draw the J-curve (of ``payer``), the scenario bars by payer, or the tornado of ``scenario``.

        Returns the matplotlib Figure (drawn by :mod:`trialeval.plots`).

        Examples
        --------
        >>> from trialeval.costs import _example_effects, _example_scenarios, costs
        >>> res = costs(_example_effects(), _example_scenarios(), draws=0)
        >>> res.plot("tornado").axes[0].get_xlabel()
        'Net result per participant (kr.), scenario C'
        """
        from trialeval import plots

        if kind == "jcurve":
            return plots.cost_jcurve(self.flows, payer=payer, ax=ax, lang=lang, axis=self.axis,
                                     labels={s.name: s.label for s in self.scenarios.scenarios})
        if kind == "bars":
            return plots.cost_bars(self.table, ax=ax, lang=lang)
        if kind == "tornado":
            name = scenario or self.default_tornado_scenario
            if name not in set(self.sensitivity["scenario"]):
                known = ", ".join(dict.fromkeys(self.sensitivity["scenario"].astype(str)))
                raise InputDataError(f"plot: no scenario named {name!r}; scenarios: {known}")
            return plots.cost_tornado(self.sensitivity.loc[self.sensitivity["scenario"] == name], ax=ax, lang=lang)
        raise InputDataError(f"plot: kind must be 'jcurve', 'bars' or 'tornado'; got {kind!r}")

    @property
    def default_tornado_scenario(self) -> str:
        """Scenario shown in the tornado unless another is named: C if present, else the first."""
        names = [s.name for s in self.scenarios.scenarios]
        return "C" if "C" in names else names[0]
