"""The report's sections on results by site, subgroups, site regressions and who gets there (en and da)."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pandas as pd
import pytest

from trialeval import pipeline
from trialeval.config import load_config
from trialeval.report import build_report
from trialeval.report_sites import controlled_rows
from trialeval.sites import site_effects

REF = Path(__file__).parent / "reference"
SAMPLE = Path(__file__).resolve().parents[1] / "sample_data"


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    """The sample ledger with the site, subgroup and regression outputs of the reference panel beside it,
    the site table written without the disclosure rule (``min_cell=0``) so the report must apply it."""
    out = tmp_path_factory.mktemp("sites_report")
    for name in ("ledger.csv", "ledger.manifest.jsonl", "trial.toml"):
        shutil.copy(SAMPLE / name, out / name)
    panel = REF / "sites_panel.csv"
    pipeline.by_site(panel, out / "effects.csv", by="municipality", outcomes=["in_company"], weeks=[4, 13],
                     min_cell=0)
    pipeline.by_site(panel, out / "effects.csv", subgroups=["gender", "age_band"], outcomes=["in_company"],
                     weeks=[4, 13])
    pipeline.explain(panel, REF / "site_factors.csv", out / "explain.csv", outcome="in_company", week=13,
                     factors=["fidelity"], plot=out / "explain.png")
    pipeline.explain_person(panel, out / "explain_person.csv", outcome="in_company", week=13,
                            covariates=["gender", "age_band", "prior_hours"], ever=True)
    return out


def test_each_section_is_shown_with_its_tables_and_figures(folder, sample_dir):
    result = build_report(load_config(sample_dir / "trial.toml"), folder, path=folder / "r_en.html")
    html = result.path.read_text()
    assert {"sites", "subgroups", "explain", "who"} <= set(result.sections)
    for heading in ("Results by site", "Subgroups", "What explains the site results", "Who gets there"):
        assert f"<h2>{heading}</h2>" in html
    assert "not effects of the covariates" in html and "Interaction tests" in html
    # one caterpillar and one forest plot drawn, the scatter embedded: three figures more than the rest
    assert html.count("data:image/png;base64,") == result.figures
    assert result.figures == 3
    ref = pd.read_csv(REF / "sites_reference_explain.csv").query("model == 'plain'").iloc[0]
    assert f"n = {ref['n']}, R² = {ref['r2']:.3f}; HC2" in html


def test_the_report_applies_the_disclosure_rule_to_a_site_table_written_without_it(folder, sample_dir):
    written = pd.read_csv(folder / "effects_sites.csv")
    assert {"Holstebro", "Viborg"} <= set(written["site"])                   # min_cell=0: in the file
    html = build_report(load_config(sample_dir / "trial.toml"), folder, path=folder / "r.html").path.read_text()
    section = html.split("<h2>Results by site</h2>")[1].split("<h2>")[0]
    panel = pd.read_csv(REF / "sites_panel.csv")
    for week in (4, 13):
        all_sites = set(site_effects(panel, "municipality", "in_company", week, min_cell=0).table["site"])
        kept = set(site_effects(panel, "municipality", "in_company", week).table["site"])
        shown, hidden = controlled_rows(written.loc[written["week"] == week], 5)
        assert set(shown["site"]) - {"all (pooled persons)", "random effects (DerSimonian–Laird)"} == kept - {"other"}
        assert hidden == len(all_sites - kept)
    assert {"Holstebro", "Horsens", "Viborg"} <= all_sites - kept
    assert not re.search(r"Holstebro|Horsens|Viborg", section)              # never shown
    assert "Aarhus" in section and "7 row(s) with fewer than 5 persons are not shown" in section


def test_the_sections_in_danish(folder, sample_dir):
    result = build_report(load_config(sample_dir / "trial.toml"), folder, lang="da", path=folder / "r_da.html")
    html = result.path.read_text()
    for heading in ("Resultater pr. enhed", "Undergrupper", "Hvad forklarer enhedernes resultater",
                    "Hvem kommer i mål"):
        assert f"<h2>{heading}</h2>" in html
    assert "ikke effekter af baggrundsforholdene" in html
    assert re.search(r"R² = 0,\d{3}|R² = 0\.\d{3}", html)


def test_without_the_files_the_sections_are_absent(sample_dir, tmp_path):
    for name in ("ledger.csv", "ledger.manifest.jsonl"):
        shutil.copy(sample_dir / name, tmp_path / name)
    result = build_report(load_config(sample_dir / "trial.toml"), tmp_path)
    assert not {"sites", "subgroups", "explain", "who"} & set(result.sections)
    assert "Results by site" not in result.path.read_text()
