"""Command line of trialeval: a thin skin over the library (see ``trialeval --help``).

The commands (and the library behind them) are imported when ``app`` is first asked for, so that
``trialeval --version`` answers without importing the library.
"""

from __future__ import annotations

import sys
from typing import Any

__all__ = ["app", "main"]


def _load() -> Any:
    """The Typer application with every command registered."""
    from trialeval.cli._app import app
    from trialeval.cli import balance as _balance  # noqa: F401
    from trialeval.cli import convert as _convert  # noqa: F401
    from trialeval.cli import costs as _costs  # noqa: F401
    from trialeval.cli import demo as _demo  # noqa: F401
    from trialeval.cli import draw as _draw  # noqa: F401  (draw, verify, exclude, power)
    from trialeval.cli import effects as _effects  # noqa: F401
    from trialeval.cli import explain as _explain  # noqa: F401
    from trialeval.cli import match as _match  # noqa: F401
    from trialeval.cli import panel as _panel  # noqa: F401
    from trialeval.cli import partition as _partition  # noqa: F401
    from trialeval.cli import report as _report  # noqa: F401
    from trialeval.cli import target as _target  # noqa: F401  (target, curves)
    return app


def show_warning(message: Warning | str, category: type[Warning], filename: str, lineno: int,
                 file: Any = None, line: str | None = None) -> None:
    """A warning as a reader of the command line wants it: ``warning: <message>`` on stderr, without the
    library's file and line (Python's default shows those, and the line of code)."""
    print(f"warning: {message}", file=sys.stderr if file is None else file)


def main() -> None:
    """Console-script entry point."""
    import warnings

    warnings.showwarning = show_warning
    if sys.argv[1:] == ["--version"]:
        from trialeval import __version__

        print(f"trialeval {__version__}")
        return
    from trialeval.pipeline import keep_freed_memory

    keep_freed_memory()                 # before the work: numpy's temporaries reuse freed pages
    _load()(prog_name="trialeval")


def __getattr__(name: str) -> Any:
    if name == "app":
        return _load()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
