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

import csv
import dataclasses
import datetime as dt
import io as _io
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from trialeval._version import __version__
from trialeval.config import TrialConfig, apply_eligibility, load_config
from trialeval.design import Design
from trialeval.exceptions import DesignError, InputDataError, TrialevalError
from trialeval.io import (
    _dates_as_text,
    LEDGER_COLUMNS,
    atomic_write,
    check_not_inputs,
    parse_date,
    read_ledger,
    read_population,
    read_table,
    sha256_file,
    validate_ledger,
    validate_population,
    write_table,
)
from trialeval.wave_design import (  # noqa: F401  (the design of a draw is also importable from here)
    DESIGN_FIELDS,
    _band_label,
    _design_value,
    _same,
    _waves_text,
    assign_within_blocks,
    check_design,
    config_from_design,
    design_dict,
    design_differences,
    design_fraction,
    design_sha256,
    parse_requests,
    stratum_labels,
)
from trialeval.manifest import (  # noqa: F401  (the manifest machinery is also importable from here)
    DEFAULT_LOCK_TIMEOUT,
    GENESIS_SHA256,
    _append_event,
    _event_text,
    _manifest_lines,
    _raise_if_out_of_step,
    _settled_problems,
    check_ledger_manifest,
    is_draw_event,
    ledger_lock,
    ledger_manifest_problems,
    line_sha256,
    lock_path,
    manifest_path,
    read_manifest,
    written_by_draw,
)

#: Ledger columns that a replay must reproduce exactly.
ASSIGNMENT_COLUMNS = ("person_id", "arm", "visitation_date", "municipality", "stratum", "wave")

@dataclass(frozen=True, eq=False)
class DrawResult:
    """One wave: the rows it added, the whole ledger after it, and its manifest entry."""

    wave_rows: pd.DataFrame
    ledger: pd.DataFrame
    manifest_entry: dict[str, Any]
    eligibility: pd.DataFrame
    groups: tuple[str, str] = Design().labels

    @property
    def wave(self) -> int:
        return int(self.manifest_entry["wave"])

    def to_frame(self) -> pd.DataFrame:
        """The rows this wave added to the ledger."""
        return self.wave_rows.copy()

    def counts(self) -> pd.DataFrame:
        """Persons drawn per municipality and group in this wave (the programme group first)."""
        return (self.wave_rows.groupby(["municipality", "arm"]).size().unstack("arm", fill_value=0)
                .reindex(columns=list(self.groups), fill_value=0))

    def summary(self, lang: str = "en") -> str:
        """The wave: persons drawn, eligibility funnel and persons per municipality; numbers in ``lang``."""
        from trialeval._console import check, fmt

        check(lang)

        def n(v: Any) -> str:
            return fmt(v, "", lang, "count")

        e = self.manifest_entry
        first, second = self.groups
        lines = [
            f"Wave {e['wave']} on {e['date']}: {n(e['n_drawn'])} drawn "
            f"({n(e['counts'][first])} {first}, {n(e['counts'][second])} {second}) "
            f"in {len(e['strata'])} blocks; seed {e['seed']}.",
            "Eligibility (candidates removed by each rule, in order):",
        ]
        lines += [f"  {r.rule:<45} {n(r.removed):>8} removed, {n(r.remaining):>8} remain"
                  for r in self.eligibility.itertuples()]
        lines.append("Drawn per municipality:")
        lines += [f"  {muni:<25} {n(row[first]):>5} {first} {n(row[second]):>5} {second}"
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
        The trial config: seed, treatment share, eligibility rules, strata and the group labels
        (``[trial] groups``: the programme group's label for the persons drawn into it, the reference
        group's for the others).
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

    eligible, eligibility = apply_eligibility(population, config.rules, source, config.rule_groups)
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
    design = Design.from_config(config)
    arm = design.assign(stratum.to_numpy(dtype=object).astype(str), rng)

    covariates = [c for c in drawn.columns if c not in LEDGER_COLUMNS]
    rows = pd.DataFrame({
        "person_id": drawn["person_id"].astype(object),
        "arm": arm,
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

    entry = _draw_entry(config, wave, date, requests, source, population_sha256, eligible, rows, eligibility)
    return DrawResult(wave_rows=rows, ledger=after, manifest_entry=entry, eligibility=eligibility,
                      groups=design.labels)


def _draw_entry(config: TrialConfig, wave: int, date: pd.Timestamp, requests: Mapping[str, int], source: str,
                population_sha256: str, eligible: pd.DataFrame, rows: pd.DataFrame,
                eligibility: pd.DataFrame) -> dict[str, Any]:
    """The manifest line of a drawn wave (without its hashes, which :func:`_append_event` adds)."""
    per_block = rows.groupby(["stratum", "arm"]).size().unstack("arm", fill_value=0)
    groups = Design.from_config(config).labels
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
        "counts": {arm: int((rows["arm"] == arm).sum()) for arm in groups},
        "strata": {str(s): {arm: int(per_block.loc[s].get(arm, 0)) for arm in groups}
                   for s in per_block.index},
        "eligibility": eligibility.to_dict("records"),
    }
    return entry


def _csv_rows(df: pd.DataFrame, header: list[str], *, with_header: bool = False) -> str:
    out = _dates_as_text(df.reindex(columns=header))
    buffer = _io.StringIO()
    out.to_csv(buffer, index=False, header=with_header, lineterminator="\n")
    return buffer.getvalue()


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
        ledger = read_ledger(ledger_path, design=Design.from_config(config)) if ledger_path.exists() else None
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

    def summary(self, lang: str = "en") -> str:
        """Confirmed, or every difference found; numbers in ``lang``."""
        from trialeval._console import fmt

        if self.ok:
            return (f"Ledger confirmed: {self.waves_checked} wave(s) replayed, "
                    f"{fmt(self.n_persons, '', lang, 'count')} persons assigned exactly as recorded.")
        return "Ledger does NOT match its replay:\n" + "\n".join(f"  - {p}" for p in self.problems)

    def _repr_html_(self) -> str:
        """The verdict, and the differences found (counts of waves and persons only)."""
        import html

        return "<pre>" + html.escape(self.summary()) + "</pre>"

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
    ledger = read_ledger(ledger_path, design=_recorded_design(draws[-1][1], config))
    problems: list[str] = []

    by_hash: dict[str, Path] = {}
    for path in paths:
        by_hash.setdefault(sha256_file(path), Path(path))
    problems += _missing_populations(draws, by_hash)

    recorded_waves = sorted(set(ledger["wave"].tolist())) if "wave" in ledger else []
    manifest_waves = [int(e["wave"]) for _, e in draws]
    if recorded_waves != manifest_waves:
        problems.append(f"the ledger holds waves {recorded_waves} but the manifest records {manifest_waves}")

    problems += _design_now_problems(draws[-1][1], config, config_path)

    populations: dict[tuple[Path, str], pd.DataFrame] = {}
    replayed = 0
    for k, entry in draws:
        wave = int(entry["wave"])
        where = f"{mpath} line {k} (wave {wave})"
        wave_config, design_problems = _wave_config(entry, where, draws, config)
        problems += design_problems
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


def _recorded_design(entry: Mapping[str, Any], config: TrialConfig | None = None) -> Design:
    """The groups a wave was drawn into: recorded in its manifest line (a ledger's labels do not change
    from wave to wave), else the config's, else the default ones."""
    design = entry.get("design")
    if isinstance(design, Mapping):
        try:
            return Design.from_config(config_from_design(design, "manifest"))
        except TrialevalError:
            pass                      # an unreadable record: verify reports it when it replays the wave
    return Design.from_config(config) if config is not None else Design()


def _missing_populations(draws: Sequence[tuple[int, Mapping[str, Any]]], by_hash: Mapping[str, Path]) -> list[str]:
    """One problem per population file a wave was drawn from that is not among the given files."""
    problems: list[str] = []
    missing: dict[str, list[int]] = {}
    for _, entry in draws:
        if entry.get("population_sha256") not in by_hash:
            missing.setdefault(str(entry.get("population_sha256")), []).append(int(entry["wave"]))
    given = ", ".join(f"{p} ({h[:12]}…)" for h, p in by_hash.items())
    for sha, waves in missing.items():
        problems.append(f"{_waves_text(waves)} was drawn from a population file with SHA-256 {sha}, but no "
                        f"--population file has it (given: {given}); pass that extract with another "
                        "--population")
    return problems


def _design_now_problems(last: Mapping[str, Any], config: TrialConfig, config_path: str | Path) -> list[str]:
    """The config must give the design the last wave was drawn with."""
    problems: list[str] = []
    if isinstance(last.get("design"), Mapping):
        changed = design_differences([last], design_dict(config))
        if changed:
            problems.append(f"{config_path} now gives another design than wave {last['wave']} was drawn with: "
                            + "; ".join(changed))
    elif last.get("design_sha256") != design_sha256(config):
        problems.append(f"wave {last['wave']} was drawn with another design (seed, share, rules or strata) "
                        f"than {config_path} now gives")
    return problems


def _wave_config(entry: Mapping[str, Any], where: str, draws: Sequence[tuple[int, Mapping[str, Any]]],
                 config: TrialConfig) -> tuple[TrialConfig, list[str]]:
    """The design a wave was drawn with (recorded in its line, else the config's), and what is wrong with it."""
    problems: list[str] = []
    wave = int(entry["wave"])
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
    return wave_config, problems


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
                draws = [entry for _, entry in lines if is_draw_event(entry)]
                design = _recorded_design(draws[-1]) if draws else None
                write_table(validate_ledger(updated, str(ledger_path), design=design), tmp)
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
