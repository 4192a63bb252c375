"""Outcome rules: what each observed person-week of the panel says.

Every indicator outcome is one rule, a function of the clipped spells of a chunk of persons
(:class:`_ChunkSpells`) and of the outcomes already computed for it, returning a dense
``persons x weeks`` bool array. The rules run in panel order (:func:`_flag_outcomes`), so a rule may use
any outcome listed before it. A new outcome rule is one function here, one entry in :data:`_RULES` and
its place in :func:`_flag_outcomes`.

``ordinary_hours`` itself (hours, not an indicator) is pro rata by days of overlap
(:func:`trialeval.panel.intervals._prorata_hours`) and computed once per chunk.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from trialeval.outcomes import HOURS, SPELL_INDICATORS, DeclaredOutcome, combine, ever, rolling_at_least
from trialeval.panel.intervals import _coverage, _prorata_hours
from trialeval.panel.spells import _BENEFIT, _HOURS, _INTERNSHIP, _WAGE_SUBSIDY, SPELL_TYPES

#: The 13-week rule: a chain must hold this many company-directed weeks ...
CHAIN_WEEKS = 13
#: ... and survives runs of at most this many non-company-directed weeks (which do not count).
MAX_GAP_WEEKS = 4


@dataclass(eq=False)
class _ChunkSpells:
    """The spells of persons ``[p0, p1)``, as day ranges relative to each person's visitation date and
    clipped to that person's observed window (empty ranges dropped).

    ``local`` is the person's position in the chunk, ``kind`` the spell type code (its index in the
    spell types), ``hours_per_week`` NaN except on ordinary-hours spells, ``workplace`` a code or -1.
    """

    local: np.ndarray
    a: np.ndarray
    b: np.ndarray
    kind: np.ndarray
    hours_per_week: np.ndarray
    workplace: np.ndarray
    n_workplaces: int
    n_persons: int
    n_weeks: int
    lo: int             # first relative day of the window (week index 0)
    week_one: int       # index of week 1
    min_days: int
    period_days: int    # days in a period of the time axis
    starts: np.ndarray | None = None    # periods of unequal length: per person, see panel.intervals

    def covered(self, code: int) -> np.ndarray:
        """Dense ``persons x weeks`` bool: spells of type ``code`` cover at least ``min_days`` of the week."""
        m = self.kind == code
        return _coverage(self.local[m], self.a[m], self.b[m], self.n_persons, self.n_weeks, self.lo,
                         self.min_days, self.period_days, self.starts)

    @cached_property
    def hours(self) -> tuple[np.ndarray, np.ndarray]:
        """Ordinary hours of the touched cells ``local * n_weeks + j`` (sorted) and their hours."""
        m = self.kind == _HOURS
        return _prorata_hours(self.local[m], self.a[m], self.b[m], self.hours_per_week[m], self.lo,
                              self.n_weeks, self.period_days, self.starts)

    def reached(self, first: np.ndarray) -> np.ndarray:
        """Dense ``persons x weeks`` bool: the week is at or after each person's week index ``first``."""
        return np.arange(self.n_weeks)[None, :] >= first[:, None]


#: A rule: (spells of the chunk, outcomes computed so far) -> dense persons x weeks bool.
Rule = Callable[[_ChunkSpells, dict[str, np.ndarray]], np.ndarray]


def _in_internship(s: _ChunkSpells, done: dict[str, np.ndarray]) -> np.ndarray:
    return s.covered(_INTERNSHIP)


def _in_wage_subsidy(s: _ChunkSpells, done: dict[str, np.ndarray]) -> np.ndarray:
    return s.covered(_WAGE_SUBSIDY)


def _has_ordinary_hours(s: _ChunkSpells, done: dict[str, np.ndarray]) -> np.ndarray:
    """Hours > 0: ``hours_per_week > 0``, so every week an ordinary-hours spell touches has hours."""
    has_hours = np.zeros(s.n_persons * s.n_weeks, dtype=bool)
    has_hours[s.hours[0]] = True
    return has_hours.reshape(s.n_persons, s.n_weeks)


def _company_directed(s: _ChunkSpells, done: dict[str, np.ndarray]) -> np.ndarray:
    return done["in_internship"] | done["in_wage_subsidy"] | done["has_ordinary_hours"]


def _self_supporting(s: _ChunkSpells, done: dict[str, np.ndarray]) -> np.ndarray:
    """No benefit spell covers the week."""
    return ~s.covered(_BENEFIT)


def _reached_13_weeks(s: _ChunkSpells, done: dict[str, np.ndarray]) -> np.ndarray:
    return s.reached(_first_reach(done["company_directed"], s.week_one))


def _reached_13_weeks_same_workplace(s: _ChunkSpells, done: dict[str, np.ndarray]) -> np.ndarray:
    return s.reached(_same_workplace_first(s.local, s.a, s.b, s.kind, s.workplace, s.n_workplaces,
                                           s.n_persons, s.n_weeks, s.lo, s.min_days, s.week_one,
                                           s.period_days))


def _indicator(code: int) -> Rule:
    """The rule of a declared spell type: its spells cover the week (``min_days``)."""
    def rule(s: _ChunkSpells, done: dict[str, np.ndarray]) -> np.ndarray:
        return s.covered(code)
    return rule


_RULES: dict[str, Rule] = {
    "in_internship": _in_internship,
    "in_wage_subsidy": _in_wage_subsidy,
    "has_ordinary_hours": _has_ordinary_hours,
    "company_directed": _company_directed,
    "self_supporting": _self_supporting,
    "reached_13_weeks": _reached_13_weeks,
    "reached_13_weeks_same_workplace": _reached_13_weeks_same_workplace,
}


def _flag_outcomes(has_benefit: bool, has_workplace: bool, extras: Sequence[str],
                   declared: Sequence[DeclaredOutcome] = ()) -> tuple[str, ...]:
    """The indicator outcomes of a panel, in panel order (the order their rules run in).

    Benefit only when the input holds benefit spells (before matching, so that the columns do not depend
    on which persons happen to be drawn); same-workplace only when ``workplace_id`` has values; then one
    ``in_<type>`` per declared spell type; then the declared outcomes, in the order declared.
    """
    flags = ["in_internship", "in_wage_subsidy", "has_ordinary_hours", "company_directed"]
    if has_benefit:
        flags.append("self_supporting")
    flags.append("reached_13_weeks")
    if has_workplace:
        flags.append("reached_13_weeks_same_workplace")
    flags += [f"in_{t}" for t in extras]
    flags += [o.name for o in declared]
    return tuple(flags)


def _rules_for(flag_outcomes: Sequence[str], n_extras: int, declared: Sequence[DeclaredOutcome] = (),
               types: Sequence[str] = SPELL_TYPES) -> tuple[tuple[str, Rule], ...]:
    """``(outcome, rule)`` in panel order: the built-in outcomes, the ``n_extras`` declared spell types'
    indicators, then the ``declared`` outcomes (read from the spell ``types``)."""
    n_builtin = len(flag_outcomes) - n_extras - len(declared)
    rules = [(name, _RULES[name]) for name in flag_outcomes[:n_builtin]]
    rules += [(name, _indicator(len(SPELL_TYPES) + e))
              for e, name in enumerate(flag_outcomes[n_builtin:n_builtin + n_extras])]
    rules += [(o.name, _declared_rule(o, types)) for o in declared]
    return tuple(rules)


def _declared_rule(outcome: DeclaredOutcome, types: Sequence[str]) -> Rule:
    """The rule of a declared outcome: its operands are outcomes computed before it or spell types."""
    codes = {t: code for code, t in enumerate(types)}

    def rule(s: _ChunkSpells, done: dict[str, np.ndarray]) -> np.ndarray:
        def fetch(name: str) -> np.ndarray:
            if name in done:
                return done[name]
            return done[SPELL_INDICATORS[name]] if name in SPELL_INDICATORS else s.covered(codes[name])

        if outcome.kind == "combine":
            return combine(outcome, fetch)
        if outcome.kind == "ever":
            return ever(fetch(outcome.source), s.week_one)
        if outcome.source == HOURS:
            cells, hours = s.hours
            values = np.bincount(cells, weights=hours, minlength=s.n_persons * s.n_weeks)
            return rolling_at_least(values.reshape(s.n_persons, s.n_weeks), outcome.window, outcome.at_least)
        return rolling_at_least(fetch(outcome.source), outcome.window, outcome.at_least)
    return rule


def _counted_in_weeks(flag_outcomes: Sequence[str], declared: Sequence[DeclaredOutcome] = ()) -> frozenset[str]:
    """The outcomes whose rule counts weeks whatever the time axis: the 13-week rules and rolling sums
    (on a month axis they are counted on weeks and read at the end of each month)."""
    rolling = {o.name for o in declared if o.kind == "rolling_sum"}
    return frozenset(name for name in flag_outcomes
                     if name in ("reached_13_weeks", "reached_13_weeks_same_workplace") or name in rolling)


def _first_reach(active: np.ndarray, week_one: int, need: int = CHAIN_WEEKS,
                 max_gap: int = MAX_GAP_WEEKS) -> np.ndarray:
    """Week index at which a chain first holds ``need`` active weeks (``n_weeks`` if never).

    The 13-week rule, vectorised over rows and iterated over weeks from ``week_one`` (week 1):
    an active week adds one to the chain; inactive weeks add nothing, and the chain is reset to zero when
    the run of inactive weeks becomes longer than ``max_gap``.
    """
    n_rows, n_weeks = active.shape
    first = np.full(n_rows, n_weeks, dtype=np.int64)
    if n_rows == 0 or week_one >= n_weeks:
        return first
    rows = np.flatnonzero(np.count_nonzero(active[:, week_one:], axis=1) >= need)  # others never reach it
    if len(rows) == 0:
        return first
    sub = active[rows, week_one:]
    # Transposed in blocks of rows (cache-friendly), so that each week is one contiguous vector.
    by_week = np.concatenate([np.ascontiguousarray(sub[i:i + 4096].T) for i in range(0, len(rows), 4096)],
                             axis=1)
    chain = np.zeros(len(rows), dtype=np.uint8)
    gap = np.zeros(len(rows), dtype=np.uint8)
    ok = np.empty(len(rows), dtype=bool)
    done = np.zeros(len(rows), dtype=bool)
    weeks_done = np.zeros(len(rows), dtype=np.int64)     # weeks since the chain first held `need`
    # Arithmetic instead of masked assignment: several times faster on these short vectors.
    for act in by_week:
        np.add(gap, 1, out=gap)
        np.multiply(gap, ~act, out=gap)                    # an active week closes the gap ...
        np.minimum(gap, max_gap + 1, out=gap)
        np.add(chain, act, out=chain)                      # ... and counts; gap weeks do not count
        np.less_equal(gap, max_gap, out=ok)
        np.multiply(chain, ok, out=chain)                  # a gap longer than max_gap breaks the chain
        np.minimum(chain, need, out=chain)                 # beyond `need` the count does not matter
        np.greater_equal(chain, need, out=ok)
        done |= ok
        weeks_done += done
    found = np.where(done, week_one + len(by_week) - weeks_done, n_weeks)
    first[rows] = found
    return first


def _same_workplace_first(local: np.ndarray, a: np.ndarray, b: np.ndarray, kind: np.ndarray,
                          workplace: np.ndarray, n_workplaces: int, n_p: int, n_weeks: int, lo: int,
                          min_days: int, week_one: int, period_days: int) -> np.ndarray:
    """First week of reaching 13 company-directed weeks at one workplace (the 13-week rule per workplace).

    A person-workplace pair is active in a week when internship or wage-subsidy spells at that workplace
    cover the week (``min_days``) or an ordinary-hours spell at that workplace overlaps it; the 13-week
    rule runs on each pair separately and a person reaches it when any pair does.
    """
    first = np.full(n_p, n_weeks, dtype=np.int64)
    m = (kind <= _HOURS) & (workplace >= 0)
    if not m.any():
        return first
    pair, pair_index = np.unique(local[m] * n_workplaces + workplace[m], return_inverse=True)
    pa_, pb, pk = a[m], b[m], kind[m]
    # A pair whose spells touch fewer than 13 weeks in all cannot reach the rule: skip it.
    touched = np.bincount(pair_index.ravel(), weights=(pb - lo) // period_days - (pa_ - lo) // period_days + 1)
    keep = touched[pair_index.ravel()] >= CHAIN_WEEKS
    if not keep.any():
        return first
    pair, pair_index = np.unique(pair[pair_index.ravel()[keep]], return_inverse=True)
    pair_index = pair_index.ravel().astype(np.int64)
    pa_, pb, pk = pa_[keep], pb[keep], pk[keep]
    active = np.zeros((len(pair), n_weeks), dtype=bool)
    for code, days in ((_INTERNSHIP, min_days), (_WAGE_SUBSIDY, min_days), (_HOURS, 1)):
        s = pk == code
        active |= _coverage(pair_index[s], pa_[s], pb[s], len(pair), n_weeks, lo, days, period_days)
    np.minimum.at(first, pair // n_workplaces, _first_reach(active, week_one))
    return first

