"""The randomised draw (SPEC §7): waves, blocks, the ledger, its manifest, verify and exclude.

A wave answers requests ``municipality = n`` (n programme places). From that municipality's eligible
candidates not already in the ledger a simple random sample of ``ceil(n / p)`` is drawn; arms are then
assigned by complete randomisation within blocks of wave × municipality × stratum. A block of size
``n_b`` treats ``floor(n_b p)`` or that plus one, the latter with probability ``n_b p − floor(n_b p)``,
so that every person's probability of treatment is exactly ``p`` (randomizr's ``block_ra`` rule).

Reproducibility: rows are sorted by ``person_id`` before any random number is drawn and each wave uses
``numpy.random.default_rng([seed, wave])``. Immutability: a wave only appends; persons already in the
ledger are never drawn again; files are replaced atomically, the ledger before the manifest.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io as _io
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from trialeval import __version__
from trialeval.config import TrialConfig, apply_eligibility, load_config
from trialeval.exceptions import DesignError, InputDataError, TrialevalError
from trialeval.io import (
    DECIMAL_COMMA_RULE,
    LEDGER_COLUMNS,
    atomic_write,
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


def manifest_path(ledger_path: str | Path) -> Path:
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


def design_sha256(config: TrialConfig) -> str:
    """Hash of the config's parts that decide a draw (seed, share, rules, strata, column names)."""
    design = {
        "seed": config.seed,
        "treatment_share": config.treatment_share,
        "rules": [r.text for r in config.rules],
        "strata_columns": list(config.strata_columns),
        "bands": {k: list(v) for k, v in sorted(config.bands.items())},
        "columns": dict(sorted(config.columns.items())),
    }
    return hashlib.sha256(json.dumps(design, sort_keys=True).encode()).hexdigest()


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
        Candidates (SPEC §4.1), already validated; any order (they are sorted by ``person_id``).
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
        "n_eligible": int(len(eligible)),
        "n_drawn": int(len(rows)),
        "counts": {arm: int((rows["arm"] == arm).sum()) for arm in ("treatment", "control")},
        "strata": {str(s): {arm: int(per_block.loc[s].get(arm, 0)) for arm in ("treatment", "control")}
                   for s in per_block.index},
        "eligibility": eligibility.to_dict("records"),
    }
    return DrawResult(wave_rows=rows, ledger=after, manifest_entry=entry, eligibility=eligibility)


def read_manifest(path: str | Path) -> list[dict[str, Any]]:
    """The manifest's entries, one per wave, in order."""
    path = Path(path)
    if not path.is_file():
        return []
    entries = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if line.strip():
            try:
                entries.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise InputDataError(f"{path}: line {number} is not JSON: {exc}") from exc
    return entries


def _csv_rows(df: pd.DataFrame, header: list[str]) -> str:
    out = df.reindex(columns=header).copy()
    for col in out.columns:
        if pd.api.types.is_datetime64_any_dtype(out[col]):
            out[col] = out[col].dt.strftime("%Y-%m-%d").astype(object).where(out[col].notna(), None)
    buffer = _io.StringIO()
    out.to_csv(buffer, index=False, header=False, lineterminator="\n")
    return buffer.getvalue()


def run_draw(
    population_path: str | Path,
    config_path: str | Path,
    ledger_path: str | Path,
    requests: Mapping[str, int] | list[str],
    date: str | dt.date,
) -> DrawResult:
    """Draw one wave from files and append it to the ledger and its manifest.

    The ledger is created on the first wave. A CSV ledger grows by appending lines, so earlier rows keep
    their exact bytes. Both files are replaced atomically; on any error neither is touched.

    Examples
    --------
    >>> import pandas as pd, tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> pd.DataFrame({"person_id": [f"p{i}" for i in range(10)], "municipality": "A"}).to_csv(d / "pop.csv", index=False)
    >>> _ = (d / "trial.toml").write_text("[trial]\\nseed = 1\\ntreatment_share = 0.5\\n")
    >>> run_draw(d / "pop.csv", d / "trial.toml", d / "ledger.csv", ["A=2"], "2016-03-01").wave
    1
    >>> sorted(p.name for p in d.iterdir())
    ['ledger.csv', 'ledger.manifest.jsonl', 'pop.csv', 'trial.toml']
    """
    config = load_config(config_path)
    population = read_population(population_path, rename=config.columns)
    ledger_path, mpath = Path(ledger_path), manifest_path(ledger_path)
    ledger = read_ledger(ledger_path) if ledger_path.exists() else None
    manifest = read_manifest(mpath)
    result = draw(population, config, requests, date, ledger,
                  population_sha256=sha256_file(population_path), source=str(population_path))
    if manifest and int(manifest[-1]["wave"]) >= result.wave:
        raise InputDataError(
            f"{mpath}: already records wave {manifest[-1]['wave']}, but {ledger_path} ends at wave "
            f"{result.wave - 1}; the ledger and its manifest disagree — run 'trialeval verify'"
        )
    entry_line = json.dumps(result.manifest_entry, sort_keys=True, ensure_ascii=False) + "\n"
    old_manifest = mpath.read_text(encoding="utf-8") if mpath.exists() else ""

    if ledger_path.suffix.lower() == ".csv" and ledger_path.exists():
        header = pd.read_csv(ledger_path, nrows=0).columns.tolist()
        dropped = [c for c in result.wave_rows.columns if c not in header]
        if dropped:
            raise InputDataError(
                f"{ledger_path}: the population has column(s) {', '.join(dropped)} that the ledger lacks; "
                "a CSV ledger keeps its columns across waves"
            )
        with atomic_write(ledger_path) as tmp:
            existing = ledger_path.read_bytes()
            if existing and not existing.endswith(b"\n"):
                existing += b"\n"
            tmp.write_bytes(existing + _csv_rows(result.wave_rows, header).encode("utf-8"))
    else:
        write_table(result.ledger, ledger_path)
    write_text(old_manifest + entry_line, mpath)
    return result


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


def verify(
    population_path: str | Path, config_path: str | Path, ledger_path: str | Path
) -> VerifyResult:
    """Replay every wave in the manifest from the same inputs and compare with the ledger.

    The population file must be the one each wave recorded (same SHA-256), and the config's design
    (seed, share, rules, strata) must be unchanged; then each wave is drawn again and its persons,
    arms, dates, municipalities and strata must equal the ledger's. Exclusions are not assignments
    and do not count as differences.

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
    config = load_config(config_path)
    ledger_path = Path(ledger_path)
    if not ledger_path.exists():
        raise InputDataError(f"{ledger_path}: ledger not found")
    ledger = read_ledger(ledger_path)
    manifest = read_manifest(manifest_path(ledger_path))
    if not manifest:
        raise InputDataError(f"{manifest_path(ledger_path)}: no manifest beside the ledger; nothing to replay")
    population = read_population(population_path, rename=config.columns)
    pop_hash = sha256_file(population_path)
    design_hash = design_sha256(config)

    problems: list[str] = []
    recorded_waves = sorted(set(ledger["wave"].tolist())) if "wave" in ledger else []
    manifest_waves = [int(e["wave"]) for e in manifest]
    if recorded_waves != manifest_waves:
        problems.append(f"the ledger holds waves {recorded_waves} but the manifest records {manifest_waves}")
    for entry in manifest:
        wave = int(entry["wave"])
        if problems:
            break
        if entry.get("population_sha256") != pop_hash:
            problems.append(f"wave {wave} was drawn from a population file with SHA-256 "
                            f"{entry.get('population_sha256')}, but {population_path} has {pop_hash}")
            break
        if entry.get("design_sha256") != design_hash:
            problems.append(f"wave {wave} was drawn with another design (seed, share, rules or strata) "
                            f"than {config_path} now gives")
            break
        before = ledger.loc[ledger["wave"] < wave]
        try:
            replay = draw(population, config, entry["requests"], entry["date"], before,
                          population_sha256=pop_hash, source=str(population_path))
        except TrialevalError as exc:
            problems.append(f"wave {wave} cannot be replayed: {exc}")
            break
        difference = _first_difference(ledger.loc[ledger["wave"] == wave], replay.wave_rows, wave)
        if difference:
            problems.append(difference)
    return VerifyResult(ok=not problems, waves_checked=len(manifest) if not problems else 0,
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
            f"person '{person_id}' is already excluded (reason '{ledger.at[row, 'exclusion_reason']}')"
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


def run_exclude(
    ledger_path: str | Path, person_id: str, reason: str, date: str | dt.date | None = None
) -> pd.DataFrame:
    """Record an exclusion in a ledger file, touching only that person's exclusion cells."""
    ledger_path = Path(ledger_path)
    if not ledger_path.exists():
        raise InputDataError(f"{ledger_path}: ledger not found")
    if ledger_path.suffix.lower() == ".csv":
        # read as text so that no other cell changes its spelling when the file is written back
        raw = pd.read_csv(ledger_path, dtype=str, keep_default_na=False)
        updated = exclude(raw, person_id, reason, date)
        updated["excluded"] = updated["excluded"].map(
            lambda v: "True" if v is True or str(v).lower() in ("true", "1") else "False")
        with atomic_write(ledger_path) as tmp:
            updated.to_csv(tmp, index=False, lineterminator="\n")
    else:
        updated = exclude(read_table(ledger_path), person_id, reason, date)
        write_table(validate_ledger(updated, str(ledger_path)), ledger_path)
    return updated

