"""Progress of long steps: the library reports ``(done, total)`` and, to a callback that asks for them, the
step's name and unit.

A progress callback is any ``callback(done, total)``. One whose ``named`` attribute is true is called as
``callback(done, total, step, unit)`` instead, so a progress bar can show which step runs ("Building the
panel") and what it counts ("persons"); plain callbacks keep working unchanged. The library calls
:func:`tick` and never prints.
"""

from __future__ import annotations

from collections.abc import Callable

ProgressCallback = Callable[[int, int], None]


def tick(progress: ProgressCallback | None, done: int, total: int, step: str, unit: str) -> None:
    """Report that ``done`` of ``total`` ``unit`` of ``step`` are done (nothing when ``progress`` is None).

    Examples
    --------
    >>> seen = []
    >>> tick(lambda done, total: seen.append((done, total)), 2, 5, "Estimating effects", "outcomes")
    >>> class Bar:
    ...     named = True
    ...     def __call__(self, done, total, step, unit):
    ...         seen.append((step, done, total, unit))
    >>> tick(Bar(), 3, 5, "Estimating effects", "outcomes")
    >>> seen
    [(2, 5), ('Estimating effects', 3, 5, 'outcomes')]
    """
    if progress is None:
        return
    if getattr(progress, "named", False):
        progress(done, total, step, unit)  # type: ignore[call-arg]
    else:
        progress(done, total)
