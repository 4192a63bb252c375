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

    def summary(self) -> str:
        outcome = (f"binary outcome, baseline proportion {self.proportion:g} (SD {self.sd:.4f})"
                   if self.proportion is not None else f"outcome SD {self.sd:g}")
        n_t = self.n * self.share
        text = (f"Minimum detectable effect: {self.mde:.4f}\n"
                f"  N = {self.n} ({n_t:g} treatment, {self.n - n_t:g} control), {outcome}\n"
                f"  two-sided alpha = {self.alpha:g}, power = {self.power:g}, SE = {self.standard_error:.4f}")
        if self.proportion is not None:
            text += f"\n  = {100 * self.mde:.2f} percentage points"
        return text

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
