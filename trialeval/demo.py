"""The whole pipeline on the sample trial (``trialeval demo``).

draw → verify → balance → panel → effects → costs → report, each step through the same library functions
the commands use, every output into one folder. The draw is re-run wave by wave from the requests recorded
in the sample trial's ``ledger.manifest.jsonl`` into a fresh ledger, so the demo exercises the real draw; the
result equals the committed ledger, which ``verify`` then confirms.

The output folder is never a trial of someone else's: the demo lists what it wrote, with each file's
SHA-256, in ``demo_files.json`` and runs again in a folder only when every ledger, manifest and trial
config there is, byte for byte, one it wrote itself.
"""

from __future__ import annotations

import json
import os
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib.resources import files
from pathlib import Path
from typing import Any

from trialeval.balance import run_balance
from trialeval import layout
from trialeval.config import AnalysisSettings, load_config
from trialeval.costs import costs, load_scenarios
from trialeval.disclosure import DEFAULT_MIN_CELL, write_export
from trialeval.effects import effects
from trialeval.panel import build_panel, write_panel
from trialeval.plots import check_lang, save_figure
from trialeval.report import build_report, write_workbook
from trialeval.draw import check_ledger_manifest, is_draw_event, manifest_path, read_manifest, run_draw, run_exclude, verify
from trialeval.exceptions import InputDataError
from trialeval.io import (
    atomic_write,
    check_outputs,
    read_ledger,
    sha256_file,
    trial_file_kind,
    write_text,
)
from trialeval.power import power
from trialeval.progress import tick as report_progress

#: The sample trial's files in ``--data``.
POPULATION, SPELLS, SCENARIOS = "population.csv", "spells.csv", "costs.toml"
SAMPLE_FILES = (POPULATION, layout.TRIAL_CONFIG, layout.LEDGER, SPELLS, SCENARIOS)
#: The demo's list of the files it wrote, with their SHA-256, in the output folder.
MARKER = layout.DEMO_MARKER
#: Files the demo writes whatever the trial's outcomes (the figures per outcome come on top).
DEMO_OUTPUTS = (
    layout.TRIAL_CONFIG, layout.LEDGER, manifest_path(layout.LEDGER).name, layout.BALANCE, layout.BALANCE_OMNIBUS,
    layout.BALANCE_REPRESENTATIVENESS, layout.BALANCE_PLOT, layout.PANEL, layout.PANEL_AT_RISK, layout.EFFECTS,
    layout.COSTS, *(p.name for p in layout.cost_figures(layout.COSTS_PLOT).values()), layout.EFFECTS_SETTINGS,
    layout.SETTINGS, layout.REPORT, layout.WORKBOOK, MARKER,
)
STEPS = 7
DEMO_SUMMARY_WEEKS = 26
DEMO_HOURS_WEEK = 35


@dataclass(frozen=True, eq=False)
class DemoResult:
    """What the demo wrote, and the summaries of its steps."""

    out_dir: Path
    files: tuple[Path, ...]
    steps: dict[str, str] = field(default_factory=dict)

    def _repr_html_(self) -> str:
        """A compact view for notebooks: the summary (and the table, when there is one)."""
        from trialeval._console import summary_html

        return summary_html(self)

    def summary(self) -> str:
        steps = "\n\n".join(f"== {name} ==\n{text}" for name, text in self.steps.items())
        files = "\n".join(f"  {p.relative_to(self.out_dir)}" for p in self.files)
        return f"{steps}\n\nWrote {len(self.files)} files to {self.out_dir}:\n{files}"

    def to_dict(self) -> dict[str, Any]:
        return {"out_dir": str(self.out_dir), "files": [str(p) for p in self.files], "steps": dict(self.steps)}


def sample_data_dir() -> Path:
    """The folder of the sample trial that ships with the package (works from any working folder).

    Examples
    --------
    >>> all((sample_data_dir() / name).is_file() for name in SAMPLE_FILES)
    True
    """
    return Path(str(files("trialeval.sample_data")))


def run_demo(
    out_dir: str | Path = "trialeval-demo",
    data_dir: str | Path | None = None,
    *,
    lang: str = "en",
    min_cell: int = DEFAULT_MIN_CELL,
    progress: Callable[[int, int], None] | None = None,
) -> DemoResult:
    """Run the pipeline on the sample trial and write every output into ``out_dir``.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> result = run_demo(pathlib.Path(tempfile.mkdtemp()) / "demo")  # doctest: +SKIP
    """
    check_lang(lang)
    data_dir, out_dir = Path(data_dir) if data_dir is not None else sample_data_dir(), Path(out_dir)
    missing = [name for name in SAMPLE_FILES if not (data_dir / name).is_file()]
    if missing:
        raise InputDataError(f"{data_dir}: the sample trial is incomplete; missing {', '.join(missing)}")
    own = check_demo_folder(out_dir, data_dir)
    before = _stats(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    population, config = data_dir / POPULATION, out_dir / layout.TRIAL_CONFIG
    with atomic_write(config) as tmp:
        tmp.write_bytes((data_dir / layout.TRIAL_CONFIG).read_bytes())
    ledger = out_dir / layout.LEDGER
    for stale in (ledger, manifest_path(ledger)):
        if stale.name in own:
            stale.unlink(missing_ok=True)  # the demo's own earlier draw, checked by its SHA-256: drawn afresh

    def tick(step: int) -> None:
        report_progress(progress, step, STEPS, "Running the sample trial", "steps")

    steps = _draw_steps(data_dir, population, config, ledger, tick)
    steps.update(_analysis_steps(data_dir, out_dir, config, ledger, lang, min_cell, tick))

    return DemoResult(out_dir=out_dir, files=_mark(out_dir, before, "trialeval demo"), steps=steps)


def _draw_steps(data_dir: Path, population: Path, config: Path, ledger: Path,
                tick: Callable[[int], None]) -> dict[str, str]:
    """Draw the recorded waves afresh, verify them, record the exclusions; the power of the design."""
    steps: dict[str, str] = {}
    check_ledger_manifest(data_dir / layout.LEDGER)
    waves = [e for e in read_manifest(manifest_path(data_dir / layout.LEDGER)) if is_draw_event(e)]
    for entry in waves:
        run_draw(population, config, ledger, entry["requests"], entry["date"])
    tick(1)
    checked = verify(population, config, ledger)
    steps["draw"] = f"{len(waves)} weekly waves drawn into {ledger.name}."
    steps["verify"] = checked.summary()
    if not checked.ok:
        raise InputDataError(f"{ledger}: the demo's own draw does not verify:\n{checked.summary()}")
    recorded = read_ledger(data_dir / layout.LEDGER)
    for row in recorded.loc[recorded["excluded"]].itertuples():
        run_exclude(ledger, row.person_id, row.exclusion_reason, row.exclusion_date)
    steps["exclusions"] = f"{int(recorded['excluded'].sum())} post-draw exclusions recorded (rows kept)."
    n_drawn = sum(int(e["n_drawn"]) for e in waves)
    steps["power"] = power(n_drawn, proportion=0.07).summary()
    tick(2)
    return steps


def _analysis_steps(data_dir: Path, out_dir: Path, config: Path, ledger: Path, lang: str, min_cell: int,
                    tick: Callable[[int], None]) -> dict[str, str]:
    """Balance, panel, effects, costs and report of the demo's ledger, every output into ``out_dir``."""
    from trialeval.pipeline import write_effects  # the pipeline runs the demo; its writers are shared

    population = data_dir / POPULATION
    steps: dict[str, str] = {}
    cfg = load_config(config)
    settings = AnalysisSettings.from_config(cfg, min_cell=min_cell, lang=lang)
    balanced = run_balance(ledger, out_dir / layout.BALANCE, population_path=population, config_path=config,
                           plot=out_dir / layout.BALANCE_PLOT, lang=settings.lang)
    steps["balance"] = balanced.summary()
    tick(3)

    panel = build_panel(ledger, data_dir / SPELLS, cfg.analysis["extraction_date"], weeks=settings.panel_weeks,
                        columns=settings.columns)
    write_panel(panel, out_dir / layout.PANEL)
    steps["panel"] = panel.summary()
    tick(4)

    outcomes = list(settings.outcomes or ()) or None
    hours_week = settings.hours_week if settings.hours_week is not None else DEMO_HOURS_WEEK
    estimated = effects(panel.to_frame(), outcomes, band=True, summary_weeks=DEMO_SUMMARY_WEEKS,
                        hours_week=int(hours_week), rng=settings.seed, min_cell=settings.min_cell,
                        source=layout.PANEL)
    write_effects(estimated, out_dir / layout.EFFECTS, out_dir / layout.EFFECTS_PLOT, settings.lang)
    steps["effects"] = estimated.summary()
    tick(5)

    scenarios = load_scenarios(data_dir / SCENARIOS)
    valued = costs(estimated.export_frame(), scenarios, rng=settings.seed, source=layout.EFFECTS)
    write_export(valued.to_frame(), out_dir / layout.COSTS)
    for kind, path in layout.cost_figures(out_dir / layout.COSTS_PLOT).items():
        save_figure(valued.plot(kind, lang=settings.lang), path, lang=settings.lang)  # type: ignore[arg-type]
    steps["costs"] = valued.summary()
    tick(6)

    write_text(json.dumps({"disclosure": {"min_cell_size": settings.min_cell},
                           "inputs": {name: sha256_file(data_dir / name) for name in SAMPLE_FILES}},
                          indent=2) + "\n", out_dir / layout.SETTINGS)
    report = build_report(cfg, out_dir, lang=lang, min_cell=settings.min_cell)  # type: ignore[arg-type]
    workbook = write_workbook(out_dir, min_cell=settings.min_cell)
    steps["report"] = f"{report.summary()}\nTables gathered in {workbook.name}."
    tick(7)
    return steps


#: The comparison-design sample trial: a folder of the sample data, and the files it holds.
COMPARISON_DIR = "comparison"
COMPARISON_FILES = (POPULATION, layout.TRIAL_CONFIG, "analysis.toml", layout.LEDGER, SPELLS, "truth.csv")
#: The ledger the selection is drawn into (the matched ledger is the demo's ``ledger.csv``).
SELECTION_LEDGER = "selection.csv"
COMPARISON_BASELINE = 26


def run_comparison_demo(
    out_dir: str | Path = "trialeval-demo-comparison",
    data_dir: str | Path | None = None,
    *,
    lang: str = "en",
    min_cell: int = DEFAULT_MIN_CELL,
    progress: Callable[[int, int], None] | None = None,
) -> DemoResult:
    """The comparison-design sample trial end to end into ``out_dir``: the selection draw (everyone drawn
    in the programme) replayed from its manifest and verified, a matched comparison group from the other
    municipalities (``match``), the panel with 26 pre-weeks, the difference in differences with its event
    study and pre-trend test, and the report. ``truth.csv`` holds the effect the data were made with.
    """
    from trialeval.pipeline import effects_comparison, match, panel

    check_lang(lang)
    data_dir = Path(data_dir) if data_dir is not None else sample_data_dir() / COMPARISON_DIR
    out_dir = Path(out_dir)
    missing = [name for name in COMPARISON_FILES if not (data_dir / name).is_file()]
    if missing:
        raise InputDataError(f"{data_dir}: the comparison sample trial is incomplete; missing {', '.join(missing)}")
    own = check_demo_folder(out_dir, data_dir)
    before = _stats(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    selection, ledger = out_dir / SELECTION_LEDGER, out_dir / layout.LEDGER
    for stale in (selection, manifest_path(selection), ledger, manifest_path(ledger)):
        if stale.name in own:
            stale.unlink(missing_ok=True)   # the demo's own earlier run, checked by its SHA-256
    for name in (layout.TRIAL_CONFIG, "analysis.toml"):
        with atomic_write(out_dir / name) as tmp:
            tmp.write_bytes((data_dir / name).read_bytes())
    config, analysis, population, spells = (out_dir / layout.TRIAL_CONFIG, out_dir / "analysis.toml",
                                            data_dir / POPULATION, data_dir / SPELLS)
    steps: dict[str, str] = {}
    waves = [e for e in read_manifest(manifest_path(data_dir / layout.LEDGER)) if is_draw_event(e)]
    for entry in waves:
        run_draw(population, config, selection, entry["requests"], entry["date"])
    Path(f"{selection}.lock").unlink(missing_ok=True)
    checked = verify(population, config, selection)
    if not checked.ok:
        raise InputDataError(f"{selection}: the demo's own draw does not verify:\n{checked.summary()}")
    steps["draw"] = f"{len(waves)} weekly waves of a selection (everyone drawn in the programme) into {selection.name}."
    report_progress(progress, 1, 5, "Running the comparison sample trial", "steps")
    matched = match(selection, population, spells, config, ledger, date=str(waves[-1]["date"]))
    steps["match"] = matched.summary()
    # the balance before and after matching (no tests of randomisation) and its love plot, for the report
    for part, name in (("balance.csv", layout.BALANCE), ("love.png", layout.BALANCE_PLOT)):
        with atomic_write(out_dir / name) as tmp:
            tmp.write_bytes((out_dir / f"{ledger.stem}_{part}").read_bytes())
    report_progress(progress, 2, 5, "Running the comparison sample trial", "steps")
    built = panel(ledger, spells, out_dir / layout.PANEL, config=analysis)
    steps["panel"] = built.summary()
    report_progress(progress, 3, 5, "Running the comparison sample trial", "steps")
    estimated = effects_comparison(out_dir / layout.PANEL, out_dir / layout.EFFECTS, config=analysis, matches=ledger,
                                   did=True, baseline=COMPARISON_BASELINE, lang=lang, min_cell=min_cell,
                                   plot=out_dir / layout.EFFECTS_PLOT)
    steps["effects"] = estimated.summary()
    report_progress(progress, 4, 5, "Running the comparison sample trial", "steps")
    report = build_report(load_config(analysis), out_dir, lang=lang, min_cell=min_cell)  # type: ignore[arg-type]
    steps["report"] = report.summary()
    report_progress(progress, 5, 5, "Running the comparison sample trial", "steps")
    return DemoResult(out_dir=out_dir, files=_mark(out_dir, before, "trialeval demo --design comparison"),
                      steps=steps)


def _mark(out_dir: Path, before: dict[str, tuple[int, int, int]], written_by: str) -> tuple[Path, ...]:
    """List the files the run wrote (changed since ``before``), with their SHA-256, in the demo's marker;
    every file written, the marker included."""
    written = sorted(name for name, stat in _stats(out_dir).items() if before.get(name) != stat and name != MARKER)
    write_text(json.dumps({"written_by": written_by,
                           "files": {name: sha256_file(out_dir / name) for name in written}},
                          indent=2) + "\n", out_dir / MARKER)
    return tuple(out_dir / name for name in sorted([*written, MARKER]))


def check_demo_folder(out_dir: str | Path, data_dir: str | Path | None = None) -> dict[str, str]:
    """Refuse an output folder holding a trial the demo did not write; return the demo's own files there.

    Every ledger, manifest and trial config (``*.toml``) in ``out_dir`` must be listed in the demo's
    ``demo_files.json`` with its present SHA-256, so a re-run replaces only what an earlier run wrote;
    anything else is an error naming the file, before anything is written or deleted.

    Returns
    -------
    dict
        ``{file name: sha256}`` of the files an earlier run wrote (empty for a new folder).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (d / "trial.toml").write_text("[trial]\\nseed = 1\\ntreatment_share = 0.5\\n")
    >>> check_demo_folder(d)
    Traceback (most recent call last):
    ...
    trialeval.exceptions.InputDataError: --dir ...: trial.toml is a trial config that the demo did not write ...
    """
    out_dir, data_dir = Path(out_dir), Path(data_dir) if data_dir is not None else sample_data_dir()
    if out_dir.exists() and not out_dir.is_dir():
        raise InputDataError(f"--dir {out_dir}: is a file, not a folder; nothing was written")
    own: dict[str, str] = {}
    marker = out_dir / MARKER
    if marker.is_file():
        try:
            files = json.loads(marker.read_text(encoding="utf-8"))["files"]
            own = {str(name): str(digest) for name, digest in files.items()}
        except (ValueError, KeyError, TypeError, AttributeError, UnicodeDecodeError) as exc:
            raise InputDataError(f"--dir {marker}: is not the demo's list of its files ({exc}); choose another "
                                 "--dir; nothing was written or deleted") from exc
    refuse = ("the demo never replaces or deletes a trial. Choose another --dir (an empty or new folder); "
              "nothing was written or deleted")
    for path in sorted(out_dir.iterdir()) if out_dir.is_dir() else ():
        if path.name == MARKER or not path.is_file():
            continue
        kind = trial_file_kind(path) or ("a trial config" if _is_trial_config(path) else None)
        if kind is None and path.name in _TRIAL_NAMES:
            kind = f"a file the demo would replace with its {_TRIAL_NAMES[path.name]}"
        if kind is None:
            continue
        if path.name not in own:
            unknown = "" if marker.is_file() else f" (there is no {MARKER} listing the demo's files here)"
            raise InputDataError(f"--dir {out_dir}: {path.name} is {kind} that the demo did not write{unknown}; "
                                 f"{refuse}")
        if sha256_file(path) != own[path.name]:
            raise InputDataError(f"--dir {out_dir}: {path.name} is {kind} that has changed since the demo wrote "
                                 f"it (an interrupted run or an edit); {refuse}")
    mine = set(own)
    check_outputs([("--dir", out_dir / name) for name in DEMO_OUTPUTS if name not in mine or name == MARKER],
                  [("--data", data_dir / name) for name in SAMPLE_FILES])
    return own


#: The trial files the demo writes, and what they hold.
_TRIAL_NAMES = {layout.TRIAL_CONFIG: "trial config", layout.LEDGER: "ledger",
                manifest_path(layout.LEDGER).name: "manifest"}


def _is_trial_config(path: Path) -> bool:
    """A TOML file with a ``[trial]`` table (a cost-scenario file has none)."""
    if path.suffix.lower() != ".toml":
        return False
    try:
        return "trial" in tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError):
        return False


def _stats(folder: Path) -> dict[str, tuple[int, int, int]]:
    """``{name: (inode, size, mtime)}`` of the files in ``folder``: a file the demo replaces changes all three."""
    if not folder.is_dir():
        return {}
    out = {}
    for entry in os.scandir(folder):
        if entry.is_file():
            st = entry.stat()
            out[entry.name] = (st.st_ino, st.st_size, st.st_mtime_ns)
    return out
