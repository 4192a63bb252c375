"""The randomised draw: waves, blocks, the ledger, its manifest, verify and exclude.

A wave answers requests ``municipality = n`` (n programme places). From that municipality's eligible
candidates not already in the ledger a simple random sample of ``ceil(n / p)`` is drawn; arms are then
assigned by complete randomisation within blocks of wave × municipality × stratum. A block of size
``n_b`` treats ``floor(n_b p)`` or that plus one, the latter with probability ``n_b p − floor(n_b p)``,
so that every person's probability of treatment is exactly ``p`` (randomizr's ``block_ra`` rule).

Reproducibility: rows are sorted by ``person_id`` before any random number is drawn and each wave uses
``numpy.random.default_rng([seed, wave])``. Immutability: a wave only appends; persons already in the
ledger are never drawn again.

Integrity: ``draw`` and ``exclude`` hold an exclusive lock (``LEDGER.lock`` beside the ledger) from
reading the ledger to the last rename, so two writers never interleave. Every manifest line records the
SHA-256 of the ledger it produced and of the previous manifest line (a hash chain). The manifest line is
renamed into place first and the ledger second, so an interruption between the two leaves a manifest
whose last line names a ledger that was never written while the line before matches the ledger on disk;
:func:`check_ledger_manifest` recognises that state (and hand edits, and a missing manifest) and every
command that reads a ledger calls it first.
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import datetime as dt
import hashlib
import io as _io
import json
import math
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import filelock
import numpy as np
import pandas as pd

from trialeval._version import __version__
from trialeval.config import EligibilityRule, TrialConfig, apply_eligibility, load_config
from trialeval.exceptions import DesignError, InputDataError, TrialevalError
from trialeval.io import (
    DECIMAL_COMMA_RULE,
    LEDGER_COLUMNS,
    atomic_write,
    check_not_inputs,
    decimal_comma,
    parse_date,
    read_ledger,
    read_population,
    read_table,
    row_error,
    sha256_file,
    validate_ledger,
    validate_population,
    write_table,
    write_text,
)

#: Ledger columns that a replay must reproduce exactly.
ASSIGNMENT_COLUMNS = ("person_id", "arm", "visitation_date", "municipality", "stratum", "wave")

#: ``previous_sha256`` of a manifest's first line.
GENESIS_SHA256 = "0" * 64

#: Seconds a draw or exclusion waits for another one writing the same ledger.
DEFAULT_LOCK_TIMEOUT = 60.0

#: The parts of a design that must stay the same from wave to wave (unless a change is declared).
DESIGN_FIELDS = ("seed", "treatment_share", "rules", "strata_columns", "bands")


def manifest_path(ledger_path: str | os.PathLike[str]) -> Path:
    """The sidecar manifest of a ledger: ``ledger.csv`` → ``ledger.manifest.jsonl``."""
    ledger_path = Path(ledger_path)
    return ledger_path.with_name(ledger_path.stem + ".manifest.jsonl")


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
    """The config's parts that decide a draw (seed, share, rules, strata, column names), as JSON values.

    Examples
    --------
    >>> design_dict(TrialConfig(seed=1, treatment_share=0.5, strata_columns=("gender",)))["strata_columns"]
    ['gender']
    """
    return {
        "seed": config.seed,
        "treatment_share": config.treatment_share,
        "rules": [r.text for r in config.rules],
        "strata_columns": list(config.strata_columns),
        "bands": {k: list(v) for k, v in sorted(config.bands.items())},
        "columns": dict(sorted(config.columns.items())),
    }


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
            strata_columns=tuple(design.get("strata_columns", ())),
            bands={k: tuple(float(x) for x in v) for k, v in dict(design.get("bands", {})).items()},
            columns=dict(design.get("columns", {})),
            source=source,
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
        last = recorded[-1][1].get(name)
        if _same(last, design.get(name)):
            continue
        waves = []
        for wave, past in reversed(recorded):
            if not _same(past.get(name), last):
                break
            waves.append(wave)
        out.append(f"{name} {_design_value(last)} in {_waves_text(sorted(waves))}, "
                   f"{_design_value(design.get(name))} now")
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


@dataclass(frozen=True, eq=False)
class DrawResult:
    """One wave: the rows it added, the whole ledger after it, and its manifest entry."""

    wave_rows: pd.DataFrame
    ledger: pd.DataFrame
    manifest_entry: dict[str, Any]
    eligibility: pd.DataFrame

    @property
    def wave(self) -> int:
        return int(self.manifest_entry["wave"])

    def to_frame(self) -> pd.DataFrame:
        """The rows this wave added to the ledger."""
        return self.wave_rows.copy()

    def counts(self) -> pd.DataFrame:
        """Persons drawn per municipality and arm in this wave."""
        return (self.wave_rows.groupby(["municipality", "arm"]).size().unstack("arm", fill_value=0)
                .reindex(columns=["treatment", "control"], fill_value=0))

    def summary(self) -> str:
        e = self.manifest_entry
        lines = [
            f"Wave {e['wave']} on {e['date']}: {e['n_drawn']} drawn "
            f"({e['counts']['treatment']} treatment, {e['counts']['control']} control) "
            f"in {len(e['strata'])} blocks; seed {e['seed']}.",
            "Eligibility (candidates removed by each rule, in order):",
        ]
        lines += [f"  {r.rule:<45} {r.removed:>8} removed, {r.remaining:>8} remain"
                  for r in self.eligibility.itertuples()]
        lines.append("Drawn per municipality:")
        lines += [f"  {muni:<25} {row.treatment:>5} treatment {row.control:>5} control"
                  for muni, row in self.counts().iterrows()]
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return dict(self.manifest_entry)

    def _repr_html_(self) -> str:
        return "<pre>" + self.summary() + "</pre>"


def draw(
    population: pd.DataFrame,
    config: TrialConfig,
    requests: Mapping[str, int] | list[str],
    date: str | dt.date,
    ledger: pd.DataFrame | None = None,
    *,
    population_sha256: str = "",
    source: str = "population",
) -> DrawResult:
    """Draw one wave and return the ledger after it (nothing is written).

    Parameters
    ----------
    population
        Candidates, already validated; any order (they are sorted by ``person_id``).
    config
        The trial config: seed, treatment share, eligibility rules and strata.
    requests
        Programme places per municipality, ``{"Aarhus": 10}`` or ``["Aarhus=10"]``.
    date
        The wave's visitation date, ``YYYY-MM-DD`` (a calendar day) or a date.
    ledger
        The ledger so far (validated), or None for the first wave.

    Examples
    --------
    >>> import pandas as pd
    >>> pop = pd.DataFrame({"person_id": [f"p{i:02d}" for i in range(20)], "municipality": ["A"] * 20})
    >>> cfg = TrialConfig(seed=42, treatment_share=0.5)
    >>> result = draw(pop, cfg, {"A": 3}, "2016-03-01")
    >>> result.wave_rows["arm"].value_counts().to_dict()
    {'control': 3, 'treatment': 3}
    """
    requests = parse_requests(requests)
    date = parse_date(date, "date")
    population = validate_population(population, source)
    previous = ledger if ledger is not None and len(ledger) else None
    wave = 1 if previous is None or "wave" not in previous else int(previous["wave"].max()) + 1

    missing_strata = [c for c in (*config.strata_columns, *config.bands) if c not in population.columns]
    if missing_strata:
        raise InputDataError(
            f"{source}: stratum column(s) {', '.join(repr(c) for c in missing_strata)} named in "
            f"{config.source} [strata] are missing from the population"
        )
    known = set(population["municipality"])
    unknown = sorted(set(requests) - known)
    if unknown:
        raise DesignError(
            f"unknown municipality {', '.join(repr(u) for u in unknown)}: not in {source} "
            f"(known: {', '.join(sorted(known)[:20])}{', …' if len(known) > 20 else ''})"
        )

    eligible, eligibility = apply_eligibility(population, config.rules, source)
    if previous is not None:
        eligible = eligible.loc[~eligible["person_id"].isin(set(previous["person_id"]))]

    share = design_fraction(config.treatment_share)
    wanted = {m: math.ceil(Fraction(n) / share) for m, n in sorted(requests.items())}
    pools = {m: eligible.loc[eligible["municipality"] == m] for m in wanted}
    short = [f"'{m}' asks for {n} places = {wanted[m]} persons, but only {len(pools[m])} eligible "
             f"candidates are not yet drawn" for m, n in sorted(requests.items()) if wanted[m] > len(pools[m])]
    if short:
        raise DesignError("request larger than the pool: " + "; ".join(short))

    rng = np.random.default_rng([config.seed, wave])
    chosen = [pools[m].iloc[np.sort(rng.choice(len(pools[m]), size=wanted[m], replace=False))]
              for m in wanted]
    drawn = pd.concat(chosen).sort_values("person_id", kind="stable", ignore_index=True)
    stratum = (f"w{wave}|" + drawn["municipality"].astype(str) + "|"
               + stratum_labels(drawn, config, source)).astype(object)
    treated = assign_within_blocks(stratum.to_numpy(dtype=object).astype(str), config.treatment_share, rng)

    covariates = [c for c in drawn.columns if c not in LEDGER_COLUMNS]
    rows = pd.DataFrame({
        "person_id": drawn["person_id"].astype(object),
        "arm": np.where(treated, "treatment", "control").astype(object),
        "visitation_date": pd.Series(date, index=drawn.index).astype("datetime64[ns]"),
        "municipality": drawn["municipality"].astype(object),
        "stratum": stratum,
        "wave": np.int64(wave),
        "followup_end": pd.Series(pd.NaT, index=drawn.index, dtype="datetime64[ns]"),
        "excluded": False,
        "exclusion_reason": "",
        "exclusion_date": pd.Series(pd.NaT, index=drawn.index, dtype="datetime64[ns]"),
    })
    rows = pd.concat([rows, drawn[covariates]], axis=1)
    after = rows if previous is None else pd.concat([previous, rows], ignore_index=True)

    per_block = rows.groupby(["stratum", "arm"]).size().unstack("arm", fill_value=0)
    entry = {
        "event": "draw",
        "wave": wave,
        "date": date.strftime("%Y-%m-%d"),
        "seed": config.seed,
        "treatment_share": config.treatment_share,
        "requests": dict(sorted(requests.items())),
        "tool_version": __version__,
        "population_file": Path(source).name,
        "population_sha256": population_sha256,
        "config_sha256": config.sha256,
        "design_sha256": design_sha256(config),
        "design": design_dict(config),
        "n_eligible": int(len(eligible)),
        "n_drawn": int(len(rows)),
        "counts": {arm: int((rows["arm"] == arm).sum()) for arm in ("treatment", "control")},
        "strata": {str(s): {arm: int(per_block.loc[s].get(arm, 0)) for arm in ("treatment", "control")}
                   for s in per_block.index},
        "eligibility": eligibility.to_dict("records"),
    }
    return DrawResult(wave_rows=rows, ledger=after, manifest_entry=entry, eligibility=eligibility)


def _manifest_lines(path: Path) -> list[tuple[str, dict[str, Any]]]:
    """Each non-empty manifest line as (its text without the line end, its parsed entry)."""
    if not path.is_file():
        return []
    out = []
    for number, line in enumerate(path.read_bytes().decode("utf-8").split("\n"), start=1):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InputDataError(f"{path}: line {number} is not JSON: {exc}") from exc
        if not isinstance(entry, dict):
            raise InputDataError(f"{path}: line {number} is not a JSON object")
        out.append((line, entry))
    return out


def read_manifest(path: str | Path) -> list[dict[str, Any]]:
    """The manifest's entries (draws and exclusions), in order."""
    return [entry for _, entry in _manifest_lines(Path(path))]


def is_draw_event(entry: Mapping[str, Any]) -> bool:
    """True for a manifest line that records a wave (lines of earlier versions have no ``event``)."""
    return entry.get("event", "draw") == "draw"


def line_sha256(line: str) -> str:
    """SHA-256 of one manifest line's UTF-8 bytes, without its line end (the chain's link)."""
    return hashlib.sha256(line.encode("utf-8")).hexdigest()


def lock_path(ledger_path: str | os.PathLike[str]) -> Path:
    """The lock file of a ledger: ``ledger.csv`` → ``ledger.csv.lock``."""
    ledger_path = Path(ledger_path)
    return ledger_path.with_name(ledger_path.name + ".lock")


@contextlib.contextmanager
def ledger_lock(ledger_path: str | os.PathLike[str], timeout: float = DEFAULT_LOCK_TIMEOUT) -> Iterator[None]:
    """Hold the ledger's exclusive lock; wait up to ``timeout`` seconds for another writer to finish.

    The lock is an operating-system lock on ``LEDGER.lock``: it ends with the process that holds it, so
    a killed draw never leaves the ledger locked. The (empty) lock file itself stays.
    """
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not timeout >= 0:
        raise InputDataError(f"lock timeout must be a number of seconds ≥ 0; got {timeout!r}")
    ledger_path = Path(ledger_path)
    ledger_path.parent.mkdir(parents=True, exist_ok=True)
    lock = filelock.FileLock(str(lock_path(ledger_path)), timeout=float(timeout))
    try:
        lock.acquire()
    except filelock.Timeout:
        raise TrialevalError(
            f"{ledger_path}: another draw or exclusion is writing this ledger; waited {timeout:g} s for "
            f"its lock ({lock_path(ledger_path).name}). Run the command again when the other one has "
            "finished, or allow a longer wait (--lock-timeout)"
        ) from None
    try:
        yield
    finally:
        lock.release()


def _event_text(entry: Mapping[str, Any]) -> str:
    if is_draw_event(entry):
        return f"wave {entry.get('wave')}, date {entry.get('date')}"
    return f"exclusion of {entry.get('person_id')}, date {entry.get('date')}"


def written_by_draw(ledger_path: str | os.PathLike[str]) -> bool:
    """Whether a ledger file was written by ``draw``: it has ``wave`` and ``stratum`` columns and some
    row's stratum starts with ``w<wave>|`` (the block name draw gives, e.g. ``w3|Aarhus|gender=F``)."""
    ledger_path = Path(ledger_path)
    suffix = ledger_path.suffix.lower()
    try:
        if suffix == ".csv":
            header = pd.read_csv(ledger_path, nrows=0).columns
            if not {"wave", "stratum"} <= set(header):
                return False
            import pyarrow as pa
            import pyarrow.csv as pacsv

            cols = pacsv.read_csv(ledger_path, convert_options=pacsv.ConvertOptions(
                include_columns=["wave", "stratum"], column_types={"wave": pa.string(), "stratum": pa.string()},
            )).to_pandas()
        elif suffix in (".parquet", ".pq"):
            import pyarrow.parquet as pq

            if not {"wave", "stratum"} <= set(pq.read_schema(ledger_path).names):
                return False
            cols = pq.read_table(ledger_path, columns=["wave", "stratum"]).to_pandas()
        else:
            cols = read_table(ledger_path)
            if not {"wave", "stratum"} <= set(cols.columns):
                return False
    except (OSError, ValueError, pd.errors.ParserError):   # pyarrow's ArrowInvalid is a ValueError
        return False       # an unreadable file is reported by the reader that follows, with its own message
    wave = cols["wave"].astype(str).str.strip().str.removesuffix(".0")
    block = cols["stratum"].astype(str).str.split("|", n=1).str[0]
    return bool((block == "w" + wave).any())


def ledger_manifest_problems(ledger_path: str | os.PathLike[str]) -> list[str]:
    """What disagrees between a ledger and its manifest, with how to recover; empty when they agree.

    See :func:`check_ledger_manifest`.
    """
    ledger_path = Path(ledger_path)
    mpath = manifest_path(ledger_path)
    lines = _manifest_lines(mpath)
    if not ledger_path.exists():
        if not lines:
            return []
        if len(lines) == 1 and lines[0][1].get("ledger_sha256"):
            return [f"{mpath}: the last event ({_event_text(lines[0][1])}) was recorded in the manifest but its "
                    f"ledger {ledger_path} was never written; to recover, delete {mpath} (its only line) and "
                    "run the draw again"]
        return [f"{ledger_path}: the ledger is missing, but its manifest {mpath} records {len(lines)} event(s); "
                "restore the ledger from a backup (never start a new one beside this manifest)"]
    if not lines:
        if written_by_draw(ledger_path):
            return [f"{ledger_path}: this ledger was written by trialeval draw (its strata are named "
                    f"'w<wave>|…'), but its manifest {mpath} is {'empty' if mpath.exists() else 'missing'}; "
                    "restore the manifest from a backup — without it the draw cannot be verified or continued"]
        return []

    chained = False
    for k, (_, entry) in enumerate(lines, start=1):
        if "previous_sha256" not in entry:
            if chained:
                return [f"{mpath}: line {k} has no hash chain (no previous_sha256), but earlier lines do; the "
                        "line was added or edited by hand. Restore the manifest from a backup"]
            continue      # a manifest of an earlier trialeval version: the chain starts after it
        chained = True
        expected = GENESIS_SHA256 if k == 1 else line_sha256(lines[k - 2][0])
        if entry["previous_sha256"] != expected:
            return [f"{mpath}: the hash chain breaks at line {k} ({_event_text(entry)}): its previous_sha256 "
                    f"does not match line {k - 1}, so line {k - 1} was edited, or lines were removed or "
                    "inserted; restore the manifest from a backup, then run trialeval verify"]

    last = lines[-1][1]
    if not last.get("ledger_sha256"):
        return []
    actual = sha256_file(ledger_path)
    if last["ledger_sha256"] == actual:
        return []
    n = len(lines)
    if n >= 2 and lines[-2][1].get("ledger_sha256") == actual:
        again = "draw" if is_draw_event(last) else "exclusion"
        return [f"{ledger_path}: the last event ({_event_text(last)}) was recorded in the manifest but its "
                f"ledger was never written; the ledger is as after the previous event; to recover, remove "
                f"the last line of {mpath} and run the {again} again"]
    earlier = [k for k, (_, e) in enumerate(lines[:-1], start=1) if e.get("ledger_sha256") == actual]
    if earlier:
        k = earlier[-1]
        return [f"{ledger_path}: the ledger is as it was after line {k} of {mpath} "
                f"({_event_text(lines[k - 1][1])}), but lines {k + 1}–{n} record later events; an older copy "
                "of the ledger was put back. Restore the ledger that the manifest's last line describes"]
    return [f"{ledger_path}: its SHA-256 {actual[:16]}… differs from the {str(last['ledger_sha256'])[:16]}… "
            f"that line {n} of {mpath} ({_event_text(last)}) recorded: the ledger was changed after "
            "trialeval last wrote it (edited by hand or rewritten by another program); trialeval verify "
            "shows what differs; restore the ledger from a backup or undo the edit"]


def check_ledger_manifest(ledger_path: str | os.PathLike[str]) -> None:
    """Stop unless a ledger and its manifest are in step.

    Every command that reads a ledger calls this first. The pair is in step when the manifest's hash
    chain is whole (each line's ``previous_sha256`` is the SHA-256 of the line before; the first line's
    is 64 zeros) and the ledger's SHA-256 is the ``ledger_sha256`` of the manifest's last line. A ledger
    without a manifest needs no check unless ``draw`` wrote it (see :func:`written_by_draw`).

    Raises
    ------
    InputDataError
        Naming what disagrees (the ledger's hash and the last line's, a broken chain at line k, a missing
        manifest or ledger) and how to recover.

    Examples
    --------
    >>> import pandas as pd, tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> pd.DataFrame({"person_id": [f"p{i}" for i in range(10)], "municipality": "A"}).to_csv(d / "pop.csv", index=False)
    >>> _ = (d / "trial.toml").write_text("[trial]\\nseed = 1\\ntreatment_share = 0.5\\n")
    >>> _ = run_draw(d / "pop.csv", d / "trial.toml", d / "ledger.csv", ["A=2"], "2016-03-01")
    >>> check_ledger_manifest(d / "ledger.csv")      # in step: nothing happens
    >>> with open(d / "ledger.csv", "a") as fh:
    ...     _ = fh.write("p9,treatment,2016-03-01,A,w1|A|all,1,,False,,\\n")
    >>> check_ledger_manifest(d / "ledger.csv")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    trialeval.exceptions.InputDataError: ...ledger.csv: its SHA-256 ... differs from the ...
    """
    problems = _settled_problems(ledger_path)
    if problems:
        raise InputDataError(problems[0])


def _settled_problems(ledger_path: str | os.PathLike[str]) -> list[str]:
    """:func:`ledger_manifest_problems`, looked at again once no draw or exclusion is writing the pair.

    A reader does not take the lock, so it may look between a writer's two renames; a disagreement is
    confirmed under the lock (when the lock file exists and can be opened) before it is reported.
    """
    problems = ledger_manifest_problems(ledger_path)
    if problems and lock_path(ledger_path).exists():
        try:
            with ledger_lock(ledger_path):
                problems = ledger_manifest_problems(ledger_path)
        except (OSError, TrialevalError):
            pass             # a read-only folder, or a writer that takes too long: report what was seen
    return problems


def _raise_if_out_of_step(ledger_path: Path) -> None:
    """:func:`check_ledger_manifest` for a caller that holds the lock (nobody else can be writing)."""
    problems = ledger_manifest_problems(ledger_path)
    if problems:
        raise InputDataError(problems[0])


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


def _csv_rows(df: pd.DataFrame, header: list[str], *, with_header: bool = False) -> str:
    out = df.reindex(columns=header).copy()
    for col in out.columns:
        if pd.api.types.is_datetime64_any_dtype(out[col]):
            out[col] = out[col].dt.strftime("%Y-%m-%d").astype(object).where(out[col].notna(), None)
    buffer = _io.StringIO()
    out.to_csv(buffer, index=False, header=with_header, lineterminator="\n")
    return buffer.getvalue()


def _append_event(
    mpath: Path, lines: list[tuple[str, dict[str, Any]]], entry: dict[str, Any], ledger_tmp: Path
) -> dict[str, Any]:
    """Write the manifest with one more line chained to the last, for the ledger now in ``ledger_tmp``.

    The manifest is renamed into place before the ledger: a kill between the two leaves a manifest one
    event ahead of its ledger, which :func:`check_ledger_manifest` names exactly.
    """
    entry = dict(entry, ledger_sha256=sha256_file(ledger_tmp),
                 previous_sha256=line_sha256(lines[-1][0]) if lines else GENESIS_SHA256)
    text = "".join(line + "\n" for line, _ in lines) + json.dumps(entry, sort_keys=True, ensure_ascii=False) + "\n"
    write_text(text, mpath)
    return entry


def run_draw(
    population_path: str | Path,
    config_path: str | Path,
    ledger_path: str | Path,
    requests: Mapping[str, int] | list[str],
    date: str | dt.date,
    *,
    design_change: str | None = None,
    lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
) -> DrawResult:
    """Draw one wave from files and append it to the ledger and its manifest.

    The ledger is created on the first wave. A CSV ledger grows by appending lines, so earlier rows keep
    their exact bytes. Both files are replaced atomically, the manifest first; on any error neither is
    touched. The whole call holds the ledger's lock (:func:`ledger_lock`), and it starts by checking that
    ledger and manifest are in step (:func:`check_ledger_manifest`).

    Parameters
    ----------
    design_change
        Why this wave's design (seed, share, eligibility rules, strata) differs from the earlier waves';
        recorded in the manifest. Without it a changed design is a :class:`DesignError`.
    lock_timeout
        Seconds to wait for another draw or exclusion writing the same ledger.

    Examples
    --------
    >>> import pandas as pd, tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> pd.DataFrame({"person_id": [f"p{i}" for i in range(10)], "municipality": "A"}).to_csv(d / "pop.csv", index=False)
    >>> _ = (d / "trial.toml").write_text("[trial]\\nseed = 1\\ntreatment_share = 0.5\\n")
    >>> run_draw(d / "pop.csv", d / "trial.toml", d / "ledger.csv", ["A=2"], "2016-03-01").wave
    1
    >>> sorted(p.name for p in d.iterdir())
    ['ledger.csv', 'ledger.csv.lock', 'ledger.manifest.jsonl', 'pop.csv', 'trial.toml']
    """
    if design_change is not None and not str(design_change).strip():
        raise DesignError("--design-change needs a reason, e.g. --design-change \"share raised to 0.6 "
                          "by the steering group on 2016-05-01\"")
    config = load_config(config_path)
    population = read_population(population_path, rename=config.columns)
    population_sha256 = sha256_file(population_path)
    ledger_path, mpath = Path(ledger_path), manifest_path(ledger_path)
    check_not_inputs({"--ledger": ledger_path, "--ledger (its manifest)": mpath},
                     {"--population": population_path, "--config": config_path})
    with ledger_lock(ledger_path, lock_timeout):
        _raise_if_out_of_step(ledger_path)
        lines = _manifest_lines(mpath)
        if ledger_path.exists() and not lines:
            raise InputDataError(
                f"{ledger_path}: this ledger has no manifest ({mpath.name}), so draw did not write it; draw "
                "only appends to a ledger it started. Give a new --ledger path for a draw"
            )
        draws = [entry for _, entry in lines if is_draw_event(entry)]
        check_design(draws, config, design_change)
        ledger = read_ledger(ledger_path) if ledger_path.exists() else None
        result = draw(population, config, requests, date, ledger,
                      population_sha256=population_sha256, source=str(population_path))
        if draws and int(draws[-1]["wave"]) >= result.wave:
            raise InputDataError(
                f"{mpath}: already records wave {draws[-1]['wave']}, but {ledger_path} ends at wave "
                f"{result.wave - 1}; the ledger and its manifest disagree — run 'trialeval verify'"
            )
        entry = dict(result.manifest_entry, design_change=str(design_change).strip() if design_change else None)

        csv_ledger = ledger_path.suffix.lower() == ".csv"
        if csv_ledger and ledger_path.exists():
            header = pd.read_csv(ledger_path, nrows=0).columns.tolist()
            dropped = [c for c in result.wave_rows.columns if c not in header]
            if dropped:
                raise InputDataError(
                    f"{ledger_path}: the population has column(s) {', '.join(dropped)} that the ledger lacks; "
                    "a CSV ledger keeps its columns across waves"
                )
        with atomic_write(ledger_path) as tmp:
            if csv_ledger and ledger_path.exists():
                existing = ledger_path.read_bytes()
                if existing and not existing.endswith(b"\n"):
                    existing += b"\n"
                tmp.write_bytes(existing + _csv_rows(result.wave_rows, header).encode("utf-8"))
            elif csv_ledger:
                tmp.write_bytes(_csv_rows(result.ledger, list(result.ledger.columns), with_header=True)
                                .encode("utf-8"))
            else:
                write_table(result.ledger, tmp)
            entry = _append_event(mpath, lines, entry, tmp)
    return dataclasses.replace(result, manifest_entry=entry)


@dataclass(frozen=True, eq=False)
class VerifyResult:
    """The outcome of replaying every wave of a ledger."""

    ok: bool
    waves_checked: int
    n_persons: int
    problems: tuple[str, ...] = field(default_factory=tuple)

    def summary(self) -> str:
        if self.ok:
            return (f"Ledger confirmed: {self.waves_checked} wave(s) replayed, "
                    f"{self.n_persons} persons assigned exactly as recorded.")
        return "Ledger does NOT match its replay:\n" + "\n".join(f"  - {p}" for p in self.problems)

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "waves_checked": self.waves_checked, "n_persons": self.n_persons,
                "problems": list(self.problems)}


def _first_difference(recorded: pd.DataFrame, replayed: pd.DataFrame, wave: int) -> str | None:
    rec = recorded.loc[:, list(ASSIGNMENT_COLUMNS)].sort_values("person_id", ignore_index=True)
    rep = replayed.loc[:, list(ASSIGNMENT_COLUMNS)].sort_values("person_id", ignore_index=True)
    rec_ids, rep_ids = set(rec["person_id"]), set(rep["person_id"])
    if rec_ids != rep_ids:
        extra = sorted(rec_ids - rep_ids)[:5]
        lost = sorted(rep_ids - rec_ids)[:5]
        return (f"wave {wave}: the ledger holds {len(rec)} persons, the replay draws {len(rep)}; "
                f"in ledger only: {extra or 'none'}; in replay only: {lost or 'none'}")
    for col in ASSIGNMENT_COLUMNS[1:]:
        differs = rec[col].astype(str).to_numpy() != rep[col].astype(str).to_numpy()
        if differs.any():
            i = int(np.flatnonzero(differs)[0])
            return (f"wave {wave}: person {rec['person_id'].iat[i]} has {col} = {rec[col].iat[i]!s} in "
                    f"the ledger but {rep[col].iat[i]!s} in the replay ({int(differs.sum())} such rows)")
    return None


#: Manifest fields of a draw line that a replay recomputes and must find unchanged.
_REPLAYED_FIELDS = ("n_drawn", "counts", "strata", "n_eligible", "eligibility", "seed", "treatment_share")


def verify(
    population_paths: str | Path | Sequence[str | Path],
    config_path: str | Path,
    ledger_path: str | Path,
) -> VerifyResult:
    """Replay every wave in the manifest from the same inputs and compare with the ledger.

    Each wave is replayed from the population file whose SHA-256 it recorded — one file, or one per wave
    when each wave had a fresh extract (give them all; they are matched by hash) — with the design it
    recorded (seed, share, rules, strata); its persons, arms, dates, municipalities and strata must equal
    the ledger's, and the counts, blocks and eligibility report of its manifest line must equal the
    replay's. The manifest's hash chain and the ledger's hash are checked too
    (:func:`ledger_manifest_problems`), a design change between waves must carry a recorded reason, and
    the config must give the last wave's design. Exclusions are not assignments and do not count as
    differences.

    Parameters
    ----------
    population_paths
        The population file, or a list of them (one per extract).

    Examples
    --------
    >>> import pandas as pd, tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> pd.DataFrame({"person_id": [f"p{i}" for i in range(10)], "municipality": "A"}).to_csv(d / "pop.csv", index=False)
    >>> _ = (d / "trial.toml").write_text("[trial]\\nseed = 1\\ntreatment_share = 0.5\\n")
    >>> _ = run_draw(d / "pop.csv", d / "trial.toml", d / "ledger.csv", ["A=2"], "2016-03-01")
    >>> verify(d / "pop.csv", d / "trial.toml", d / "ledger.csv").ok
    True
    """
    paths = ([population_paths] if isinstance(population_paths, (str, Path)) or not isinstance(population_paths, Sequence)
             else list(population_paths))
    if not paths:
        raise InputDataError("verify needs at least one --population file")
    config = load_config(config_path)
    ledger_path = Path(ledger_path)
    mpath = manifest_path(ledger_path)
    if not ledger_path.exists():
        raise InputDataError(f"{ledger_path}: ledger not found")
    lines = _manifest_lines(mpath)
    draws = [(k, entry) for k, (_, entry) in enumerate(lines, start=1) if is_draw_event(entry)]
    if not draws:
        check_ledger_manifest(ledger_path)          # a ledger draw wrote: say that its manifest is missing
        raise InputDataError(f"{mpath}: no manifest beside the ledger; nothing to replay")
    pair_problems = _settled_problems(ledger_path)
    ledger = read_ledger(ledger_path)
    problems: list[str] = []

    by_hash: dict[str, Path] = {}
    for path in paths:
        by_hash.setdefault(sha256_file(path), Path(path))
    missing: dict[str, list[int]] = {}
    for _, entry in draws:
        if entry.get("population_sha256") not in by_hash:
            missing.setdefault(str(entry.get("population_sha256")), []).append(int(entry["wave"]))
    given = ", ".join(f"{p} ({h[:12]}…)" for h, p in by_hash.items())
    for sha, waves in missing.items():
        problems.append(f"{_waves_text(waves)} was drawn from a population file with SHA-256 {sha}, but no "
                        f"--population file has it (given: {given}); pass that extract with another "
                        "--population")

    recorded_waves = sorted(set(ledger["wave"].tolist())) if "wave" in ledger else []
    manifest_waves = [int(e["wave"]) for _, e in draws]
    if recorded_waves != manifest_waves:
        problems.append(f"the ledger holds waves {recorded_waves} but the manifest records {manifest_waves}")

    last_line, last = draws[-1]
    if isinstance(last.get("design"), Mapping):
        changed = design_differences([last], design_dict(config))
        if changed:
            problems.append(f"{config_path} now gives another design than wave {last['wave']} was drawn with: "
                            + "; ".join(changed))
    elif last.get("design_sha256") != design_sha256(config):
        problems.append(f"wave {last['wave']} was drawn with another design (seed, share, rules or strata) "
                        f"than {config_path} now gives")

    populations: dict[tuple[Path, str], pd.DataFrame] = {}
    replayed = 0
    for k, entry in draws:
        wave = int(entry["wave"])
        where = f"{mpath} line {k} (wave {wave})"
        design = entry.get("design")
        if isinstance(design, Mapping):
            if entry.get("design_sha256") not in (None, design_sha256(design)):
                problems.append(f"{where}: the recorded design does not match its design_sha256; the line was "
                                "edited")
            wave_config = config_from_design(design, where)
            earlier = [e for _, e in draws if int(e["wave"]) < wave]
            changed = design_differences(earlier, design)
            if changed and not entry.get("design_change"):
                problems.append(f"wave {wave} changed the design without a recorded reason (design_change): "
                                + "; ".join(changed))
        else:
            wave_config = config
        population_file = by_hash.get(str(entry.get("population_sha256")))
        if population_file is None or wave not in recorded_waves:
            continue
        key = (population_file, json.dumps(wave_config.columns, sort_keys=True))
        if key not in populations:
            populations[key] = read_population(population_file, rename=wave_config.columns)
        before = ledger.loc[ledger["wave"] < wave]
        try:
            replay = draw(populations[key], wave_config, entry["requests"], entry["date"], before,
                          population_sha256=str(entry.get("population_sha256")), source=str(population_file))
        except TrialevalError as exc:
            problems.append(f"wave {wave} cannot be replayed: {exc}")
            continue
        difference = _first_difference(ledger.loc[ledger["wave"] == wave], replay.wave_rows, wave)
        if difference:
            problems.append(difference)
            continue
        edited = [name for name in _REPLAYED_FIELDS
                  if name in entry and not _same(entry[name], replay.manifest_entry[name])]
        if edited:
            problems.append(f"{where}: {', '.join(edited)} differ from what the replay of that wave gives "
                            f"(e.g. {edited[0]} {_design_value(entry[edited[0]])} recorded, "
                            f"{_design_value(replay.manifest_entry[edited[0]])} replayed); the line was edited")
            continue
        replayed += 1
    problems += pair_problems        # after the replay's findings, which say what changed
    return VerifyResult(ok=not problems, waves_checked=replayed if not problems else 0,
                        n_persons=len(ledger), problems=tuple(problems))


def exclude(
    ledger: pd.DataFrame, person_id: str, reason: str, date: str | dt.date | None = None
) -> pd.DataFrame:
    """Return a copy of the ledger with one person marked excluded (the row is kept).

    Examples
    --------
    >>> import pandas as pd
    >>> led = pd.DataFrame({"person_id": ["a"], "excluded": [False], "exclusion_reason": [""],
    ...                     "exclusion_date": [""]})
    >>> exclude(led, "a", "prison", "2016-04-01")[["excluded", "exclusion_reason", "exclusion_date"]].iloc[0].tolist()
    [True, 'prison', '2016-04-01']
    """
    if not str(reason).strip():
        raise InputDataError("an exclusion needs a reason code (--reason)")
    matches = ledger.index[ledger["person_id"].astype(str) == str(person_id)]
    if len(matches) == 0:
        raise InputDataError(f"person '{person_id}' is not in the ledger; nobody was excluded")
    row = matches[0]
    flag = str(ledger.at[row, "excluded"]).strip().lower() if "excluded" in ledger else "false"
    if flag in ("true", "1", "yes", "1.0"):
        raise InputDataError(
            f"person '{person_id}' is already excluded (reason '{ledger.at[row, 'exclusion_reason']!s}')"
        )
    when = parse_date(date if date is not None else dt.date.today(), "date").strftime("%Y-%m-%d")
    out = ledger.copy()
    for col in ("excluded", "exclusion_reason", "exclusion_date"):
        if col not in out:
            out[col] = ""
        out[col] = out[col].astype(object)
    out.at[row, "excluded"] = True
    out.at[row, "exclusion_reason"] = str(reason).strip()
    out.at[row, "exclusion_date"] = when
    return out


_EXCLUSION_COLUMNS = ("excluded", "exclusion_reason", "exclusion_date")


def _exclude_csv_bytes(data: bytes, table: pd.DataFrame, updated: pd.DataFrame, position: int) -> bytes:
    """The CSV ledger's bytes with one record's exclusion cells set; every other line keeps its bytes."""
    if any(col not in table.columns for col in _EXCLUSION_COLUMNS):
        # a ledger without exclusion columns gains them: every line changes (a new empty cell)
        buffer = _io.StringIO()
        updated.to_csv(buffer, index=False, lineterminator="\n")
        return buffer.getvalue().encode("utf-8")
    pieces = data.split(b"\n")
    physical = [piece + b"\n" for piece in pieces[:-1]] + ([pieces[-1]] if pieces[-1] else [])
    reader = csv.reader(line.decode("utf-8") for line in physical)
    spans: list[tuple[int, int]] = []
    start = 0
    for record in reader:
        if record:               # blank lines are no records (pandas skips them too)
            spans.append((start, reader.line_num))
        start = reader.line_num
    first, stop = spans[position + 1]          # +1: the header is the first record
    fields = next(csv.reader(line.decode("utf-8") for line in physical[first:stop]))
    for col in _EXCLUSION_COLUMNS:
        fields[table.columns.get_loc(col)] = str(updated.at[position, col])
    ending = "\r\n" if physical[stop - 1].endswith(b"\r\n") else "\n"
    buffer = _io.StringIO()
    csv.writer(buffer, lineterminator=ending).writerow(fields)
    line = buffer.getvalue().encode("utf-8")
    if not physical[stop - 1].endswith(b"\n"):
        line = line[:-len(ending)]
    return b"".join(physical[:first]) + line + b"".join(physical[stop:])


def run_exclude(
    ledger_path: str | Path,
    person_id: str,
    reason: str,
    date: str | dt.date | None = None,
    *,
    lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
) -> pd.DataFrame:
    """Record an exclusion in a ledger file, touching only that person's exclusion cells.

    Holds the ledger's lock and checks that ledger and manifest are in step first. In a CSV ledger every
    other line keeps its exact bytes. When the ledger has a manifest, the exclusion is appended to it as
    an ``exclude`` event (person, reason, date and the new ledger's SHA-256), the manifest first.

    Examples
    --------
    >>> import pandas as pd, tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (d / "ledger.csv").write_text("person_id,arm,visitation_date,excluded,exclusion_reason,exclusion_date\\n"
    ...                                   "a,treatment,2016-03-01,no,,\\nb,control,2016-03-01,yes,moved,2016-03-09\\n")
    >>> _ = run_exclude(d / "ledger.csv", "a", "prison", "2016-04-01")
    >>> print((d / "ledger.csv").read_text(), end="")
    person_id,arm,visitation_date,excluded,exclusion_reason,exclusion_date
    a,treatment,2016-03-01,True,prison,2016-04-01
    b,control,2016-03-01,yes,moved,2016-03-09
    """
    ledger_path = Path(ledger_path)
    mpath = manifest_path(ledger_path)
    if not ledger_path.exists():
        raise InputDataError(f"{ledger_path}: ledger not found")
    with ledger_lock(ledger_path, lock_timeout):
        _raise_if_out_of_step(ledger_path)
        lines = _manifest_lines(mpath)
        with atomic_write(ledger_path) as tmp:
            if ledger_path.suffix.lower() == ".csv":
                # read as text so that no other cell changes its spelling when the file is written back
                data = ledger_path.read_bytes()
                raw = pd.read_csv(_io.BytesIO(data), dtype=str, keep_default_na=False)
                updated = exclude(raw, person_id, reason, date)
                position = int(np.flatnonzero(raw["person_id"].astype(str).to_numpy() == str(person_id))[0])
                updated.at[position, "excluded"] = "True"
                tmp.write_bytes(_exclude_csv_bytes(data, raw, updated, position))
            else:
                updated = exclude(read_table(ledger_path), person_id, reason, date)
                write_table(validate_ledger(updated, str(ledger_path)), tmp)
                position = int(np.flatnonzero(updated["person_id"].astype(str).to_numpy() == str(person_id))[0])
            if lines:
                _append_event(mpath, lines, {
                    "event": "exclude",
                    "person_id": str(person_id),
                    "reason": str(updated.at[updated.index[position], "exclusion_reason"]),
                    "date": str(updated.at[updated.index[position], "exclusion_date"]),
                    "tool_version": __version__,
                }, tmp)
    return updated
