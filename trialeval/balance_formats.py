"""Text, LaTeX and Markdown renderings of the balance tables, for :mod:`trialeval.balance`."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

#: The file formats balance tables are written in.
FORMATS: tuple[str, ...] = ("csv", "xlsx", "latex", "markdown")


def _records(df: pd.DataFrame) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for rec in df.astype(object).to_dict("records"):
        out.append({str(k): (None if v is None or v is pd.NA or (isinstance(v, float) and math.isnan(v))
                        else (v.item() if isinstance(v, np.generic) else v)) for k, v in rec.items()})
    return out


def _number(v: Any, *, p: bool = False, whole: bool = False) -> str:
    if v is None or v is pd.NA or (isinstance(v, float) and math.isnan(v)):
        return ""
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    v = float(v)
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    if p and v < 0.001:
        return "<0.001"
    if whole and v.is_integer():
        return str(int(v))
    text = f"{v:.3f}"
    return "0.000" if text == "-0.000" else text


def _display(df: pd.DataFrame) -> pd.DataFrame:
    """All cells as text: numbers to 3 decimals, p-values below 0.001 as ``<0.001``, missing as empty."""
    out = pd.DataFrame(index=df.index)
    for col in df.columns:
        s = df[col]
        if pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s):
            is_p, whole = col == "p_value", col in ("df1", "df2")
            out[col] = [_number(v, p=is_p, whole=whole) for v in s.astype(object)]
        else:
            out[col] = s.astype(object).where(s.notna(), "").astype(str)
    return out


def _markdown(df: pd.DataFrame) -> str:
    def cell(v: str) -> str:
        return v.replace("|", "\\|")

    numeric = [c for c in df.columns if df[c].str.match(r"^(-?[0-9.]+|<0\.001|-?inf|)$").all()
               and df[c].ne("").any()]
    head = "| " + " | ".join(df.columns) + " |"
    rule = "|" + "|".join("---:" if c in numeric else "---" for c in df.columns) + "|"
    body = ["| " + " | ".join(cell(v) for v in row) + " |" for row in df.itertuples(index=False)]
    return "\n".join([head, rule, *body]) + "\n"


_LATEX_SPECIAL = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#",
                  "_": r"\_", "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}",
                  "<": r"\textless{}", ">": r"\textgreater{}", "|": r"\textbar{}"}


def _latex_escape(text: str) -> str:
    return "".join(_LATEX_SPECIAL.get(ch, ch) for ch in text)


def _latex(df: pd.DataFrame) -> str:
    numeric = [df[c].str.match(r"^(-?[0-9.]+|<0\.001|-?inf|)$").all() and df[c].ne("").any()
               for c in df.columns]
    spec = "".join("r" if isnum else "l" for isnum in numeric)
    lines = [f"\\begin{{tabular}}{{{spec}}}", "\\toprule",
             " & ".join(_latex_escape(c) for c in df.columns) + " \\\\", "\\midrule"]
    lines += [" & ".join(_latex_escape(v) for v in row) + " \\\\" for row in df.itertuples(index=False)]
    lines += ["\\bottomrule", "\\end{tabular}"]
    return "\n".join(lines) + "\n"


def _text_table(table: pd.DataFrame, groups: tuple[str, str]) -> str:
    a, b = groups
    shown = pd.DataFrame({
        "covariate": table["covariate"], "level": table.iloc[:, 1],
        f"mean_{a}": table[f"mean_{a}"], f"mean_{b}": table[f"mean_{b}"],
        "smd": table["smd"], "var_ratio": table["variance_ratio"], "p_value": table["p_value"],
        "test": table["test"], "flag": table["flag"],
    })
    return _display(shown).to_string(index=False)


def _omnibus_text(omnibus: pd.DataFrame) -> str:
    lines = []
    for rec in omnibus.to_dict("records"):
        df1, df2 = rec["df1"], rec["df2"]
        if rec["test"].startswith("f_test"):
            fe = " with strata fixed effects" if rec["test"] == "f_test_strata_fe" else ""
            if np.isnan(rec["statistic"]):
                lines.append(f"Joint orthogonality F-test{fe}: {rec['note']}")
                continue
            n_used = "·" if pd.isna(rec["n_used"]) else f"{int(rec['n_used'])}"
            dropped = ("" if rec["n_dropped"] == 0 else " (· dropped for missing covariates)"
                       if pd.isna(rec["n_dropped"]) else f" ({int(rec['n_dropped'])} dropped for missing covariates)")
            lines.append(f"Joint orthogonality F-test{fe}: F({df1:.0f}, {df2:.0f}) = {rec['statistic']:.3f}, "
                         f"p = {_number(rec['p_value'], p=True)}; n = {n_used}{dropped}")
        elif rec["draws"]:
            lines.append(f"Randomisation inference: p = {_number(rec['p_value'], p=True)} "
                         f"(Monte-Carlo SE {rec['mc_se']:.4f}, {rec['draws']} draws)")
    return "\n".join(lines)
