"""Screenshots of the Danish demo report as printed: the PDF's pages that show the top, the effects table,
a figure and the costs, as PNG files under ``docs/img/``.

Usage (needs Debian's ``chromium`` and ``poppler-utils``)::

    python docs/screenshots.py [DEMO_DIR]

runs ``trialeval demo --lang da`` into ``DEMO_DIR`` (default: a temporary folder) unless it already holds
a report, prints it with ``trialeval report --lang da --pdf``, and writes ``docs/img/report_da_top.png``,
``report_da_effects_table.png``, ``report_da_figure.png`` and ``report_da_costs.png``.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
from pathlib import Path

IMG = Path(__file__).resolve().parent / "img"
#: Screenshot name and a text that the page to show contains.
PAGES = {"top": "Forsøgets omfang", "effects_table": "Effekter i udvalgte uger", "figure": "Figur 2.",
         "costs": "Økonomiske scenarier"}


def _run(*args: str) -> str:
    return subprocess.run(list(args), check=True, capture_output=True, text=True).stdout


def screenshots(demo: Path, dpi: int = 80) -> list[Path]:
    """Print ``demo``'s report in Danish to PDF and save the pages of :data:`PAGES` as PNG."""
    beside = Path(sys.executable).with_name("trialeval")
    trialeval = [str(beside) if beside.is_file() else "trialeval"]
    if not (demo / "trial.toml").is_file():
        subprocess.run([*trialeval, "demo", "--dir", str(demo), "--lang", "da"], check=True, capture_output=True)
    subprocess.run([*trialeval, "report", "--config", str(demo / "trial.toml"), "--dir", str(demo), "--lang", "da",
                    "--pdf"], check=True, capture_output=True)
    pdf = demo / "report.pdf"
    n = int(re.search(r"Pages:\s+(\d+)", _run("pdfinfo", str(pdf))).group(1))  # type: ignore[union-attr]
    texts = [_run("pdftotext", "-f", str(i), "-l", str(i), str(pdf), "-") for i in range(1, n + 1)]
    written = []
    IMG.mkdir(exist_ok=True)
    for name, marker in PAGES.items():
        page = next(i for i, text in enumerate(texts, start=1) if marker in text)
        stem = IMG / f"report_da_{name}"
        subprocess.run(["pdftoppm", "-f", str(page), "-l", str(page), "-r", str(dpi), "-png", "-singlefile",
                        str(pdf), str(stem)], check=True)
        written.append(stem.with_suffix(".png"))
    return written


if __name__ == "__main__":
    if len(sys.argv) > 2:
        raise SystemExit(__doc__)
    with tempfile.TemporaryDirectory() as tmp:
        for path in screenshots(Path(sys.argv[1]) if len(sys.argv) == 2 else Path(tmp)):
            print(path)
