"""Progress bars: one per named step, with its unit and counts; silent under --quiet."""

from __future__ import annotations

import io

from rich.console import Console

from trialeval.cli import _app
from trialeval.cli._progress import progress_bar, step_bars
from trialeval.panel import build_panel


def _terminal() -> tuple[Console, io.StringIO]:
    text = io.StringIO()
    return Console(file=text, force_terminal=True, width=160), text


def test_the_panel_build_reports_its_step_in_persons(small_trial_data):
    console, text = _terminal()
    bars, callback = step_bars(console, "Building panel")
    with bars:
        result = build_panel(small_trial_data / "ledger.csv", small_trial_data / "spells.csv", "2016-10-31",
                             weeks=20, keep_panel=False, progress=callback)
        shown = {bars.tasks[i].description: (bars.tasks[i].completed, bars.tasks[i].total,
                                             bars.tasks[i].fields["unit"]) for i in range(len(bars.tasks))}
    n = result.n_persons
    assert shown == {"Building the panel": (n, n, "persons")}
    assert f"{n}/{n} persons" in text.getvalue()


def test_each_named_step_gets_its_own_bar():
    console, _ = _terminal()
    bars, callback = step_bars(console, "effects")
    with bars:
        callback(1, 3, "Estimating effects", "outcomes")
        callback(3, 3, "Estimating effects", "outcomes")
        callback(250, 1000, "Randomisation inference", "draws")
        callback(1, 2)                              # a step without a name takes the bar's description
        rows = [(t.description, t.completed, t.total, t.fields["unit"]) for t in bars.tasks]
    assert rows == [("Estimating effects", 3, 3, "outcomes"), ("Randomisation inference", 250, 1000, "draws"),
                    ("effects", 1, 2, "")]


def test_quiet_gives_the_library_no_callback(monkeypatch):
    monkeypatch.setattr("sys.stderr.isatty", lambda: True, raising=False)
    monkeypatch.setitem(_app._state, "quiet", True)
    with progress_bar("Building panel") as callback:
        assert callback is None
    monkeypatch.setitem(_app._state, "quiet", False)
    with progress_bar("Building panel", quiet=True) as callback:
        assert callback is None
