"""Greedy nearest-neighbour matching on the propensity score, as R's ``MatchIt`` does it.

The propensity score is a logistic regression of being in the programme group on the covariates
(categorical ones as one 0/1 column per level but the first, sorted, as R's ``model.matrix``); matching
uses its linear predictor, the logit (``distance = "glm", link = "linear.logit"``). Programme persons are
matched one after another in descending order of the score (MatchIt's ``m.order = "largest"``), each to the
eligible comparison unit whose logit is closest — within the same exact stratum, and within the caliper
(``caliper`` standard deviations of the logit over the units taking part, R's ``sd``) when one is given;
an exact stratum without programme or without comparison units takes no part. Ties in the
distance are broken as MatchIt's scan breaks them: units are laid out by their logit (stably, ties in data
order) and the search steps outward from the programme person's place, one step to the lower side, then
one to the higher side.

- **1:k without replacement**: k rounds; in round r every programme person still eligible takes its r-th
  match in turn, and a unit once matched is used up. A programme person with no match in round 1 stays
  unmatched.
- **With replacement**: each programme person takes its k nearest at once, and units can be reused.
- ``unit_id``: rows of the same unit (a candidate eligible at several visitation dates) are used up
  together.

The matched comparison units get weight (matches of the programme person) / k summed over their matches,
rescaled so that the comparison weights sum to the number of matched comparison units, as MatchIt's
``match.data`` weights; programme persons get weight 1.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from trialeval.exceptions import InputDataError


def design_matrix(data: pd.DataFrame, covariates: Sequence[str], source: str = "data") -> pd.DataFrame:
    """Intercept plus covariates, categorical (text or bool-like text) as 0/1 columns but the first level."""
    cols: dict[str, np.ndarray] = {"(Intercept)": np.ones(len(data))}
    for name in covariates:
        s = data[name]
        if s.isna().any():
            raise InputDataError(f"{source}: column '{name}' has missing values; the propensity score needs all")
        if s.dtype == bool:
            cols[f"{name}TRUE"] = s.to_numpy(dtype=float)
        elif pd.api.types.is_numeric_dtype(s):
            cols[name] = s.to_numpy(dtype=float)
        else:
            text = s.astype(str)
            for level in sorted(text.unique())[1:]:
                cols[f"{name}{level}"] = (text == level).to_numpy(dtype=float)
    return pd.DataFrame(cols, index=data.index)


def logit_propensity(data: pd.DataFrame, treated: np.ndarray, covariates: Sequence[str],
                     source: str = "data") -> np.ndarray:
    """The linear predictor (logit) of a logistic regression of ``treated`` on ``covariates``.

    Fitted by iteratively reweighted least squares exactly as R's ``glm.fit`` does it (start at
    μ = (y + ½)/2, stop when |Δdeviance| / (|deviance| + 0.1) < 10⁻⁸), so the scores — and hence who is
    nearest to whom — are R's to the last digits, not merely to the optimiser's tolerance.
    """
    X = design_matrix(data, covariates, source).to_numpy()
    if np.linalg.matrix_rank(X) < X.shape[1]:
        raise InputDataError(f"{source}: the covariates {', '.join(covariates)} are collinear; drop one")
    y = np.asarray(treated, dtype=np.float64)
    mu = (y + 0.5) / 2
    eta = np.log(mu / (1 - mu))
    dev_old = _binomial_deviance(y, mu)
    for _ in range(25):                                   # glm.control(maxit = 25)
        mu_eta = mu * (1 - mu)
        z = eta + (y - mu) / mu_eta
        w = np.sqrt(mu_eta)
        beta = np.linalg.lstsq(X * w[:, None], z * w, rcond=None)[0]
        eta = X @ beta
        mu = 1 / (1 + np.exp(-eta))
        dev = _binomial_deviance(y, mu)
        if abs(dev - dev_old) / (abs(dev) + 0.1) < 1e-8:
            break
        dev_old = dev
    else:
        raise InputDataError(f"{source}: the propensity score model did not converge (complete separation?)")
    return np.asarray(eta, dtype=np.float64)


def _binomial_deviance(y: np.ndarray, mu: np.ndarray) -> float:
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(y == 1, np.log(mu), np.log(1 - mu))
    return float(-2 * np.sum(terms))


@dataclass(frozen=True, eq=False)
class MatchResult:
    """Who was matched to whom.

    ``matches`` is (programme units × k) of comparison row indices, −1 where a slot stayed empty;
    ``weights`` one per row (0 for unmatched); ``caliper`` the caliper in logit units (None: none).
    """

    matches: np.ndarray
    treated_rows: np.ndarray
    weights: np.ndarray
    distance: np.ndarray
    caliper: float | None

    @property
    def matched(self) -> np.ndarray:
        """Whether each programme unit got at least one match."""
        return np.asarray((self.matches >= 0).any(axis=1))


def nearest_neighbour(distance: np.ndarray, treated: np.ndarray, *, ratio: int = 1, replace: bool = False,
                      caliper: float | None = None, exact: np.ndarray | None = None,
                      unit_id: np.ndarray | None = None) -> MatchResult:
    """Greedy nearest-neighbour matching on ``distance`` (see the module text for the rules).

    Examples
    --------
    >>> d = np.array([0.9, 0.1, 0.5, 0.45, 0.2, 0.95])
    >>> t = np.array([1, 1, 0, 0, 0, 0], dtype=bool)
    >>> r = nearest_neighbour(d, t)
    >>> r.matches.ravel().tolist(), r.weights.tolist()
    ([5, 4], [1.0, 1.0, 0.0, 0.0, 1.0, 1.0])
    """
    distance = np.asarray(distance, dtype=np.float64)
    treated = np.asarray(treated, dtype=bool)
    n = len(distance)
    if ratio < 1:
        raise InputDataError(f"ratio must be at least 1; got {ratio}")
    strata = np.zeros(n, dtype=np.int64) if exact is None else pd.factorize(np.asarray(exact))[0]
    # a stratum without programme or without comparison units takes no part (MatchIt: discarded)
    both = (np.bincount(strata, weights=treated, minlength=strata.max() + 1) > 0) & (
        np.bincount(strata, weights=~treated, minlength=strata.max() + 1) > 0)
    in_play = both[strata]
    cal = None
    if caliper is not None:
        cal = float(caliper) * float(np.std(distance[in_play], ddof=1))
    units = np.arange(n) if unit_id is None else pd.factorize(np.asarray(unit_id))[0]
    treated_rows = np.flatnonzero(treated)
    # programme units in descending order of the score (R: order(distance, decreasing = TRUE), stable)
    order = treated_rows[np.argsort(-distance[treated_rows], kind="stable")]
    # each stratum's units laid out by distance (stable: ties in data order)
    layout = np.lexsort((np.arange(n), distance, strata))
    starts = np.searchsorted(strata[layout], np.arange(strata.max() + 2))
    place = np.empty(n, dtype=np.int64)
    place[layout] = np.arange(n)
    eligible = in_play.copy()
    times = np.zeros(n, dtype=np.int64)
    rows_of_unit = pd.Series(np.arange(n)).groupby(units).indices if unit_id is not None else None
    matches = np.full((len(treated_rows), ratio), -1, dtype=np.int64)
    slot = {int(r): i for i, r in enumerate(treated_rows)}
    scan = _Scan(distance, treated, layout, starts, strata, place, cal)
    if replace and unit_id is None:
        for t in order:
            found = scan.nearest(int(t), eligible, ratio, ())
            matches[slot[int(t)], :len(found)] = found
    else:
        reuse = np.iinfo(np.int64).max if replace else 1
        for r in range(1, ratio + 1):
            for t in order:
                t = int(t)
                if not eligible[t]:
                    continue
                row = matches[slot[t]]
                found = scan.nearest(t, eligible, 1, row[:r - 1], start=row[:r - 1])
                if not found:
                    if r == 1:
                        eligible[t] = False
                    continue
                row[r - 1] = found[0]
                used = [found[0], t]
                if rows_of_unit is not None:
                    used = [int(x) for u in {units[found[0]], units[t]} for x in rows_of_unit[u]]
                for c in used:
                    if not eligible[c]:
                        continue
                    times[c] += 1
                    if times[c] >= (ratio if treated[c] else reuse):
                        eligible[c] = False
    return MatchResult(matches, treated_rows, _weights(matches, treated_rows, n), distance, cal)


class _Scan:
    """The outward search from a programme unit's place among its stratum's units laid out by distance."""

    def __init__(self, distance: np.ndarray, treated: np.ndarray, layout: np.ndarray, starts: np.ndarray,
                 strata: np.ndarray, place: np.ndarray, caliper: float | None) -> None:
        self.d, self.treated, self.layout, self.starts = distance, treated, layout, starts
        self.strata, self.place, self.caliper = strata, place, caliper

    def nearest(self, t: int, eligible: np.ndarray, ratio: int, taken: Sequence[int] | np.ndarray,
                start: Sequence[int] | np.ndarray = ()) -> list[int]:
        """Up to ``ratio`` nearest eligible comparison units of ``t``, not in ``taken``."""
        d, layout = self.d, self.layout
        s = self.strata[t]
        lo_bound, hi_bound = self.starts[s], self.starts[s + 1] - 1
        ii = self.place[t]
        previous = [self.place[c] for c in start if c >= 0]
        left_at = right_at = ii
        min_dist = 0.0
        if previous:
            left_at, right_at = min(previous + [ii]), max(previous + [ii])
            ends = [abs(d[t] - d[layout[p]]) for p in (left_at, right_at) if p != ii]
            min_dist = max(ends)
        taken_set = {int(c) for c in taken if c >= 0}
        found: list[int] = []
        dist: list[float] = []
        n_left = n_right = 0
        stop_left = stop_right = False
        go_left = False
        while not (stop_left and stop_right):
            go_left = False if stop_left else True if stop_right else not go_left
            if go_left:
                if left_at <= lo_bound or n_left == ratio:
                    stop_left = True
                    continue
                left_at -= 1
                c = int(layout[left_at])
            else:
                if right_at >= hi_bound or n_right == ratio:
                    stop_right = True
                    continue
                right_at += 1
                c = int(layout[right_at])
            if not eligible[c] or self.treated[c] or c in taken_set:
                continue
            gap = abs(d[t] - d[c])
            if self.caliper is not None and gap > self.caliper:
                if go_left:
                    stop_left = True
                else:
                    stop_right = True
                continue
            if gap < min_dist:
                continue
            if len(found) >= ratio and sum(1 for x in dist if x < gap) >= ratio:
                if go_left:
                    stop_left = True
                else:
                    stop_right = True
                continue
            found.append(c)
            dist.append(gap)
            if go_left:
                n_left += 1
                stop_left = stop_left or n_left == ratio
            else:
                n_right += 1
                stop_right = stop_right or n_right == ratio
        if len(found) <= ratio and all(a <= b for a, b in zip(dist, dist[1:])):
            return found
        keep = sorted(range(len(found)), key=lambda i: dist[i])[:ratio]
        return [found[i] for i in keep]


def _weights(matches: np.ndarray, treated_rows: np.ndarray, n: int) -> np.ndarray:
    """MatchIt's matching weights: 1 for matched programme units; for comparison units the sum over their
    matches of 1 / (the programme unit's number of matches), scaled to sum to the matched comparison units."""
    w = np.zeros(n)
    got = (matches >= 0).sum(axis=1)
    w[treated_rows[got > 0]] = 1.0
    rows, cols = np.nonzero(matches >= 0)
    np.add.at(w, matches[rows, cols], 1.0 / got[rows])
    control = np.ones(n, dtype=bool)
    control[treated_rows] = False
    matched_control = control & (w > 0)
    if matched_control.any():
        w[matched_control] *= matched_control.sum() / w[matched_control].sum()
    return w
