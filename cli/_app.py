"""The Typer application and the one place where a TrialevalError becomes exit code 1."""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Iterable, Iterator

import typer

from trialeval import __version__
from trialeval.exceptions import TrialevalError
from trialeval.pipeline import OptionError

app = typer.Typer(
    name="trialeval",
    help="Evaluate randomised trials of employment programmes: draw, balance, panel, effects, costs.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

_state = {"debug": False, "quiet": False, "verbose": False}


def _version(value: bool) -> None:
    if value:
        typer.echo(f"trialeval {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    ctx: typer.Context,
    debug: bool = typer.Option(False, "--debug", help="Show the full traceback of an input error."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Print nothing but errors; no progress bars."),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Also print the time each command took."),
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                 help="Print the version and exit."),
) -> None:
    _state.update(debug=debug, quiet=quiet, verbose=verbose and not quiet)
    started = time.perf_counter()

    def report_time() -> None:
        if _state["verbose"]:
            typer.echo(f"[{ctx.invoked_subcommand}: {time.perf_counter() - started:.1f} s]", err=True)

    ctx.call_on_close(report_time)


def say_written(paths: Iterable[object], prefix: str = "Wrote ") -> None:
    """Print the files a step wrote on one line, unless --quiet or there are none."""
    names = [str(p) for p in paths]
    if names:
        say(prefix + ", ".join(names))


def say(text: str) -> None:
    """Print a command's result on stdout, unless --quiet."""
    if not _state["quiet"]:
        typer.echo(text)


def is_quiet() -> bool:
    return bool(_state["quiet"])


@contextlib.contextmanager
def user_errors() -> Iterator[None]:
    """Print a TrialevalError to stderr and exit 1 (a wrong or missing option: a usage error, exit 2);
    anything else is a bug and stays a traceback."""
    try:
        yield
    except OptionError as exc:
        if _state["debug"]:
            raise
        raise typer.BadParameter(exc.message, param_hint=exc.option) from None
    except TrialevalError as exc:
        if _state["debug"]:
            raise
        typer.echo(f"Error: {exc}", err=True)
        raise typer.Exit(1) from None


def main() -> None:
    """Console-script entry point."""
    app(prog_name="trialeval")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
