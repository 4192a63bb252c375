"""The Typer application and the one place where a TrialevalError becomes exit code 1."""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Optional, TypeVar

import typer
from typer.core import TyperGroup

from trialeval import __version__
from trialeval.exceptions import TrialevalError
from trialeval.pipeline import OptionError

T = TypeVar("T")

#: The options of the ``trialeval`` command itself that take a value; the rest are flags.
_GLOBAL_VALUED = ("--lang",)
_GLOBAL_FLAGS = ("--debug", "--quiet", "-q", "--verbose", "-v")


def _hoist(group: TyperGroup, args: list[str]) -> list[str]:
    """``args`` with the global options written after the command moved before it (``trialeval balance …
    --quiet`` as ``trialeval --quiet balance …``), unless the command has an option of that name itself."""
    i = 0
    while i < len(args) and args[i].startswith("-") and args[i] != "--":
        i += 2 if args[i] in _GLOBAL_VALUED else 1
    if i >= len(args) or args[i] not in group.commands:
        return args
    command = group.commands[args[i]]
    own: set[str] = set()
    valued: set[str] = set()
    for param in command.params:
        if getattr(param, "param_type_name", "") == "option":
            names = set(param.opts) | set(getattr(param, "secondary_opts", ()))
            own |= names
            if not getattr(param, "is_flag", False) and not getattr(param, "count", False):
                valued |= names
    head, moved, rest = list(args[:i + 1]), [], []
    j = i + 1
    while j < len(args):
        token = args[j]
        name = token.split("=", 1)[0]
        if token == "--":
            rest += args[j:]
            break
        if name in own:
            take = 2 if token in valued else 1
            rest += args[j:j + take]
            j += take
        elif token in _GLOBAL_FLAGS or name in _GLOBAL_VALUED:
            take = 2 if token in _GLOBAL_VALUED else 1
            moved += args[j:j + take]
            j += take
        else:
            rest.append(token)
            j += 1
    return head[:i] + moved + head[i:] + rest


class _Group(TyperGroup):
    """The command group: global options are accepted after the command too."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        return super().parse_args(ctx, _hoist(self, list(args)))


app = typer.Typer(
    cls=_Group,
    name="trialeval",
    help="Evaluate randomised trials of employment programmes: draw, balance, panel, effects, costs.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

_state: dict[str, object] = {"debug": False, "quiet": False, "verbose": False, "lang": None}


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
    lang: Optional[str] = typer.Option(None, "--lang", help="Language of the numbers printed: en or da "
                                       "[a command's own --lang, else the config's, else en]."),
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                 help="Print the version and exit."),
) -> None:
    if lang is not None and lang not in ("en", "da"):
        raise typer.BadParameter(f"must be en or da; got {lang!r}", param_hint="--lang")
    _state.update(debug=debug, quiet=quiet, verbose=verbose and not quiet, lang=lang)
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


def say(text: str | Callable[[], str]) -> None:
    """Print a command's result on stdout, unless --quiet (a callable is only called when printed)."""
    if not _state["quiet"]:
        typer.echo(text() if callable(text) else text)


def console_lang() -> Optional[str]:
    """The language the numbers of a summary are printed in when ``--lang`` was given to ``trialeval``
    itself (or to a command without a --lang of its own); None: the step's own."""
    lang = _state["lang"]
    return str(lang) if lang is not None else None


def renamed(new: T, old: T, new_name: str, old_name: str) -> T:
    """The value of an option given under its new name or its old (hidden) one; both is a usage error."""
    if new is not None and old is not None:
        raise OptionError(f"{old_name} is the old name of {new_name}: give one of them", option=new_name)
    return new if new is not None else old


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
