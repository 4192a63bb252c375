"""The design of a draw: requests, strata, blocks, the treatment share and the design record.

A wave is drawn within blocks (``w<wave>|<municipality>|<strata>``) with an exact share; the parts of
the config that decide a draw are recorded in the manifest and must stay the same from wave to wave
unless a change is declared. The names are also importable from :mod:`trialeval.draw`.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from fractions import Fraction
from typing import Any

import numpy as np
import pandas as pd

from trialeval.config import EligibilityRule, TrialConfig
from trialeval.exceptions import DesignError, InputDataError
from trialeval.io import DECIMAL_COMMA_RULE, decimal_comma, row_error

#: The parts of a design that must stay the same from wave to wave (unless a change is declared).
DESIGN_FIELDS = ("seed", "treatment_share", "rules", "any_of", "strata_columns", "bands", "groups", "reference")
#: The value of a design part that a record without it had (group labels were recorded from the first
#: trial that declared its own; every earlier one used these).
_FIELD_DEFAULTS: dict[str, Any] = {"groups": ["treatment", "control"], "reference": "control", "any_of": []}


def parse_requests(requests: Mapping[str, int] | list[str]) -> dict[str, int]:
    """Normalise requests given as ``{"Aarhus": 10}`` or ``["Aarhus=10"]``.

    Examples
    --------
    >>> parse_requests(["Aarhus=10", "Odense=4"])
    {'Aarhus': 10, 'Odense': 4}
    """
    if isinstance(requests, Mapping):
        items = list(requests.items())
    else:
        items = []
        for text in requests:
            name, sep, number = str(text).rpartition("=")
            if not sep or not name.strip():
                raise DesignError(f"request {text!r} is not MUNICIPALITY=N")
            try:
                items.append((name.strip(), int(number)))
            except ValueError:
                raise DesignError(f"request {text!r}: N must be a whole number") from None
    out: dict[str, int] = {}
    for name, n in items:
        if name in out:
            raise DesignError(f"municipality '{name}' is requested twice in one wave")
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
            raise DesignError(f"request for '{name}' must be a whole number ≥ 1; got {n!r}")
        out[str(name)] = int(n)
    if not out:
        raise DesignError("a wave needs at least one request MUNICIPALITY=N")
    return out


def _band_label(column: str, values: pd.Series, edges: tuple[float, ...], source: str) -> pd.Series:
    numbers = pd.to_numeric(values, errors="coerce")
    bad = values.notna() & numbers.isna()
    if bad.any():
        comma = decimal_comma(values)
        if comma.any():
            raise row_error(source, column, f"{DECIMAL_COMMA_RULE} (used for a stratum band)", comma)
        raise row_error(source, column, "is not numeric (used for a stratum band)", bad)

    def fmt(x: float) -> str:
        return f"{x:g}"

    labels = [f"{column}<{fmt(edges[0])}"]
    labels += [f"{column}={fmt(a)}-{fmt(b)}" for a, b in zip(edges, edges[1:])]
    labels.append(f"{column}>={fmt(edges[-1])}")
    # left-closed bands: position = number of edges <= x
    position = np.searchsorted(np.asarray(edges), numbers.to_numpy(dtype=float), side="right")
    out = pd.Series(np.asarray(labels, dtype=object)[position], index=values.index)
    return out.where(numbers.notna(), f"{column}=NA")


def stratum_labels(people: pd.DataFrame, config: TrialConfig, source: str) -> pd.Series:
    """Name each person's stratum from the config's columns and numeric bands, e.g. ``gender=F|age=30-40``.

    Examples
    --------
    >>> import pandas as pd
    >>> cfg = TrialConfig(seed=1, treatment_share=0.5, strata_columns=("gender",), bands={"age": (30.0, 40.0)})
    >>> stratum_labels(pd.DataFrame({"gender": ["F", "M"], "age": [35, 52]}), cfg, "pop").tolist()
    ['gender=F|age=30-40', 'gender=M|age>=40']
    """
    parts = []
    for col in config.strata_columns:
        vals = people[col]
        parts.append(col + "=" + vals.astype(object).where(vals.notna(), "NA").astype(str))
    for col, edges in config.bands.items():
        parts.append(_band_label(col, people[col], edges, source))
    if not parts:
        return pd.Series("all", index=people.index, dtype=object)
    label = parts[0]
    for part in parts[1:]:
        label = label + "|" + part
    return label.astype(object)


def design_fraction(share: float) -> Fraction:
    """The treatment share as an exact fraction (nearest with denominator ≤ 10⁶): 1/3 stays 1/3.

    Examples
    --------
    >>> design_fraction(1 / 3), design_fraction(0.5)
    (Fraction(1, 3), Fraction(1, 2))
    """
    return Fraction(share).limit_denominator(10**6)


def assign_within_blocks(blocks: np.ndarray, share: float, rng: np.random.Generator) -> np.ndarray:
    """Complete randomisation within blocks with exact probability ``share`` (randomizr's rule).

    Block ``b`` of size ``n_b`` treats ``floor(n_b p)`` persons, plus one with probability equal to the
    fractional part of ``n_b p``. Returns a boolean array: True = treatment.

    Examples
    --------
    >>> import numpy as np
    >>> treated = assign_within_blocks(np.array(["a"] * 5 + ["b"] * 4), 0.5, np.random.default_rng(1))
    >>> int(treated[:5].sum()) in (2, 3), int(treated[5:].sum())
    (True, 2)
    """
    uniq, codes, sizes = np.unique(blocks, return_inverse=True, return_counts=True)
    p = design_fraction(share)
    expected = [Fraction(int(n)) * p for n in sizes]
    floors = np.array([math.floor(e) for e in expected], dtype=np.int64)
    fractions = np.array([float(e - math.floor(e)) for e in expected])
    # one uniform per block decides the rounding, then one key per person decides who
    n_treated = floors + (rng.random(len(uniq)) < fractions)
    keys = rng.random(len(blocks))
    order = np.lexsort((keys, codes))
    starts = np.concatenate(([0], np.cumsum(sizes)[:-1]))
    rank = np.empty(len(blocks), dtype=np.int64)
    rank[order] = np.arange(len(blocks)) - np.repeat(starts, sizes)
    return rank < n_treated[codes]


def design_dict(config: TrialConfig) -> dict[str, Any]:
    """The config's parts that decide a draw (seed, share, rules, strata, column names, and the group
    labels when they are not the default ``treatment``/``control``), as JSON values.

    Examples
    --------
    >>> design_dict(TrialConfig(seed=1, treatment_share=0.5, strata_columns=("gender",)))["strata_columns"]
    ['gender']
    """
    out: dict[str, Any] = {
        "seed": config.seed,
        "treatment_share": config.treatment_share,
        "rules": [r.text for r in config.rules],
        "strata_columns": list(config.strata_columns),
        "bands": {k: list(v) for k, v in sorted(config.bands.items())},
        "columns": dict(sorted(config.columns.items())),
    }
    if config.rule_groups:             # recorded only when declared: a default trial's hash is unchanged
        out["any_of"] = [[r.text for r in group] for group in config.rule_groups]
    if list(config.groups) != _FIELD_DEFAULTS["groups"] or config.reference != _FIELD_DEFAULTS["reference"]:
        # recorded only when declared, so that the record (and its hash) of a default trial is unchanged
        out["groups"], out["reference"] = list(config.groups), config.reference
    return out


def design_sha256(config: TrialConfig | Mapping[str, Any]) -> str:
    """Hash of the config's parts that decide a draw (seed, share, rules, strata, column names)."""
    design = design_dict(config) if isinstance(config, TrialConfig) else dict(config)
    return hashlib.sha256(json.dumps(design, sort_keys=True).encode()).hexdigest()


def config_from_design(design: Mapping[str, Any], source: str) -> TrialConfig:
    """The :class:`TrialConfig` a manifest line's recorded ``design`` describes (to replay that wave)."""
    try:
        return TrialConfig(
            seed=int(design["seed"]),
            treatment_share=float(design["treatment_share"]),
            rules=tuple(EligibilityRule.parse(text) for text in design.get("rules", ())),
            rule_groups=tuple(tuple(EligibilityRule.parse(t) for t in g) for g in design.get("any_of", ())),
            strata_columns=tuple(design.get("strata_columns", ())),
            bands={k: tuple(float(x) for x in v) for k, v in dict(design.get("bands", {})).items()},
            columns=dict(design.get("columns", {})),
            source=source,
            groups=tuple(design.get("groups", _FIELD_DEFAULTS["groups"])),
            reference=str(design.get("reference", _FIELD_DEFAULTS["reference"])),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise InputDataError(f"{source}: the recorded design is not readable ({exc})") from None


def _waves_text(waves: Sequence[int]) -> str:
    if len(waves) == 1:
        return f"wave {waves[0]}"
    if list(waves) == list(range(waves[0], waves[-1] + 1)):
        return f"waves {waves[0]}–{waves[-1]}"
    return "waves " + ", ".join(str(w) for w in waves)


def _design_value(value: Any) -> str:
    if isinstance(value, list):
        return "[" + ", ".join(_design_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k} = {_design_value(v)}" for k, v in sorted(value.items())) + "}"
    if isinstance(value, float) and value.is_integer():
        return f"{value:g}"
    return str(value)


def design_differences(draws: Sequence[Mapping[str, Any]], design: Mapping[str, Any]) -> list[str]:
    """How ``design`` differs from the design of the last recorded wave, one phrase per part.

    ``draws`` are the manifest's draw lines in order. Each phrase names the waves that share the recorded
    value, e.g. ``"seed 20160301 in waves 1–41, 42 now"``.

    Examples
    --------
    >>> old = {"seed": 1, "treatment_share": 0.5, "rules": [], "strata_columns": [], "bands": {}}
    >>> design_differences([{"wave": 1, "design": old}, {"wave": 2, "design": old}], dict(old, seed=2))
    ['seed 1 in waves 1–2, 2 now']
    """
    recorded = [(int(e["wave"]), e["design"]) for e in draws if isinstance(e.get("design"), Mapping)]
    if not recorded:
        return []
    out = []
    for name in DESIGN_FIELDS:
        default = _FIELD_DEFAULTS.get(name)
        last = recorded[-1][1].get(name, default)
        now = design.get(name, default)
        if _same(last, now):
            continue
        waves = []
        for wave, past in reversed(recorded):
            if not _same(past.get(name, default), last):
                break
            waves.append(wave)
        out.append(f"{name} {_design_value(last)} in {_waves_text(sorted(waves))}, "
                   f"{_design_value(now)} now")
    return out


def _same(a: Any, b: Any) -> bool:
    def norm(v: Any) -> Any:
        if isinstance(v, bool) or v is None or isinstance(v, str):
            return v
        if isinstance(v, (int, float, np.integer, np.floating)):
            return float(v)        # a share of 1 and of 1.0 is one design
        if isinstance(v, Mapping):
            return {str(k): norm(x) for k, x in v.items()}
        if isinstance(v, (list, tuple)):
            return [norm(x) for x in v]
        return v
    return json.dumps(norm(a), sort_keys=True) == json.dumps(norm(b), sort_keys=True)


def check_design(
    draws: Sequence[Mapping[str, Any]], config: TrialConfig, design_change: str | None
) -> None:
    """Stop when the config's design differs from the earlier waves' and no change is declared."""
    if not draws or design_change is not None:
        return
    differences = design_differences(draws, design_dict(config))
    if not differences and not any(isinstance(e.get("design"), Mapping) for e in draws):
        last = draws[-1]
        if last.get("design_sha256") not in (None, design_sha256(config)):
            differences = [f"the design (seed, share, rules or strata) of wave {last.get('wave')} "
                           f"differs from {config.source}'s"]
    if differences:
        raise DesignError(
            f"{config.source}: this wave's design differs from the earlier waves': " + "; ".join(differences)
            + ". A trial keeps one design; to change it on purpose, draw with --design-change REASON "
            "(the reason is recorded in the manifest)"
        )
