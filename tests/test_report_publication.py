"""The publishable report: tables and figures numbered in the reader's language, and `report --pdf` checked page by page."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from trialeval.cli import app
from trialeval.demo import run_demo
from trialeval.pdf import BROWSERS, BrowserNotFoundError, find_browser

A4 = (595.28, 841.89)  # points
HAS_CHROMIUM = any(shutil.which(b) for b in BROWSERS)
HAS_POPPLER = shutil.which("pdftotext") is not None and shutil.which("pdfinfo") is not None
needs_engine = pytest.mark.skipif(not (HAS_CHROMIUM and HAS_POPPLER),
                                  reason="needs chromium and poppler-utils (apt-get install chromium poppler-utils)")


@pytest.fixture(scope="module")
def danish_run(small_trial_data, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("pdfout")
    run_demo(out, small_trial_data, lang="da", min_cell=5)
    return out


def _pages(pdf: Path) -> list[tuple[float, float]]:
    info = subprocess.run(["pdfinfo", "-f", "1", "-l", "9999", str(pdf)], capture_output=True, text=True,
                          check=True).stdout
    return [(float(w), float(h)) for w, h in re.findall(r"Page\s+\d+ size:\s+([\d.]+) x ([\d.]+)", info)]


def _page_text(pdf: Path, page: int) -> str:
    return subprocess.run(["pdftotext", "-f", str(page), "-l", str(page), "-layout", str(pdf), "-"],
                          capture_output=True, text=True, check=True).stdout


def _word_boxes(pdf: Path) -> list[tuple[int, float, float, str]]:
    """Every word of the PDF with its page and right and bottom edge (``pdftotext -bbox``)."""
    xhtml = subprocess.run(["pdftotext", "-bbox", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    boxes: list[tuple[int, float, float, str]] = []
    for number, page in enumerate(xhtml.split("<page ")[1:], start=1):
        boxes += [(number, float(x), float(y), w) for x, y, w in
                  re.findall(r'<word xMin="[\d.]+" yMin="[\d.]+" xMax="([\d.]+)" yMax="([\d.]+)">([^<]*)</word>', page)]
    return boxes


@needs_engine
def test_report_pdf_is_a4_every_section_printed_nothing_outside_the_page(danish_run):
    out = danish_run
    result = CliRunner().invoke(app, ["report", "--config", str(out / "trial.toml"), "--dir", str(out),
                                      "--lang", "da", "--pdf"])
    assert result.exit_code == 0, result.output
    pdf = out / "report.pdf"
    assert "report.pdf" in result.output and pdf.read_bytes()[:5] == b"%PDF-"
    pages = _pages(pdf)
    assert len(pages) > 1
    for width, height in pages:  # every page is A4, none wider
        assert abs(width - A4[0]) < 1.5 and abs(height - A4[1]) < 1.5
    text = "\n".join(_page_text(pdf, i) for i in range(1, len(pages) + 1))
    flat = re.sub(r"\s+", " ", text)
    html = (out / "report.html").read_text(encoding="utf-8")
    headings = [re.sub(r"<[^>]+>", "", h) for h in re.findall(r"<h2>(.*?)</h2>", html)]
    assert len(headings) >= 6
    for heading in headings:  # the text of each section is in the PDF
        assert heading.replace("&#x27;", "'") in flat, heading
    # sections start on a new page: each heading after the first begins a page's text
    starts = [_page_text(pdf, i).strip().split("\n")[0].strip() for i in range(1, len(pages) + 1)]
    for heading in headings[1:]:
        assert heading in starts, (heading, starts)
    # no table or text cut at the page edge: every word lies inside the page and its margins
    boxes = _word_boxes(pdf)
    assert len(boxes) > 500
    outside = [(p, w) for p, x, y, w in boxes if x > A4[0] - 20 or y > A4[1] - 20]
    assert outside == []
    # the last column of the effects table is printed (wide tables wrap, not cut)
    assert "Undertrykt" in flat


def test_report_pdf_without_chromium_names_what_to_install_and_writes_nothing(danish_run, monkeypatch, tmp_path):
    out = tmp_path / "copy"
    shutil.copytree(danish_run, out)
    for name in ("report.html", "report.pdf"):
        (out / name).unlink(missing_ok=True)
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    monkeypatch.delenv("TRIALEVAL_CHROMIUM", raising=False)
    with pytest.raises(BrowserNotFoundError, match="apt-get install chromium"):
        find_browser()
    result = CliRunner().invoke(app, ["report", "--config", str(out / "trial.toml"), "--dir", str(out), "--pdf"])
    assert result.exit_code == 1
    assert "Chromium" in result.output and "apt-get install chromium" in result.output
    assert "Traceback" not in result.output
    assert not (out / "report.html").exists() and not (out / "report.pdf").exists()


def test_a_named_browser_that_is_not_there_is_an_error(monkeypatch):
    monkeypatch.setenv("TRIALEVAL_CHROMIUM", "/nonexistent/chrome")
    with pytest.raises(BrowserNotFoundError, match="TRIALEVAL_CHROMIUM=/nonexistent/chrome"):
        find_browser()


# --------------------------------------------------------------------------------------------------
# one catalogue: no English left in the Danish report

#: Words a Danish report may keep: data (municipality names, the trial's name, file names), and terms
#: Danish reports use as they are.
ALLOWED_ENGLISH = {"SMD", "Seed", "Estimator", "love plot", "Monte Carlo", "Welch t", "JobFirst (sample)",
                   "trial.toml", "population.csv", "SHA-256", "Bigtown", "Smallville", "trialeval"}


def _visible_text(page: str) -> str:
    for pattern in (r"<pre>.*?</pre>", r"<style>.*?</style>", r"<img[^>]*>"):
        page = re.sub(pattern, " ", page, flags=re.S)
    import html as html_module
    text = html_module.unescape(re.sub(r"<[^>]+>", " | ", page))
    for allowed in ALLOWED_ENGLISH:
        text = text.replace(allowed, " ")
    return re.sub(r"\s+", " ", text)


def _english_phrases() -> set[str]:
    from trialeval import i18n
    phrases: set[str] = set()
    for key, en in i18n.TEXT["en"].items():
        if en != i18n.TEXT["da"][key]:
            phrases |= {p.strip(" .,:()") for p in re.split(r"\{[^}]*\}|[;:()]", en) if len(p.strip(" .,:()")) > 3}
    for table in (i18n.COLUMNS, i18n.OUTCOMES, i18n.VALUES):
        phrases |= {en for en, da in table.values() if en != da}
    return phrases - ALLOWED_ENGLISH


def test_danish_report_has_no_english_heading_column_name_or_label_left(danish_run):
    from trialeval.config import load_config
    from trialeval.report import build_report
    out = danish_run
    build_report(load_config(out / "trial.toml"), out, lang="da", path=out / "da.html")
    text = _visible_text((out / "da.html").read_text(encoding="utf-8"))
    left = sorted(p for p in _english_phrases() if re.search(rf"(?<![\w-]){re.escape(p)}(?![\w-])", text))
    assert left == []
    # no column name (snake_case) is shown anywhere outside the recorded settings
    assert re.findall(r"\b[a-z]+_[a-z0-9_]+\b", text) == []
    # and the English report does show the English words (the check above can fail)
    build_report(load_config(out / "trial.toml"), out, lang="en", path=out / "en.html")
    english = _visible_text((out / "en.html").read_text(encoding="utf-8"))
    assert sum(bool(re.search(rf"(?<![\w-]){re.escape(p)}(?![\w-])", english)) for p in _english_phrases()) > 40


def test_user_declared_labels_replace_the_outcome_name(danish_run, tmp_path):
    from trialeval.config import load_config
    from trialeval.report import build_report
    out = danish_run
    toml = (out / "trial.toml").read_text(encoding="utf-8").replace(
        "[analysis]\n", '[analysis]\nlabels = { in_internship = { label_en = "Internship (own words)", '
                        'label_da = "Praktik (egne ord)" } }\n', 1)
    (tmp_path / "trial.toml").write_text(toml, encoding="utf-8")
    cfg = load_config(tmp_path / "trial.toml")
    da = build_report(cfg, out, lang="da", path=tmp_path / "da.html").path.read_text(encoding="utf-8")
    en = build_report(cfg, out, lang="en", path=tmp_path / "en.html").path.read_text(encoding="utf-8")
    assert "Praktik (egne ord)" in da and "Andel i virksomhedspraktik" not in da
    assert "Internship (own words)" in en and "Share in internship" not in en


# --------------------------------------------------------------------------------------------------
# publication tables, numbered, with a source line

def _rows(page: str, caption_start: str) -> list[list[str]]:
    import html as html_module
    table = page[page.index(caption_start):]
    table = table[:table.index("</table>")]
    return [[html_module.unescape(re.sub(r"<[^>]+>", "", c)).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", row)]
            for row in re.findall(r"<tr[^>]*>(.*?)</tr>", table) if "<td" in row]


def test_numbered_tables_and_figures_each_with_a_source_line(danish_run):
    from trialeval import __version__
    page = (danish_run / "report.html").read_text(encoding="utf-8")
    tables = [int(n) for n in re.findall(r"<caption>Tabel (\d+)\. ", page)]
    figures = [int(n) for n in re.findall(r"<figcaption>Figur (\d+)\. ", page)]
    assert tables == list(range(1, len(tables) + 1)) and len(tables) >= 6
    assert figures == list(range(1, len(figures) + 1)) and len(figures) >= 6
    source = f"Kilde: egne beregninger på registerdata; trialeval {__version__}"
    assert page.count(source) == len(tables) + len(figures)


def test_effects_table_holds_the_exported_numbers_rounded(danish_run):
    import pandas as pd
    page = (danish_run / "report.html").read_text(encoding="utf-8")
    effects = pd.read_csv(danish_run / "effects.csv")
    rows = _rows(page, "Effekter i udvalgte uger: indsats")
    assert rows and all(len(r) == 7 for r in rows)
    shown = {(r[0], int(r[1])): r for r in rows}
    from trialeval.i18n import outcome
    shares = effects.loc[effects["outcome"].ne("ordinary_hours") & effects["week"].isin([13, 26, 35, 43])]
    pct = lambda v: "·" if pd.isna(v) else f"{round(100 * v, 1) + 0.0:.1f}".replace(".", ",").replace("-", "\u2212")  # noqa: E731
    checked = 0
    for e in shares.itertuples():
        row = shown[(outcome(e.outcome, "da"), e.week)]
        # a suppressed or missing cell is shown as "·", never as 0
        assert row[2] == pct(e.mean_treatment) + (" %" if pd.notna(e.mean_treatment) else "")
        assert row[3] == pct(e.mean_control) + (" %" if pd.notna(e.mean_control) else "")
        assert row[4] == pct(e.effect) + (" pct.-point" if pd.notna(e.effect) else "")
        assert row[5] == ("·" if pd.isna(e.ci_low) else f"{pct(e.ci_low)} til {pct(e.ci_high)}")
        assert row[6] == ("·" if pd.isna(e.n_treatment) else f"{int(e.n_treatment + e.n_control):,}".replace(",", "."))
        checked += 1
    assert checked == len(shares) > 10


def test_effects_table_rows_from_a_table_by_hand():
    import pandas as pd
    from trialeval.report_tables import effects_table
    e = pd.DataFrame({"outcome": ["ordinary_hours", "in_internship", "in_internship"], "week": [26, 26, 35],
                      "n_treatment": [1015, 1015, None], "n_control": [1001, 1001, None],
                      "mean_treatment": [1.7912, 0.35812, None], "mean_control": [1.2199, 0.16704, None],
                      "effect": [0.5713, 0.19108, None], "ci_low": [0.0812, 0.15349, None],
                      "ci_high": [1.0614, 0.22867, None]})
    da = effects_table(e, [26, 35], "week", "da").values.tolist()
    assert da[0] == ["Andel i virksomhedspraktik", "26", "35,8 %", "16,7 %", "19,1 pct.-point", "15,3 til 22,9", "2.016"]
    assert da[1] == ["Andel i virksomhedspraktik", "35", "·", "·", "·", "·", "·"]
    assert da[2] == ["Ordinære timer", "26", "1,79", "1,22", "0,57", "0,08 til 1,06", "2.016"]
    en = effects_table(e, [26], "week", "en")
    assert list(en.columns) == ["Outcome", "Week", "Programme group", "Control group", "Difference", "95 % CI", "n"]
    assert en.iloc[0].tolist()[2:] == ["35.8%", "16.7%", "19.1 pp", "15.3 to 22.9", "2,016"]


def test_cost_table_whole_kroner_by_payer_adding_up(danish_run):
    import pandas as pd
    page = (danish_run / "report.html").read_text(encoding="utf-8")
    costs = pd.read_csv(danish_run / "costs.csv")
    rows = _rows(page, "Nettoresultat pr. deltager efter scenarie og betaler")
    assert [r[0] for r in rows] == list(dict.fromkeys(costs["scenario"]))

    def kr(text: str) -> int:
        assert text.endswith(" kr.") and "," not in text
        return int(text.removesuffix(" kr.").replace(".", "").replace("\u2212", "-"))

    for r in rows:
        by_payer = costs.loc[costs["scenario"] == r[0]].set_index("payer")["net_result"]
        assert [kr(c) for c in r[2:5]] == [round(by_payer[p]) for p in ("municipality", "state", "total")]
        assert abs(kr(r[2]) + kr(r[3]) - kr(r[4])) <= 1  # municipality + state = total, to rounding


def test_balance_table_has_readable_labels(danish_run):
    page = (danish_run / "report.html").read_text(encoding="utf-8")
    rows = _rows(page, "Balance i baggrundsvariable mellem")
    labels = [r[0] for r in rows]
    assert "Køn: kvinde" in labels and "Alder" in labels and not any("_" in s for s in labels)


# --------------------------------------------------------------------------------------------------
# workbook: infinity as a blank cell with a note

def test_workbook_writes_infinity_as_a_blank_cell_with_a_note(tmp_path):
    import openpyxl
    import pandas as pd
    from trialeval.report import write_workbook
    pd.DataFrame({"scenario": ["A", "B"], "payer": ["total", "total"], "net_result": [-5633.0, 120.0],
                  "break_even_scale": [3.45, float("-inf")], "break_even_persistence_years": [float("inf"), 2.5]}
                 ).to_csv(tmp_path / "costs.csv", index=False)
    sheet = openpyxl.load_workbook(write_workbook(tmp_path))["costs"]
    values = [[c.value for c in row] for row in sheet.iter_rows(min_row=2)]
    assert values == [["A", "total", -5633, 3.45, None], ["B", "total", 120, None, 2.5]]
    assert "inf in the CSV" in sheet["E2"].comment.text and sheet["D3"].comment.text.startswith("-inf")
    assert sheet["D2"].comment is None and sheet["E3"].comment is None


# --------------------------------------------------------------------------------------------------
# figures: suppressed bars marked, readable love plot, explained grey weeks

def test_suppressed_histogram_bins_are_hatched_not_drawn_as_zero():
    import numpy as np
    import pandas as pd
    from trialeval.effects import hours_distribution
    from trialeval.plots import plot_hours_distribution
    hours = [6.0] * 10 + [12.0] * 2 + [0.0] * 8  # the 10-15 bin of the programme group holds 2 persons
    p = pd.DataFrame({"person_id": [str(i) for i in range(40)], "arm": ["treatment"] * 20 + ["control"] * 20,
                      "week": 35, "ordinary_hours": hours + [6.0] * 12 + [0.0] * 8})
    result = hours_distribution(p, 35)
    table = result.export_frame()
    n_suppressed = int(table["suppressed"].sum())
    assert n_suppressed >= 1
    fig = plot_hours_distribution(result, lang="da")
    hatched = [q for q in fig.axes[0].patches if q.get_hatch() == "///"]
    assert len(hatched) == n_suppressed
    assert fig.axes[0].get_legend().get_title().get_text() == "skraveret: intervaller med færre end 5 personer, undertrykt"
    assert np.isfinite([q.get_height() for q in fig.axes[0].patches]).all()


def test_love_plot_shows_readable_labels_in_the_language():
    import pandas as pd
    from trialeval.plots import love_plot
    t = pd.DataFrame({"covariate": ["benefit_seniority_weeks", "origin"], "level": ["", "non_western"],
                      "smd": [0.02, 0.05]})
    ax = love_plot(t, lang="da").axes[0]
    assert [x.get_text() for x in ax.get_yticklabels()] == ["Uger på ydelse", "Herkomst: ikke-vestlig"]
    assert ax.get_xlabel() == "standardiseret forskel i gennemsnit"
    ax = love_plot(t, lang="en").axes[0]
    assert [x.get_text() for x in ax.get_yticklabels()] == ["Weeks on benefit", "Origin: non-western"]
