"""Every output file name is spelled once, in ``trialeval.layout``."""

from __future__ import annotations

import re
from pathlib import Path

from trialeval import layout
from trialeval.demo import DEMO_OUTPUTS, MARKER
from trialeval.report import COST_FIGURES, WORKBOOK_TABLES

ROOT = Path(__file__).resolve().parents[1]


def test_side_files_sit_beside_the_main_file():
    assert layout.sibling("out/effects.csv", "band") == Path("out/effects_band.csv")
    assert layout.balance_omnibus("b.md") == Path("b_omnibus.md")
    assert layout.balance_representativeness("b.xlsx") == Path("b_representativeness.xlsx")
    assert layout.panel_at_risk("p.csv") == Path("p_at_risk.csv")
    assert layout.panel_rejects("p.parquet") == Path("p_rejects.csv")
    assert layout.effects_settings("e.parquet") == Path("e_settings.json")
    assert layout.effects_figure("fig.png", "employed", ".pdf") == Path("fig_employed.pdf")
    assert list(layout.effects_figures("f.png", ["y"])) == [("y", ".png"), ("y", ".pdf")]
    assert layout.cost_figures("c.pdf") == {"jcurve": Path("c.pdf"), "bars": Path("c_bars.pdf"),
                                            "tornado": Path("c_tornado.pdf")}


def test_default_folder_names():
    assert (layout.REPORT, layout.WORKBOOK, layout.DEMO_MARKER) == ("report.html", "tables.xlsx", "demo_files.json")
    assert layout.PANEL_AT_RISK == "panel_at_risk.csv" and layout.EFFECTS_SETTINGS == "effects_settings.json"
    assert WORKBOOK_TABLES == layout.WORKBOOK_TABLES and WORKBOOK_TABLES[:4] == (
        "balance", "balance_omnibus", "balance_representativeness", "panel_at_risk")
    assert list(COST_FIGURES) == ["costs.png", "costs_bars.png", "costs_tornado.png"]
    assert MARKER in DEMO_OUTPUTS and layout.REPORT in DEMO_OUTPUTS and "ledger.manifest.jsonl" in DEMO_OUTPUTS


def test_output_names_are_spelled_only_in_the_layout():
    pattern = re.compile(r'"_at_risk|_omnibus\.|_omnibus\{|report\.html|tables\.xlsx|"_representativeness')
    offenders = []
    for folder in ("trialeval", "cli"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            if path.name == "layout.py":
                continue
            for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
                code = line.split("#")[0]
                if pattern.search(code) and ('"' in code or "'" in code) and not code.strip().startswith(
                        (">>>", "...")) and "``" not in code:
                    offenders.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert not [o for o in offenders if o.startswith(("cli", "trialeval/pipeline", "trialeval/report",
                                                      "trialeval/demo", "trialeval/config"))], offenders
