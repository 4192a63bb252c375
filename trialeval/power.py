"""Minimum detectable effect of a planned two-arm trial (``trialeval power``).

With N persons of whom a share p is treated, the standard error of a difference in means is
``σ · sqrt(1 / (N p (1 − p)))`` and the minimum detectable effect at two-sided level α and power 1 − β is

    MDE = (z_{1−α/2} + z_{1−β}) · σ · sqrt(1 / (N p (1 − p))),

with σ² = P(1 − P) for a binary outcome with baseline proportion P (Bloom 1995; Duflo, Glennerster &
Kremer 2007, eq. 10). The normal approximation is what the planning literature uses; with hundreds of
persons per arm it differs from the t-based value in the third decimal.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from scipy import stats

from trialeval.exceptions import DesignError


@dataclass(frozen=True, eq=False)
class PowerResult:
    """A minimum detectable effect and the inputs that produced it."""

    n: int
    share: float
    sd: float
    alpha: float
    power: float
    mde: float
    proportion: float | None = None

    @property
    def standard_error(self) -> float:
        return self.sd * math.sqrt(1.0 / (self.n * self.share * (1.0 - self.share)))

    def summary(self, lang: str = "en") -> str:
        """The minimum detectable effect and its inputs; numbers in ``lang`` (en or da)."""
        from trialeval._console import check, fmt

        check(lang)
        outcome = (f"binary outcome, baseline proportion {fmt(self.proportion, 'g', lang)} "
                   f"(SD {fmt(self.sd, '.4f', lang)})"
                   if self.proportion is not None else f"outcome SD {fmt(self.sd, 'g', lang)}")
        n_t = self.n * self.share
        whole = "count" if float(n_t).is_integer() else None
        text = (f"Minimum detectable effect: {fmt(self.mde, '.4f', lang)}\n"
                f"  N = {fmt(self.n, '', lang, 'count')} ({fmt(n_t, 'g', lang, whole)} treatment, "
                f"{fmt(self.n - n_t, 'g', lang, whole)} control), {outcome}\n"
                f"  two-sided alpha = {fmt(self.alpha, 'g', lang)}, power = {fmt(self.power, 'g', lang)}, "
                f"SE = {fmt(self.standard_error, '.4f', lang)}")
        if self.proportion is not None:
            text += f"\n  = {fmt(100 * self.mde, '.2f', lang)} percentage points"
        return text

    def _repr_html_(self) -> str:
        """A compact table of the minimum detectable effect and its inputs (no persons' data: nothing to
        suppress)."""
        import html

        rows = [("Minimum detectable effect", f"{self.mde:.4f}"), ("Standard error", f"{self.standard_error:.4f}"),
                ("N (both groups)", f"{self.n:,}"), ("Share treated", f"{self.share:g}"),
                ("Outcome SD", f"{self.sd:.4f}"), ("Two-sided alpha", f"{self.alpha:g}"), ("Power", f"{self.power:g}")]
        if self.proportion is not None:
            rows.insert(1, ("In percentage points", f"{100 * self.mde:.2f}"))
            rows.append(("Baseline proportion", f"{self.proportion:g}"))
        body = "".join(f"<tr><th style='text-align:left'>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>"
                       for k, v in rows)
        return f"<table class='trialeval-power'>{body}</table>"

    def to_dict(self) -> dict[str, Any]:
        return {"n": self.n, "share": self.share, "sd": self.sd, "proportion": self.proportion,
                "alpha": self.alpha, "power": self.power, "mde": self.mde}


def power(
    n: int,
    *,
    share: float = 0.5,
    sd: float | None = None,
    proportion: float | None = None,
    alpha: float = 0.05,
    power: float = 0.8,
) -> PowerResult:
    """Minimum detectable effect for ``n`` persons, a share treated and an outcome SD or proportion.

    Examples
    --------
    >>> round(power(1000, sd=1.0).mde, 6)
    0.177188
    >>> round(power(2408, proportion=0.07).mde, 4)
    0.0291
    """
    if isinstance(n, bool) or int(n) != n or n < 2:
        raise DesignError(f"n must be a whole number of persons ≥ 2; got {n!r}")
    if not 0 < share < 1:
        raise DesignError(f"share must be in (0, 1); got {share}")
    if n * min(share, 1 - share) < 1:
        raise DesignError(f"share {share} of n = {n} leaves fewer than one person in an arm; "
                          "each arm needs at least one")
    if not 0 < alpha < 1:
        raise DesignError(f"alpha must be in (0, 1); got {alpha}")
    if not 0 < power < 1:
        raise DesignError(f"power must be in (0, 1); got {power}")
    if (sd is None) == (proportion is None):
        raise DesignError("give exactly one of sd (continuous outcome) or proportion (binary outcome)")
    if proportion is not None:
        if not 0 < proportion < 1:
            raise DesignError(f"proportion must be in (0, 1); got {proportion}")
        sd = math.sqrt(proportion * (1 - proportion))
    if sd is None or not sd > 0:
        raise DesignError(f"sd must be > 0; got {sd}")
    multiplier = stats.norm.ppf(1 - alpha / 2) + stats.norm.ppf(power)
    mde = multiplier * sd * math.sqrt(1.0 / (n * share * (1 - share)))
    return PowerResult(n=int(n), share=share, sd=float(sd), alpha=alpha, power=power, mde=float(mde),
                       proportion=proportion)
