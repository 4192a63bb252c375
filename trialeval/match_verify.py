"""Replay a matched comparison group (``trialeval verify`` on a ledger written by ``trialeval match``).

``match`` records in the manifest beside its ledger the SHA-256 of each input (the programme ledger, the
population, the spells and the config), the matching settings and the counts. The replay checks the files
given against those hashes, runs the matching again from them (it is deterministic: greedy matching in a
fixed order, ties broken by the data's order) and compares the ledger it gives, written as ``match`` writes
it, with the recorded ledger row by row; the settings and counts of the manifest line must equal the
replay's, and the ledger's hash the manifest's.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from trialeval.config import load_config
from trialeval.design import Design
from trialeval.exceptions import InputDataError, TrialevalError
from trialeval.io import read_ledger, read_population, sha256_file
from trialeval.manifest import _manifest_lines, _settled_problems, manifest_path

PathLike = str | os.PathLike[str]


@dataclass(frozen=True, eq=False)
class MatchVerifyResult:
    """The outcome of replaying a match: identical or not, and every difference found."""

    ok: bool
    n_rows: int
    problems: tuple[str, ...] = field(default_factory=tuple)

    def _repr_html_(self) -> str:
        """A compact view for notebooks: the summary (and the table, when there is one)."""
        from trialeval._console import summary_html

        return summary_html(self)

    def summary(self) -> str:
        if self.ok:
            return (f"Matched ledger confirmed: the matching replayed from the recorded inputs gives the same "
                    f"{self.n_rows} rows.")
        return "Matched ledger does NOT match its replay:\n" + "\n".join(f"  - {p}" for p in self.problems)

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "n_rows": self.n_rows, "problems": list(self.problems)}


def match_event(ledger_path: PathLike) -> dict[str, Any] | None:
    """The ``match`` line of a ledger's manifest, or None when the ledger was not written by ``match``."""
    lines = _manifest_lines(manifest_path(ledger_path))
    events = [entry for _, entry in lines if entry.get("event") == "match"]
    return events[0] if events else None


def _normal(value: Any) -> Any:
    """A value as JSON gives it back (tuples as lists), for comparing recorded and replayed settings."""
    return json.loads(json.dumps(value, sort_keys=True))


def _first_row_difference(recorded: list[str], replayed: list[str]) -> list[str]:
    if recorded[:1] != replayed[:1]:
        return [f"the ledger's columns are {recorded[0] if recorded else '(none)'}; the replay's "
                f"{replayed[0] if replayed else '(none)'}"]
    header = recorded[0].split(",")
    problems = []
    differing = [k for k in range(1, min(len(recorded), len(replayed))) if recorded[k] != replayed[k]]
    if differing:
        k = differing[0]
        rec, rep = recorded[k].split(","), replayed[k].split(",")
        cols = [h for h, a, b in zip(header, rec, rep) if a != b] or header
        problems.append(f"row {k} (person {rec[0]}) differs in {', '.join(cols)}: the ledger has "
                        f"{recorded[k]!r}, the replay {replayed[k]!r} ({len(differing)} such row(s))")
    if len(recorded) != len(replayed):
        problems.append(f"the ledger has {len(recorded) - 1} rows, the replay {len(replayed) - 1}")
    return problems


def verify_match(ledger_path: PathLike, *, programme_ledger: PathLike | None, population: PathLike | None,
                 spells: PathLike | None, config: PathLike) -> MatchVerifyResult:
    """Replay the match recorded beside ``ledger_path`` from the given inputs and compare (see the module)."""
    from trialeval.match import match_comparison

    ledger_path = Path(ledger_path)
    entry = match_event(ledger_path)
    if entry is None:
        raise InputDataError(f"{manifest_path(ledger_path)}: no match recorded; nothing to replay")
    given = {"ledger": programme_ledger, "population": population, "spells": spells, "config": config}
    option = {"ledger": "--programme-ledger", "population": "--population", "spells": "--spells",
              "config": "--config"}
    missing = [option[k] for k, v in given.items() if v is None]
    if missing:
        raise InputDataError(f"{ledger_path} was written by trialeval match; replaying it needs "
                             f"{', '.join(missing)} (the files it was matched from)")
    recorded_hashes: Mapping[str, str] = entry.get("inputs", {})
    problems = [f"{option[name]} {path}: its SHA-256 differs from the one recorded in {manifest_path(ledger_path)}; "
                "it is not the file the group was matched from"
                for name, path in given.items() if recorded_hashes.get(name) != sha256_file(path)]  # type: ignore[arg-type]
    text = ledger_path.read_text(encoding="utf-8").splitlines()
    if not problems:
        cfg = load_config(Path(config))
        try:
            led = read_ledger(programme_ledger, rename=cfg.columns, design=Design.from_config(cfg))  # type: ignore[arg-type]
            people = read_population(population, rename=cfg.columns)  # type: ignore[arg-type]
            result = match_comparison(led, people, spells, cfg, keep_excluded=bool(entry.get("keep_excluded")),
                                      source=str(population))
        except TrialevalError as exc:
            problems.append(f"the match cannot be replayed: {exc}")
        else:
            replayed = result.ledger.to_csv(index=False, lineterminator="\n").splitlines()
            problems += _first_row_difference(text, replayed)
            for name, now in (("settings", result.settings.to_dict()), ("counts", result.counts)):
                if _normal(entry.get(name)) != _normal(now):
                    problems.append(f"{manifest_path(ledger_path)}: the recorded {name} differ from the replay's "
                                    f"({_normal(entry.get(name))} recorded, {_normal(now)} replayed); the line "
                                    "was edited")
    problems += _settled_problems(ledger_path)
    return MatchVerifyResult(ok=not problems, n_rows=max(len(text) - 1, 0), problems=tuple(problems))


__all__ = ["MatchVerifyResult", "match_event", "verify_match"]
