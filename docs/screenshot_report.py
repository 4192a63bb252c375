"""Render a report.html in headless Chromium and cut the screenshot into readable pages.

Usage (Debian: ``apt-get install chromium``)::

    python docs/screenshot_report.py output/report.html docs/img/report

writes ``docs/img/report_1.png``, ``_2.png``, … (1280 px wide, 1600 px tall each), so a person can look at
the report as a reader would: figures readable, nothing overlapping, tables inside the page.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from PIL import Image

WIDTH, PAGE = 1280, 1600
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--hide-scrollbars"]


def screenshot(report: Path, stem: Path, height: int = 30_000) -> list[Path]:
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        raise SystemExit("chromium not found: apt-get install chromium")
    with tempfile.TemporaryDirectory() as profile:
        full = Path(profile) / "full.png"
        subprocess.run([browser, *FLAGS, f"--user-data-dir={profile}", f"--window-size={WIDTH},{height}",
                        f"--screenshot={full}", report.resolve().as_uri()],
                       check=True, capture_output=True, timeout=180)
        image = Image.open(full).convert("RGB")
        # trim the blank tail below the page's last content
        rows = [y for y in range(image.height - 1, 0, -50)
                if image.crop((0, y, WIDTH, y + 1)).getextrema() != ((255, 255), (255, 255), (255, 255))]
        bottom = min(image.height, (rows[0] + 100) if rows else image.height)
        pages = []
        for i, top in enumerate(range(0, bottom, PAGE), start=1):
            page = stem.with_name(f"{stem.name}_{i}.png")
            page.parent.mkdir(parents=True, exist_ok=True)
            image.crop((0, top, WIDTH, min(top + PAGE, bottom))).save(page)
            pages.append(page)
    return pages


if __name__ == "__main__":
    if len(sys.argv) != 3:
        raise SystemExit(__doc__)
    for path in screenshot(Path(sys.argv[1]), Path(sys.argv[2])):
        print(path)
