"""Print an HTML page to PDF through headless Chromium (``trialeval report --pdf``).

The report page carries its own A4 print stylesheet (``@page`` size and margins, page breaks between
sections, tables that wrap instead of being cut); Chromium lays it out exactly as its print preview does,
so the PDF is what a reader printing the page would get. Chromium is looked for as ``chromium``,
``chromium-browser``, ``google-chrome`` or ``google-chrome-stable`` on ``PATH``, or at the path in the
environment variable ``TRIALEVAL_CHROMIUM``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from trialeval.exceptions import TrialevalError
from trialeval.io import atomic_write

#: Names Chromium is installed under.
BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
#: Environment variable naming the Chromium executable to use.
BROWSER_VARIABLE = "TRIALEVAL_CHROMIUM"
_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
          "--disable-component-update", "--disable-sync", "--disable-extensions", "--no-pdf-header-footer",
          "--run-all-compositor-stages-before-draw")


class BrowserNotFoundError(TrialevalError):
    """No headless Chromium to print the PDF with."""


def find_browser() -> str:
    """The Chromium executable: ``$TRIALEVAL_CHROMIUM``, else the first of :data:`BROWSERS` on ``PATH``.

    Raises
    ------
    BrowserNotFoundError
        Naming what to install (Debian/Ubuntu: ``apt-get install chromium``).
    """
    named = os.environ.get(BROWSER_VARIABLE)
    if named:
        found = shutil.which(named)
        if found is None:
            raise BrowserNotFoundError(f"--pdf: {BROWSER_VARIABLE}={named} is not an executable")
        return found
    for name in BROWSERS:
        found = shutil.which(name)
        if found is not None:
            return found
    raise BrowserNotFoundError(
        "--pdf needs headless Chromium to print the page, and none was found (looked for "
        f"{', '.join(BROWSERS)} on PATH and ${BROWSER_VARIABLE}); install it, e.g. `apt-get install chromium` "
        "on Debian/Ubuntu, or `dnf install chromium`, or point TRIALEVAL_CHROMIUM at Chrome")


def html_to_pdf(page: str | os.PathLike[str], pdf: str | os.PathLike[str], *, browser: str | None = None,
                timeout: float = 300) -> Path:
    """Print the HTML file ``page`` to ``pdf`` (A4, as the page's print stylesheet lays it out).

    The PDF appears complete or not at all.

    Raises
    ------
    BrowserNotFoundError
        No Chromium (see :func:`find_browser`).
    TrialevalError
        Chromium failed or wrote nothing; its last message is quoted.
    """
    exe = browser or find_browser()
    page, target = Path(page).resolve(), Path(pdf)
    with tempfile.TemporaryDirectory(prefix="trialeval-chromium-") as profile, atomic_write(target) as tmp:
        printed = Path(profile) / "page.pdf"
        try:
            run = subprocess.run([exe, *_FLAGS, f"--user-data-dir={profile}", f"--print-to-pdf={printed}",
                                  page.as_uri()], capture_output=True, text=True, timeout=timeout, check=False)
        except (OSError, subprocess.TimeoutExpired) as err:
            raise TrialevalError(f"--pdf: Chromium ({exe}) could not print {page}: {err}") from err
        if not printed.is_file() or printed.stat().st_size == 0:
            last = (run.stderr.strip().splitlines() or ["no message"])[-1]
            raise TrialevalError(f"--pdf: Chromium ({exe}) wrote no PDF for {page} (exit {run.returncode}): {last}")
        shutil.copyfile(printed, tmp)
    return target
