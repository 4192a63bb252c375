"""Errors and warnings raised by trialeval.

Every problem with the user's input is a :class:`TrialevalError`; the command line turns it into a
message on stderr and exit code 1. Anything else is a bug and stays a traceback.
"""

from __future__ import annotations


class TrialevalError(Exception):
    """Base class of every error caused by the user's input or request."""


class InputDataError(TrialevalError, ValueError):
    """A file, column, value or row breaks an input contract."""


class ConfigError(InputDataError):
    """The trial config or scenario file is malformed (unknown key, bad rule, wrong type)."""


class ScenarioError(ConfigError):
    """A cost scenario file (``costs.toml``) or scenario value is malformed or out of range."""


class DesignError(TrialevalError, ValueError):
    """A request that the design cannot honour (more places than the pool holds, unknown site)."""


class EstimationError(TrialevalError, RuntimeError):
    """An estimate cannot be computed from the data given (e.g. an arm is empty)."""


class LedgerMismatchError(TrialevalError):
    """``verify`` found that the ledger differs from a replay of its waves."""


class TrialevalWarning(UserWarning):
    """Something the user should know about, which does not stop the computation."""


class EngineError(TrialevalError, RuntimeError):
    """An engine cannot run: e.g. no Dask scheduler answers at the address given."""
