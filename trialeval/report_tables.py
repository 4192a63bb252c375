"""Publication tables of the report: effects at selected periods, readable balance, costs by payer.

Each function turns a table a step exported (``effects.csv``, ``balance.csv``, ``costs.csv``) into the
compact table a ministry report prints, every cell already written in the reader's language
(:mod:`trialeval.formatting`) and every label from the catalogue (:mod:`trialeval.i18n`). The numbers
are those of the exported tables, only rounded for reading; the CSV files keep them all.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from trialeval import formatting as fmt
from trialeval import i18n

#: Outcomes measured in hours (their means and effects are hours, the others shares).
HOURS_OUTCOMES = frozenset({"ordinary_hours"})
#: Payers of the cost table, in the order of its columns.
PAYERS = ("municipality", "state", "total")


def _missing(v: Any) -> bool:
    return v is None or v is pd.NA or (isinstance(v, float) and np.isnan(v))


def _cell(v: Any, writer: Any) -> str:
    return "·" if _missing(v) else str(writer(v))


def effects_table(effects: pd.DataFrame, periods: Sequence[int], period: str, lang: str = "en",
                  labels: Mapping[str, Any] | None = None) -> pd.DataFrame:
    """Outcome × selected periods: programme and control mean, difference, 95 % CI, n (both groups).

    Shares are in percent and differences in percentage points; hours in hours. A suppressed cell is "·".

    Examples
    --------
    >>> e = pd.DataFrame({"outcome": ["self_supporting"], "week": [13], "n_treatment": [120], "n_control": [118],
    ...                   "mean_treatment": [0.25], "mean_control": [0.2], "effect": [0.05],
    ...                   "ci_low": [-0.01], "ci_high": [0.11]})
    >>> effects_table(e, [13], "week", "da").iloc[0].tolist()
    ['Andel selvforsørgende', '13', '25,0 %', '20,0 %', '5,0 pct.-point', '−1,0 til 11,0', '238']
    """
    rows = effects.loc[effects[period].isin(periods)].sort_values(["outcome", period], kind="stable")
    out = []
    for r in rows.itertuples(index=False):
        name = str(getattr(r, "outcome"))
        hours = name in HOURS_OUTCOMES
        level = (lambda v: fmt.hours(v, lang)) if hours else (lambda v: fmt.share(v, lang))
        diff = (lambda v: fmt.hours(v, lang)) if hours else (lambda v: fmt.percentage_points(v, lang))
        bound = (lambda v: fmt.hours(v, lang)) if hours else (lambda v: fmt.number(100 * float(v), lang, 1))
        low, high = getattr(r, "ci_low"), getattr(r, "ci_high")
        ci = "·" if _missing(low) or _missing(high) else f"{bound(low)} {'til' if lang == 'da' else 'to'} {bound(high)}"
        n_t, n_c = getattr(r, "n_treatment"), getattr(r, "n_control")
        n = "·" if _missing(n_t) or _missing(n_c) else fmt.count(float(n_t) + float(n_c), lang)
        out.append([i18n.outcome(name, lang, labels), fmt.count(getattr(r, period), lang),
                    _cell(getattr(r, "mean_treatment"), level), _cell(getattr(r, "mean_control"), level),
                    _cell(getattr(r, "effect"), diff), ci, n])
    return pd.DataFrame(out, columns=[i18n.column(c, lang) for c in
                                      ("outcome", period, "mean_treatment", "mean_control", "difference", "ci", "n")])


def balance_table(balance: pd.DataFrame, lang: str = "en", labels: Mapping[str, Any] | None = None,
                  groups: tuple[str, str] = ("treatment", "control")) -> pd.DataFrame:
    """Background variable (readable label), group means, difference, standardised difference, p-value.

    A level of a categorical variable (``gender: F``) is a share in percent; a numeric variable keeps
    two decimals. ``groups`` names the mean columns (``mean_treatment`` / ``mean_drawn`` …).

    Examples
    --------
    >>> b = pd.DataFrame({"covariate": ["gender", "age"], "level": ["F", None], "mean_treatment": [0.46, 45.35],
    ...                   "mean_control": [0.45, 45.09], "difference": [0.01, 0.26], "smd": [0.02, 0.033],
    ...                   "p_value": [0.96, 0.0002]})
    >>> balance_table(b, "da").values.tolist()
    [['Køn: kvinde', '46,0 %', '45,0 %', '1,0 pct.-point', '0,020', '0,960'], ['Alder', '45,35', '45,09', '0,26', '0,033', '< 0,001']]
    """
    a, b = (f"mean_{g}" for g in groups)
    out = []
    for r in balance.to_dict("records"):
        categorical = not _missing(r.get("level")) and str(r.get("level")) not in ("", "nan")
        level = (lambda v: fmt.share(v, lang)) if categorical else (lambda v: fmt.number(v, lang, 2))
        diff = (lambda v: fmt.percentage_points(v, lang)) if categorical else (lambda v: fmt.number(v, lang, 2))
        out.append([i18n.covariate(str(r["covariate"]), r.get("level"), lang, labels), _cell(r.get(a), level),
                    _cell(r.get(b), level), _cell(r.get("difference"), diff),
                    _cell(r.get("smd"), lambda v: fmt.estimate(v, lang)),
                    _cell(r.get("p_value"), lambda v: fmt.p_value(v, lang))])
    return pd.DataFrame(out, columns=[i18n.column(c, lang) for c in ("covariate", a, b, "difference", "smd", "p_value")])


def net_by_payer(costs: pd.DataFrame, lang: str = "en") -> pd.DataFrame:
    """Scenario × payer: the net result per participant in whole kroner, and P(net > 0) for all payers.

    Examples
    --------
    >>> c = pd.DataFrame({"scenario": ["A"] * 3, "label": ["Observed window only"] * 3,
    ...                   "payer": ["municipality", "state", "total"], "net_result": [-6309.9, 676.9, -5633.0],
    ...                   "prob_net_positive": [0.0, 0.96, 0.0]})
    >>> net_by_payer(c, "da").iloc[0].tolist()
    ['A', 'Kun det observerede vindue', '−6.310 kr.', '677 kr.', '−5.633 kr.', '0,0 %']
    """
    return _by_scenario(costs, lang, [(p, "net_result", p) for p in PAYERS] + [("total", "prob_net_positive", "prob_net_positive")])


def components(costs: pd.DataFrame, lang: str = "en") -> pd.DataFrame:
    """Scenario × component for all payers together: benefit savings, tax revenue, costs, net result (kr.)."""
    return _by_scenario(costs, lang, [("total", c, c) for c in ("benefit_savings", "tax_revenue", "costs", "net_result")])


def _by_scenario(costs: pd.DataFrame, lang: str, cells: list[tuple[str, str, str]]) -> pd.DataFrame:
    out = []
    for name, rows in costs.groupby("scenario", sort=False):
        by_payer = rows.set_index("payer")
        row = [str(name), i18n.value(str(rows["label"].iloc[0]), lang) if "label" in rows else ""]
        for payer, col, _ in cells:
            v = by_payer[col].get(payer) if col in by_payer and payer in by_payer.index else None
            writer = (lambda x: fmt.share(x, lang)) if col == "prob_net_positive" else (lambda x: fmt.kroner(x, lang))
            row.append(_cell(v, writer))
        out.append(row)
    return pd.DataFrame(out, columns=[i18n.column(c, lang) for c in ("scenario", "label", *(h for *_, h in cells))])
