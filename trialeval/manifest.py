"""The manifest beside a ledger, its hash chain and the ledger's lock.

The manifest (``ledger.manifest.jsonl``) records every draw and exclusion, one JSON line each; each line
carries the SHA-256 of the line before (``previous_sha256``) and of the ledger it left (``ledger_sha256``).
:func:`check_ledger_manifest` stops when ledger and manifest are out of step; :func:`ledger_lock` holds the
exclusive lock a draw or exclusion writes under. The names are also importable from :mod:`trialeval.draw`.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import filelock
import pandas as pd

from trialeval.exceptions import InputDataError, TrialevalError
from trialeval.io import read_table, sha256_file, write_text

#: ``previous_sha256`` of a manifest's first line.
GENESIS_SHA256 = "0" * 64

#: Seconds a draw or exclusion waits for another one writing the same ledger.
DEFAULT_LOCK_TIMEOUT = 60.0

def manifest_path(ledger_path: str | os.PathLike[str]) -> Path:
    """The sidecar manifest of a ledger: ``ledger.csv`` → ``ledger.manifest.jsonl``."""
    ledger_path = Path(ledger_path)
    return ledger_path.with_name(ledger_path.stem + ".manifest.jsonl")


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
    if entry.get("event") == "match":
        return f"matched comparison group, {entry.get('date')}"
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
    >>> from trialeval.draw import run_draw
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
