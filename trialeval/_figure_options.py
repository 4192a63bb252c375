"""The checks of figure and language options, without matplotlib: a command checks its options before
anything is drawn, and a command that draws nothing never imports the plotting library."""

from __future__ import annotations

import os
from pathlib import Path


#: Figure files trialeval writes, by extension.
FIGURE_SUFFIXES = (".png", ".pdf", ".svg")


def check_figure_path(path: str | os.PathLike[str], what: str = "--plot") -> Path:
    """A figure's path must end in ``.png``, ``.pdf`` or ``.svg``; checked before anything is written.

    Examples
    --------
    >>> check_figure_path("costs.txt")
    Traceback (most recent call last):
    ...
    trialeval.exceptions.InputDataError: --plot: 'costs.txt' is not a figure file; use .png, .pdf or .svg
    """
    path = Path(path)
    if path.suffix.lower() not in FIGURE_SUFFIXES:
        from trialeval.exceptions import InputDataError

        raise InputDataError(f"{what}: '{path}' is not a figure file; use .png, .pdf or .svg")
    return path


#: Languages of figures, reports and console text.
LANGUAGES = ("en", "da")


def check_lang(lang: object, what: str = "--lang") -> str:
    """Check a language code before anything is drawn or written.

    Examples
    --------
    >>> check_lang("da")
    'da'
    >>> check_lang("de")
    Traceback (most recent call last):
    ...
    trialeval.exceptions.InputDataError: --lang: unknown language 'de'; known languages: en, da
    """
    if lang not in LANGUAGES:
        from trialeval.exceptions import InputDataError

        raise InputDataError(f"{what}: unknown language {lang!r}; known languages: {', '.join(LANGUAGES)}")
    return str(lang)
