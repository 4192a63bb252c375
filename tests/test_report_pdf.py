"""`trialeval report --pdf`: the page printed to A4 by headless Chromium, checked page by page."""

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
    out = tmp_path_factory.mktemp("pdf_out")
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
    assert "suppressed" in flat or "Undertrykt" in flat


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
