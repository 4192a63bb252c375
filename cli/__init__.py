"""Command line of trialeval: a thin skin over the library (see ``trialeval --help``)."""

from trialeval.cli._app import app, main
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

__all__ = ["app", "main"]
