"""The command line enters the library only through ``trialeval.pipeline``, and each step writes what it says."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pandas as pd
import pytest

from trialeval import layout, pipeline
from trialeval.config import AnalysisSettings, load_config
from trialeval.exceptions import InputDataError

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "sample_data"
#: What a command module may import from the library besides the pipeline.
ALLOWED = {"trialeval", "trialeval.pipeline", "trialeval.exceptions"}


def _library_imports(path: Path) -> list[str]:
    """Every ``trialeval...`` module a file imports (``from trialeval import x`` counts as ``trialeval.x``
    when ``x`` is a module)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names if alias.name.split(".")[0] == "trialeval"]
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "trialeval":
            if node.module == "trialeval":
                found += [f"trialeval.{alias.name}" if alias.name in ("pipeline", "exceptions") else
                          f"trialeval:{alias.name}" for alias in node.names]
            else:
                found.append(node.module)
    return found


@pytest.mark.parametrize("path", sorted((ROOT / "cli").glob("*.py")), ids=lambda p: p.name)
def test_the_command_line_imports_only_the_pipeline(path):
    wrong = [name for name in _library_imports(path)
             if not (name in ALLOWED or name.startswith("trialeval.cli") or name == "trialeval:__version__")]
    assert not wrong, f"{path.name} imports {wrong}; the command line enters the library through trialeval.pipeline"


def test_command_modules_call_the_pipeline():
    for name in ("balance", "costs", "demo", "draw", "effects", "panel", "report"):
        assert "pipeline." in (ROOT / "cli" / f"{name}.py").read_text(encoding="utf-8")


def test_power_step_writes_nothing():
    step = pipeline.power(4800, proportion=0.07)
    assert step.written == () and step.summary() == step.result.summary()


def test_report_weeks_option():
    assert pipeline.report_weeks("13,26") == (13, 26) and pipeline.report_weeks(None) is None
    with pytest.raises(pipeline.OptionError, match="weeks must be from 1 to 1040; got 0,13") as info:
        pipeline.report_weeks("0,13")
    assert info.value.option == "--weeks"
    with pytest.raises(pipeline.OptionError, match="comma-separated"):
        pipeline.report_weeks("13,abc")


def test_panel_without_extraction_date_is_an_option_error(tmp_path):
    with pytest.raises(pipeline.OptionError, match="give --extraction-date"):
        pipeline.panel(SAMPLE / "ledger.csv", SAMPLE / "spells.csv", tmp_path / "panel.parquet")
    assert list(tmp_path.iterdir()) == []


def test_panel_effects_costs_steps_write_the_layout_names(tmp_path):
    panel = pipeline.panel(SAMPLE / "ledger.csv", SAMPLE / "spells.csv", tmp_path / "panel.parquet",
                           config=SAMPLE / "trial.toml", weeks=8)
    assert panel.written == (tmp_path / layout.PANEL, tmp_path / layout.PANEL_AT_RISK)
    assert all(p.is_file() for p in panel.written)
    out = tmp_path / layout.EFFECTS
    effects = pipeline.effects(tmp_path / layout.PANEL, out, config=SAMPLE / "trial.toml",
                               outcomes=["ordinary_hours"], summary_weeks=4, hours_week=4, plot=tmp_path / layout.EFFECTS_PLOT)
    names = {p.name for p in effects.written}
    assert {layout.EFFECTS, layout.EFFECTS_SUMMARY, layout.EFFECTS_HOURS, layout.EFFECTS_SETTINGS,
            layout.EFFECTS_HOURS_PLOT, "effects_ordinary_hours.png",
            "effects_ordinary_hours.pdf"} <= names
    assert all(p.is_file() for p in effects.written)
    settings = json.loads((tmp_path / layout.EFFECTS_SETTINGS).read_text(encoding="utf-8"))
    assert settings                                           # the provenance of the estimate
    assert pd.read_csv(out)["week"].max() == 8
    with pytest.raises(pipeline.OptionError, match="no scenario named 'Z'") as info:
        pipeline.costs(out, SAMPLE / "costs.toml", tmp_path / layout.COSTS, tornado="Z")
    assert info.value.option == "--tornado"


def test_balance_step_without_covariates_is_an_input_error(tmp_path):
    with pytest.raises(InputDataError, match="no covariates") as info:
        pipeline.balance(SAMPLE / "ledger.csv", tmp_path / layout.BALANCE)
    assert not isinstance(info.value, pipeline.OptionError)


def test_settings_merge_config_then_options():
    cfg = load_config(SAMPLE / "trial.toml")
    settings = AnalysisSettings.from_config(cfg, weeks=None, hours_week=20, min_cell=None)
    assert settings.weeks == cfg.analysis["weeks"] and settings.hours_week == 20
    assert settings.seed == cfg.seed and settings.min_cell == 5 and settings.lang == "en"
    assert settings.outcomes == tuple(cfg.analysis["outcomes"])
    assert AnalysisSettings.from_config(cfg, seed=9).seed == 9
    with pytest.raises(TypeError, match="unknown analysis settings: wekes"):
        AnalysisSettings.from_config(cfg, wekes=3)
