"""The per-chunk kernel: the spells of one chunk of persons into its compact person-week block.

Vectorised over persons and spells (no loop over either): each spell becomes a day range relative to its
person's visitation date, clipped to that person's observed window (:func:`_clip_spells`); every outcome
rule of :mod:`trialeval.panel.rules` turns those ranges into a dense ``persons x weeks`` array; the
observed cells are packed one bit per indicator with hours kept sparsely (:func:`_compact`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from trialeval.panel.rules import Rule, _ChunkSpells
from trialeval.panel.spells import _HOURS, _Spells


@dataclass(frozen=True)
class _Chunk:
    """Observed cells of persons ``[start, stop)`` of the ledger, in long (person, week) order."""

    start: int
    stop: int
    flags: np.ndarray       # one bit per indicator outcome
    hours_row: np.ndarray   # rows with ordinary hours > 0
    hours: np.ndarray       # their hours


@dataclass(frozen=True)
class _Context:
    """What every chunk shares: the persons' windows and the outcome rules."""

    v: np.ndarray           # visitation day number per person (ledger order)
    last_week: np.ndarray   # last observed week per person
    n_obs: np.ndarray       # observed weeks per person
    k_min: int              # first week of the window
    n_weeks: int
    min_days: int
    period_days: int        # days in a period of the time axis
    rules: tuple[tuple[str, Rule], ...]     # (indicator outcome, rule) in panel order


def _build_chunk(ctx: _Context, p0: int, p1: int, sp: _Spells, rows: slice, hours_rows: slice) -> _Chunk:
    """Outcomes of persons ``[p0, p1)`` as dense ``persons x weeks`` arrays, then compacted.

    ``rows`` are the spells of those persons and ``hours_rows`` the hours of their ordinary-hours spells.
    """
    spells = _clip_spells(ctx, p0, p1, sp, rows, hours_rows)
    flags: dict[str, np.ndarray] = {}
    for name, rule in ctx.rules:
        flags[name] = rule(spells, flags)
    hours_cells, hours = spells.hours
    return _compact(ctx, p0, p1, flags, hours_cells, hours)


def _clip_spells(ctx: _Context, p0: int, p1: int, sp: _Spells, rows: slice, hours_rows: slice
                 ) -> _ChunkSpells:
    """The chunk's spells relative to visitation, clipped to each person's window [lo, last observed day]."""
    lo = ctx.period_days * (ctx.k_min - 1)
    local = sp.person[rows].astype(np.int64) - p0      # int64: codes such as local * n_workplaces
    v = ctx.v[sp.person[rows]]
    a = np.maximum(sp.start[rows] - v, lo)
    b = np.minimum(sp.end[rows] - v, ctx.period_days * ctx.last_week[sp.person[rows]] - 1)
    keep = a <= b
    hours_pw = np.full(len(keep), np.nan)
    hours_pw[sp.kind[rows] == _HOURS] = sp.hours[hours_rows]
    return _ChunkSpells(
        local=local[keep], a=a[keep], b=b[keep], kind=sp.kind[rows][keep], hours_per_week=hours_pw[keep],
        workplace=sp.workplace[rows][keep], n_workplaces=sp.n_workplaces, n_persons=p1 - p0,
        n_weeks=ctx.n_weeks, lo=lo, week_one=-ctx.k_min + 1, min_days=ctx.min_days,
        period_days=ctx.period_days)


def _compact(ctx: _Context, p0: int, p1: int, flags: dict[str, np.ndarray], hours_cells: np.ndarray,
             hours: np.ndarray) -> _Chunk:
    """The observed cells of the dense arrays: indicators packed one bit each, hours as (row, value)."""
    n_p, n_weeks = p1 - p0, ctx.n_weeks
    n_bits = len(ctx.rules)
    dtype = np.uint8 if n_bits <= 8 else np.uint16 if n_bits <= 16 else np.uint32 if n_bits <= 32 else np.uint64
    packed = np.zeros((n_p, n_weeks), dtype=dtype)
    shifted = np.empty((n_p, n_weeks), dtype=dtype)
    for bit, (name, _) in enumerate(ctx.rules):
        np.left_shift(flags[name], dtype(bit), out=shifted, dtype=dtype, casting="unsafe")
        packed |= shifted
    n_obs = ctx.n_obs[p0:p1]
    offsets = np.cumsum(n_obs) - n_obs
    weeks_idx = np.arange(n_weeks)
    flat = packed.ravel() if int(n_obs.sum()) == n_p * n_weeks else packed[weeks_idx[None, :] < n_obs[:, None]]
    # Hours cells are all observed (spells were clipped to the window); map them to long rows.
    pos = hours_cells // n_weeks
    row_dtype = np.int32 if n_obs.sum() < 2**31 else np.int64
    hours_row = (offsets[pos] + hours_cells - pos * n_weeks).astype(row_dtype)
    return _Chunk(start=p0, stop=p1, flags=flat, hours_row=hours_row, hours=hours)
