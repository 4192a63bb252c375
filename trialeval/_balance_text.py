"""The balance summary's tables and omnibus lines with their numbers in a language other than English.

The English text is :mod:`trialeval.balance_formats`'; these write the same rows with the numbers of
:mod:`trialeval._console` (Danish ``0,123``, ``< 0,001``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from trialeval import _console as console
from trialeval.balance_formats import _omnibus_text, _text_table


def text_table(table: pd.DataFrame, groups: tuple[str, str], lang: str) -> str:
    """The covariate rows (means, SMD, variance ratio, p-value, test, flag) as an aligned text table."""
    a, b = groups
    shown = pd.DataFrame({
        "covariate": table["covariate"], "level": table.iloc[:, 1],
        f"mean_{a}": table[f"mean_{a}"], f"mean_{b}": table[f"mean_{b}"],
        "smd": table["smd"], "var_ratio": table["variance_ratio"], "p_value": table["p_value"],
        "test": table["test"], "flag": table["flag"],
    })
    return console.display(shown, lang).to_string(index=False)


def omnibus_text(omnibus: pd.DataFrame, lang: str) -> str:
    """The F-test of joint orthogonality and its randomisation-inference p-value, one line each."""
    lines = []
    for rec in omnibus.to_dict("records"):
        if rec["test"].startswith("f_test"):
            fe = " with strata fixed effects" if rec["test"] == "f_test_strata_fe" else ""
            if np.isnan(rec["statistic"]):
                lines.append(f"Joint orthogonality F-test{fe}: {rec['note']}")
                continue
            n_used = "·" if pd.isna(rec["n_used"]) else console.fmt(int(rec["n_used"]), "", lang, "count")
            dropped = ("" if rec["n_dropped"] == 0 else " (· dropped for missing covariates)"
                       if pd.isna(rec["n_dropped"])
                       else f" ({console.fmt(int(rec['n_dropped']), '', lang, 'count')} dropped for missing covariates)")
            lines.append(f"Joint orthogonality F-test{fe}: F({rec['df1']:.0f}, {rec['df2']:.0f}) = "
                         f"{console.fmt(rec['statistic'], '.3f', lang)}, p = {console.p(rec['p_value'], lang)}; "
                         f"n = {n_used}{dropped}")
        elif rec["draws"]:
            lines.append(f"Randomisation inference: p = {console.p(rec['p_value'], lang)} "
                         f"(Monte-Carlo SE {console.fmt(rec['mc_se'], '.4f', lang)}, "
                         f"{console.fmt(rec['draws'], '', lang, 'count')} draws)")
    return "\n".join(lines)


def summary_text(result: Any, lang: str = "en") -> str:
    """The text of :meth:`trialeval.balance.BalanceResult.summary`."""
    console.check(lang)

    def n(v: Any) -> str:
        return console.fmt(v, "", lang, "count")

    t = result.balance_table
    lines = [
        f"Balance: {result.groups[0]} (n={n(result.n_treatment)}) vs {result.groups[1]} (n={n(result.n_control)}), "
        f"{len(result.kinds)} covariates, {len(t)} rows",
        _text_table(t, ("treatment", "control")) if lang == "en" else text_table(t, ("treatment", "control"), lang),
    ]
    n_01 = int((t["flag"] == "|smd|>0.1").sum())
    n_25 = int((t["flag"] == "|smd|>0.25").sum())
    p = pd.to_numeric(t.drop_duplicates("covariate")["p_value"], errors="coerce")
    lines.append(
        f"Flags: {n_01} row(s) with {console.fmt(0.1, 'g', lang)} < |SMD| <= {console.fmt(0.25, 'g', lang)}, "
        f"{n_25} with |SMD| > {console.fmt(0.25, 'g', lang)}; {int((p < result.alpha).sum())} of "
        f"{int(p.notna().sum())} covariate tests with p < {console.fmt(result.alpha, 'g', lang)}"
    )
    lines.append(_omnibus_text(result.omnibus_table) if lang == "en" else omnibus_text(result.omnibus_table, lang))
    if result.representativeness_table is not None:
        who = "drawn (both arms)" if result.representativeness_mode == "both" else "drawn (treatment arm)"
        rep = result.representativeness_table
        lines += ["", f"Representativeness: {who} (n={n(result.n_drawn)}) vs eligible not drawn "
                      f"(n={n(result.n_not_drawn)})",
                  _text_table(rep, ("drawn", "not_drawn")) if lang == "en"
                  else text_table(rep, ("drawn", "not_drawn"), lang)]
    return "\n".join(lines)


def tidy(table: pd.DataFrame) -> pd.DataFrame:
    """A balance or representativeness table with broom's column names (see ``BalanceResult.tidy``)."""
    level = table.iloc[:, 1].astype(object)
    covariate = table["covariate"].astype(str)
    term = [c if lv is None or (isinstance(lv, float) and np.isnan(lv)) or str(lv) == "" else f"{c}={lv}"
            for c, lv in zip(covariate, level)]
    means = [c for c in table.columns if c.startswith("mean_")]
    out = pd.DataFrame({"term": term, "estimate": table["difference"], "smd": table["smd"],
                        "variance_ratio": table["variance_ratio"], "p_value": table["p_value"],
                        "test": table["test"]})
    for c in means:
        out[c] = table[c].to_numpy()
    out["flag"] = table["flag"].to_numpy()
    return out.reset_index(drop=True)
