"""Numbers, shares, kroner, hours, p-values and dates written the way a reader of each language expects.

One module decides every number a person reads, in the report, figures (tick labels too), console
summaries and the workbook's number formats, from Babel's locale data (never the machine's locale):

============  =====================  ======================
quantity      Danish (``da``)        English (``en``)
============  =====================  ======================
count         ``4.704``              ``4,704``
share         ``12,3 %``             ``12.3%``
kroner        ``−1.000 kr.``         ``DKK −1,000``
hours         ``3,25``               ``3.25``
estimate      ``0,460``              ``0.460``
p-value       ``< 0,001``            ``< 0.001``
date          ``1. marts 2016``      ``1 March 2016``
============  =====================  ======================

Shares are shown in percent with one decimal, hours with two, kroner whole; a minus is the minus sign
(U+2212), so a negative number cannot be read as a dash. A missing value is an empty string.
"""

from __future__ import annotations

import datetime
import math
from typing import Any

from babel.dates import format_date
from babel.numbers import format_decimal

LANGS = ("en", "da")
_LOCALE = {"en": "en_GB", "da": "da_DK"}
MINUS = "\u2212"
#: Decimals per quantity.
DECIMALS = {"count": 0, "share": 1, "kroner": 0, "hours": 2, "estimate": 3}
#: Number formats of the workbook's cells per quantity (Excel shows them in the reader's own locale).
EXCEL_FORMATS = {"count": "#,##0", "share": "0.0%", "kroner": '#,##0" kr."', "hours": "#,##0.00",
                 "estimate": "0.000", "p_value": "0.000"}


def _locale(lang: str) -> str:
    if lang not in _LOCALE:
        raise ValueError(f"language must be one of {', '.join(LANGS)}; got {lang!r}")
    return _LOCALE[lang]


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def number(value: Any, lang: str = "en", decimals: int = 0) -> str:
    """``value`` with thousands separators and ``decimals`` decimals.

    Examples
    --------
    >>> number(4704, "da"), number(4704, "en"), number(-1000.4, "da"), number(0.46, "da", 3)
    ('4.704', '4,704', '−1.000', '0,460')
    """
    if _missing(value):
        return ""
    pattern = "#,##0" + ("." + "0" * decimals if decimals else "")
    text = format_decimal(round(float(value), decimals) + 0.0, format=pattern, locale=_locale(lang))
    return text.replace("-", MINUS)


def count(value: Any, lang: str = "en") -> str:
    """A number of persons, weeks, spells: whole, with thousands separators."""
    return number(value, lang, DECIMALS["count"])


def share(value: Any, lang: str = "en", decimals: int = DECIMALS["share"]) -> str:
    """A share (0.123) in percent: ``12,3 %`` / ``12.3%``.

    Examples
    --------
    >>> share(0.1234, "da"), share(0.1234, "en"), share(-0.05, "da")
    ('12,3 %', '12.3%', '−5,0 %')
    """
    if _missing(value):
        return ""
    body = number(100 * float(value), lang, decimals)
    return f"{body} %" if lang == "da" else f"{body}%"


def percentage_points(value: Any, lang: str = "en", decimals: int = DECIMALS["share"]) -> str:
    """A difference of shares in percentage points: ``4,9 pct.-point`` / ``4.9 pp``."""
    if _missing(value):
        return ""
    body = number(100 * float(value), lang, decimals)
    return f"{body} pct.-point" if lang == "da" else f"{body} pp"


def kroner(value: Any, lang: str = "en") -> str:
    """Whole kroner: ``−1.000 kr.`` / ``DKK −1,000``.

    Examples
    --------
    >>> kroner(-1000, "da"), kroner(1504.4, "en")
    ('−1.000 kr.', 'DKK 1,504')
    """
    if _missing(value):
        return ""
    body = number(value, lang, DECIMALS["kroner"])
    return f"{body} kr." if lang == "da" else f"DKK {body}"


def hours(value: Any, lang: str = "en") -> str:
    """Hours with two decimals: ``3,25`` / ``3.25``."""
    return number(value, lang, DECIMALS["hours"])


def estimate(value: Any, lang: str = "en", decimals: int = DECIMALS["estimate"]) -> str:
    """An estimate or standard error with three decimals."""
    return number(value, lang, decimals)


def p_value(value: Any, lang: str = "en") -> str:
    """A p-value with three decimals, and ``< 0,001`` / ``< 0.001`` below that (never ``0.000``).

    Examples
    --------
    >>> p_value(0.00002, "da"), p_value(0.0456, "da"), p_value(1.0, "en")
    ('< 0,001', '0,046', '1.000')
    """
    if _missing(value):
        return ""
    if float(value) < 0.001:
        return "< " + number(0.001, lang, 3)
    return number(value, lang, 3)


def date(value: datetime.date | str, lang: str = "en") -> str:
    """A date as words: ``1. marts 2016`` / ``1 March 2016``.

    Examples
    --------
    >>> date("2016-03-01", "da"), date(datetime.date(2016, 3, 1), "en")
    ('1. marts 2016', '1 March 2016')
    """
    if isinstance(value, str):
        value = datetime.date.fromisoformat(value)
    pattern = "d. MMMM y" if lang == "da" else "d MMMM y"
    return format_date(value, pattern, locale=_locale(lang))


def formatter(quantity: str, lang: str = "en") -> Any:
    """The function that writes one ``quantity`` (count, share, kroner, hours, estimate, p_value)."""
    table = {"count": count, "share": share, "kroner": kroner, "hours": hours, "estimate": estimate,
             "p_value": p_value, "pp": percentage_points}
    if quantity not in table:
        raise ValueError(f"unknown quantity {quantity!r}; one of {', '.join(table)}")
    fn = table[quantity]
    return lambda value: fn(value, lang)


def tick_formatter(quantity: str, lang: str = "en") -> Any:
    """A matplotlib tick formatter writing ``quantity`` in ``lang`` (shares in percent without decimals
    when the ticks are whole percents)."""
    from matplotlib.ticker import FuncFormatter

    def write(value: float, _pos: int) -> str:
        if quantity == "share":
            whole = abs(100 * value - round(100 * value)) < 1e-9
            return share(value, lang, 0 if whole else 1)
        if quantity == "kroner":
            return number(value, lang, 0)
        return formatter(quantity, lang)(value)

    return FuncFormatter(write)
