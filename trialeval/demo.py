"""The whole pipeline on the sample trial (``trialeval demo``).

draw → verify → balance → panel → effects → costs → report, each step through the same library functions
the commands use, every output into one folder. The draw is re-run wave by wave from the requests recorded
in ``sample_data/ledger.manifest.jsonl`` into a fresh ledger, so the demo exercises the real draw; the
result equals the committed ledger, which ``verify`` then confirms.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from trialeval.balance import run_balance
from trialeval.config import load_config
from trialeval.costs import costs, load_scenarios
from trialeval.disclosure import DEFAULT_MIN_CELL
from trialeval.effects import effects
from trialeval.panel import build_panel, write_panel
from trialeval.plots import check_lang, save_figure
from trialeval.report import build_report, write_workbook
from trialeval.draw import manifest_path, read_manifest, run_draw, run_exclude, verify
from trialeval.exceptions import InputDataError
from trialeval.io import read_ledger, sha256_file, write_table, write_text
from trialeval.power import power

SAMPLE_FILES = ("population.csv", "trial.toml", "ledger.csv", "spells.csv", "costs.toml")
STEPS = 7
DEMO_SUMMARY_WEEKS = 26
DEMO_HOURS_WEEK = 35


@dataclass(frozen=True, eq=False)
class DemoResult:
    """What the demo wrote, and the summaries of its steps."""

    out_dir: Path
    files: tuple[Path, ...]
    steps: dict[str, str] = field(default_factory=dict)

    def summary(self) -> str:
        steps = "\n\n".join(f"== {name} ==\n{text}" for name, text in self.steps.items())
        files = "\n".join(f"  {p.relative_to(self.out_dir)}" for p in self.files)
        return f"{steps}\n\nWrote {len(self.files)} files to {self.out_dir}:\n{files}"

    def to_dict(self) -> dict[str, Any]:
        return {"out_dir": str(self.out_dir), "files": [str(p) for p in self.files], "steps": dict(self.steps)}


def run_demo(
    out_dir: str | Path = "trialeval-demo",
    data_dir: str | Path = "sample_data",
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
    data_dir, out_dir = Path(data_dir), Path(out_dir)
    missing = [name for name in SAMPLE_FILES if not (data_dir / name).is_file()]
    if missing:
        raise InputDataError(f"{data_dir}: the sample trial is incomplete; missing {', '.join(missing)}")
    out_dir.mkdir(parents=True, exist_ok=True)
    population, config = data_dir / "population.csv", out_dir / "trial.toml"
    shutil.copyfile(data_dir / "trial.toml", config)
    ledger = out_dir / "ledger.csv"
    for stale in (ledger, manifest_path(ledger)):
        stale.unlink(missing_ok=True)  # the demo folder is ours to rebuild

    steps: dict[str, str] = {}
    waves = read_manifest(manifest_path(data_dir / "ledger.csv"))
    def tick(step: int) -> None:
        if progress is not None:
            progress(step, STEPS)

    for entry in waves:
        run_draw(population, config, ledger, entry["requests"], entry["date"])
    tick(1)
    checked = verify(population, config, ledger)
    steps["draw"] = f"{len(waves)} weekly waves drawn into {ledger.name}."
    steps["verify"] = checked.summary()
    if not checked.ok:
        raise InputDataError(f"{ledger}: the demo's own draw does not verify:\n{checked.summary()}")
    recorded = read_ledger(data_dir / "ledger.csv")
    for row in recorded.loc[recorded["excluded"]].itertuples():
        run_exclude(ledger, row.person_id, row.exclusion_reason, row.exclusion_date)
    steps["exclusions"] = f"{int(recorded['excluded'].sum())} post-draw exclusions recorded (rows kept)."
    n_drawn = sum(int(e["n_drawn"]) for e in waves)
    steps["power"] = power(n_drawn, proportion=0.07).summary()
    tick(2)

    cfg = load_config(config)
    balanced = run_balance(ledger, out_dir / "balance.csv", population_path=population, config_path=config,
                           plot=out_dir / "balance_love.png")
    steps["balance"] = balanced.summary()
    tick(3)

    panel = build_panel(ledger, data_dir / "spells.csv", cfg.analysis["extraction_date"],
                        weeks=int(cfg.analysis.get("weeks", 52)), columns=cfg.columns)
    write_panel(panel, out_dir / "panel.parquet")
    steps["panel"] = panel.summary()
    tick(4)

    outcomes = list(cfg.analysis.get("outcomes", ())) or None
    estimated = effects(panel.to_frame(), outcomes, band=True, summary_weeks=DEMO_SUMMARY_WEEKS,
                        hours_week=int(cfg.analysis.get("hours_week", DEMO_HOURS_WEEK)), rng=cfg.seed,
                        min_cell=min_cell, source="panel.parquet")
    for suffix, table in estimated.export_tables().items():
        write_table(table, out_dir / (f"effects_{suffix}.csv" if suffix else "effects.csv"))
    for name, fig in estimated.figures(lang=lang).items():
        for ext in (".png", ".pdf"):
            save_figure(fig, out_dir / f"effects_{name}{ext}")
    steps["effects"] = estimated.summary()
    tick(5)

    scenarios = load_scenarios(data_dir / "costs.toml")
    valued = costs(estimated.export_frame(), scenarios, rng=cfg.seed, source="effects.csv")
    write_table(valued.to_frame(), out_dir / "costs.csv")
    for kind, name in (("jcurve", "costs.png"), ("bars", "costs_bars.png"), ("tornado", "costs_tornado.png")):
        save_figure(valued.plot(kind, lang=lang), out_dir / name)
    steps["costs"] = valued.summary()
    tick(6)

    write_text(json.dumps(estimated.provenance(), indent=2) + "\n", out_dir / "effects_settings.json")
    write_text(json.dumps({"disclosure": {"min_cell_size": min_cell},
                           "inputs": {name: sha256_file(data_dir / name) for name in SAMPLE_FILES}},
                          indent=2) + "\n", out_dir / "settings.json")
    report = build_report(cfg, out_dir, lang=lang, min_cell=min_cell)
    workbook = write_workbook(out_dir, min_cell=min_cell)
    steps["report"] = f"{report.summary()}\nTables gathered in {workbook.name}."
    tick(7)

    files = tuple(sorted(p for p in out_dir.rglob("*") if p.is_file()))
    return DemoResult(out_dir=out_dir, files=files, steps=steps)
