"""Numbers in console summaries, written in the reader's language.

Every ``summary(lang=...)`` of a result writes its numbers through :func:`fmt`: in English exactly as
before (the format specification the summary has always used), in Danish through
:mod:`trialeval.formatting` with the quantity's fixed decimals (``4.704``, ``0,460``, ``12,0 %``,
``1.504 kr.``, ``< 0,001``).

Examples
--------
>>> fmt(4704, ",", "da", "count"), fmt(4704, ",", "en", "count")
('4.704', '4,704')
>>> fmt(0.46041, ".4g", "da", "estimate"), fmt(0.46041, ".4g", "en", "estimate")
('0,460', '0.4604')
>>> fmt(0.05, "g", "da"), fmt(-1234.5, ",.1f", "da")
('0,05', '−1.234,5')
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from trialeval import formatting

#: What a summary's language may be.
LANGS = formatting.LANGS


def check(lang: str) -> str:
    """``lang`` if it is a language a summary can be written in, else a ValueError."""
    if lang not in LANGS:
        raise ValueError(f"language must be one of {', '.join(LANGS)}; got {lang!r}")
    return lang


def _swap(text: str) -> str:
    """An English-formatted number written the Danish way: ``1,234.5`` → ``1.234,5``, minus sign U+2212."""
    return text.replace(",", "\0").replace(".", ",").replace("\0", ".").replace("-", formatting.MINUS)


def fmt(value: Any, spec: str, lang: str = "en", quantity: str | None = None) -> str:
    """``value`` in ``lang``: English with the format ``spec``, Danish as the ``quantity`` (count, share,
    kroner, hours, estimate, p_value) of :mod:`trialeval.formatting`, or (no quantity) with ``spec`` and
    Danish separators."""
    if lang == "en":
        return format(value, spec)
    check(lang)
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return format(value, spec)
    if quantity is not None:
        return str(formatting.formatter(quantity, lang)(value))
    return _swap(format(value, spec))


def count(value: Any, lang: str = "en") -> str:
    """A whole number: ``4,704`` / ``4.704``."""
    return fmt(int(value), ",", lang, "count")


def p(value: Any, lang: str = "en", spec: str = ".3g") -> str:
    """A p-value: English with ``spec``, Danish with three decimals and ``< 0,001`` below that."""
    return fmt(value, spec, lang, "p_value")


def display(df: pd.DataFrame, lang: str) -> pd.DataFrame:
    """A table's cells as Danish text: numbers to 3 decimals, p-values as ``< 0,001``, missing empty
    (the Danish counterpart of the balance tables' display)."""
    out = pd.DataFrame(index=df.index)
    for col in df.columns:
        s = df[col]
        if pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s):
            quantity = "p_value" if col == "p_value" else "count" if col in ("df1", "df2") else "estimate"
            out[col] = [_cell(v, quantity, lang) for v in s.astype(object)]
        else:
            out[col] = s.astype(object).where(s.notna(), "").astype(str)
    return out


def _cell(value: Any, quantity: str, lang: str) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, float) and math.isinf(value):
        return ("" if value > 0 else formatting.MINUS) + "inf"
    return str(formatting.formatter(quantity, lang)(value))


def summary(result: Any, lang: str = "en") -> str:
    """``result.summary()`` with its numbers in ``lang`` when the result can write them so (a list of
    results: their summaries, one after the other)."""
    import inspect

    check(lang)
    if isinstance(result, list):
        return "\n\n".join(summary(r, lang) for r in result)
    write = result.summary
    if "lang" in inspect.signature(write).parameters:
        return str(write(lang=lang))
    return str(write())


def summary_html(result: Any) -> str:
    """A compact HTML view of a result for notebooks: its summary and, when it has one, its (exported,
    disclosure-controlled) ``table``."""
    import html

    text = f"<pre>{html.escape(summary(result))}</pre>"
    table = getattr(result, "table", None)
    return text + (table.to_html(index=False, na_rep="·") if isinstance(table, pd.DataFrame) else "")
