"""The Typer application and the one place where a TrialevalError becomes exit code 1."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator

import typer

from trialeval import __version__
from trialeval.exceptions import TrialevalError

app = typer.Typer(
    name="trialeval",
    help="Evaluate randomised trials of employment programmes: draw, balance, panel, effects, costs.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

_state = {"debug": False}


def _version(value: bool) -> None:
    if value:
        typer.echo(f"trialeval {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    debug: bool = typer.Option(False, "--debug", help="Show the full traceback of an input error."),
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                 help="Print the version and exit."),
) -> None:
    _state["debug"] = debug


@contextlib.contextmanager
def user_errors() -> Iterator[None]:
    """Print a TrialevalError to stderr and exit 1; anything else is a bug and stays a traceback."""
    try:
        yield
    except TrialevalError as exc:
        if _state["debug"]:
            raise
        typer.echo(f"Error: {exc}", err=True)
        raise typer.Exit(1) from None


def echo_summary(text: str) -> None:
    typer.echo(text)


def main() -> None:
    """Console-script entry point."""
    app(prog_name="trialeval")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
