"""Figures carry their source line, and the number followed under the axis is written in the figure's language."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from trialeval import __version__
from trialeval.plots import _at_risk_rows, save_figure


def test_a_saved_figure_says_where_it_comes_from_once_in_its_language(tmp_path) -> None:
    fig = Figure(layout="constrained")
    fig.add_subplot().plot([0, 1], [0, 1])
    save_figure(fig, tmp_path / "f.png", lang="da")
    save_figure(fig, tmp_path / "f.pdf", lang="da")              # saved twice: still one line
    lines = [t.get_text() for t in fig.texts]
    assert lines == [f"Kilde: egne beregninger på registerdata; trialeval {__version__}"]
    english = Figure()
    save_figure(english, tmp_path / "e.png", lang="en")
    assert [t.get_text() for t in english.texts] == [f"Source: own calculations on register data; trialeval {__version__}"]
    bare = Figure()
    save_figure(bare, tmp_path / "b.png")                         # no language: no line (a user's own figure)
    assert bare.texts == []


def test_the_number_followed_is_written_with_the_languages_thousands_separator() -> None:
    texts = {}
    for lang in ("da", "en"):
        ax = Figure().add_subplot()
        week = np.arange(1, 5)
        ax.plot(week, week)
        ax.set_xticks(week)
        _at_risk_rows(ax, week, np.array([4704, 4704, 3, 1200]), np.array([4700, 10, 10, 10]), 5,
                      {"followed": "n", "treatment": "T", "control": "C"}, lang=lang)
        texts[lang] = [t.get_text() for t in ax.texts]
    assert "4.704" in texts["da"] and "1.200" in texts["da"] and "<5" in texts["da"]
    assert "4,704" in texts["en"] and "4,700" in texts["en"]
