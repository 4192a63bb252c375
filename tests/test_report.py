from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from trialeval.config import load_config
from trialeval.demo import run_demo
from trialeval.exceptions import InputDataError
from trialeval.report import build_report, trial_summary


@pytest.fixture(scope="module")
def small_run(small_trial_data, tmp_path_factory) -> dict:
    """The small trial run through every step by the demo."""
    out = tmp_path_factory.mktemp("small_out")
    result = run_demo(out, small_trial_data, min_cell=5)
    ledger = pd.read_csv(small_trial_data / "ledger.csv", dtype={"person_id": str})
    return {"out": out, "data": small_trial_data, "ledger": ledger, "result": result}


def test_demo_writes_every_table_figure_and_the_report(small_run):
    names = {p.name for p in small_run["out"].iterdir()}
    for name in ("ledger.csv", "balance.csv", "balance_omnibus.csv", "panel.parquet", "effects.csv",
                 "effects_summary.csv", "effects_hours.csv", "effects_has_ordinary_hours.png",
                 "effects_has_ordinary_hours.pdf", "costs.csv", "costs.png", "costs_bars.png",
                 "costs_tornado.png", "report.html", "tables.xlsx", "settings.json"):
        assert name in names, name
    assert set(small_run["result"].steps) >= {"draw", "verify", "balance", "panel", "effects", "costs", "report"}


def test_small_cells_are_suppressed_in_exported_tables(small_run):
    out = small_run["out"]
    effects = pd.read_csv(out / "effects.csv")
    small = (effects["n_treatment"].isna()) | (effects["n_control"].isna())
    assert effects["suppressed"].any(), "the small trial must have weeks with fewer than 5 per arm"
    assert effects.loc[effects["suppressed"], ["mean_treatment", "mean_control", "effect", "se"]].isna().all().all()
    assert (effects.loc[~effects["suppressed"], ["n_treatment", "n_control"]] >= 5).all().all()
    # every week with fewer than 5 in an arm is blanked; more are when 1-4 persons have or lack a share
    assert (effects.loc[small, "suppressed"]).all()
    # Smallville drew 4 persons: its non-zero counts are blanked, and each blanked count has a companion
    # in its column (the report shows the totals per arm)
    per_muni = trial_summary(pd.read_csv(out / "ledger.csv").assign(excluded=False, exclusion_reason=""))
    table = per_muni["per_municipality"].set_index("municipality")
    row = table.loc["Smallville"]
    assert row["suppressed"] and all(np.isnan(row[c]) or row[c] == 0 for c in ("treatment", "control"))
    assert table[["treatment", "control"]].isna().sum().tolist() in ([0, 2], [2, 0], [2, 2])


def test_person_ids_appear_only_in_person_level_files(small_run):
    ids = set(small_run["ledger"]["person_id"])
    pattern = re.compile(r"X\d{5}")
    person_level = {"ledger.csv", "panel.parquet"}
    for path in small_run["out"].iterdir():
        if path.name in person_level:
            continue
        text = path.read_bytes().decode("latin-1")
        found = set(pattern.findall(text)) & ids
        assert not found, f"{path.name} contains person ids {sorted(found)[:3]}"
    xlsx = pd.read_excel(small_run["out"] / "tables.xlsx", sheet_name=None)
    for sheet, table in xlsx.items():
        assert not set(table.astype(str).to_numpy().ravel()) & ids, sheet
    # the last week is observed for wave 1 only (3 per arm): its number at risk is blanked in the workbook
    at_risk = xlsx["panel_at_risk"]
    assert not at_risk["n_at_risk"].between(1, 4).any()
    assert at_risk.loc[at_risk["week"] == 35, "suppressed"].all()


def test_report_is_self_contained_and_has_every_section(small_run):
    html = (small_run["out"] / "report.html").read_text()
    assert "http://" not in html and "https://" not in html and "<script" not in html
    assert html.count("data:image/png;base64,") >= 8
    for heading in ("Trial summary", "Balance of the groups", "Effects week by week", "Cost scenarios",
                    "Methods and provenance", "Distribution of ordinary hours"):
        assert f"<h2>{heading}</h2>" in html
    assert "trialeval 0.1.0" in html
    assert "difference in means (Welch)" in html  # the estimator, from effects_settings.json


def test_report_in_danish(small_run):
    cfg = load_config(small_run["out"] / "trial.toml")
    result = build_report(cfg, small_run["out"], lang="da", path=small_run["out"] / "rapport.html")
    html = result.path.read_text()
    assert "<h2>Effekter uge for uge</h2>" in html and "Indsatsgruppe" in html and "lang='da'" in html
    (small_run["out"] / "rapport.html").unlink()


def test_report_without_outputs_is_a_clear_error(tmp_path, sample_dir):
    with pytest.raises(InputDataError, match="no ledger.csv in the output folder"):
        build_report(load_config(sample_dir / "trial.toml"), tmp_path)
    with pytest.raises(InputDataError, match="--lang must be one of en, da"):
        build_report(load_config(sample_dir / "trial.toml"), tmp_path, lang="fr")  # type: ignore[arg-type]


def test_the_average_effect_table_shows_its_headline_columns_and_the_csv_keeps_the_rest(small_run):
    out = small_run["out"]
    page = (out / "report.html").read_text(encoding="utf-8")
    start = page.index("Average effect over the first")
    table = page[start:page.index("</table>", start)]
    assert "p (Holm)" in table and "Difference" in table
    assert "Effect, person means" not in table and "SE, person means" not in table and "Standard error" not in table
    assert {"se", "effect_person_means", "se_person_means"} <= set(pd.read_csv(out / "effects_summary.csv").columns)
