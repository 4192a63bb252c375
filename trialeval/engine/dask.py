"""The ``dask`` engine: the parts of a partitioned dataset built as tasks on a ``dask.distributed``
cluster, their sums reduced on the client.

Each task is :func:`trialeval.panel.partitioned.build_part` on one part: a worker reads that part's
ledger and spells files (so the dataset must be on storage every worker sees under the same path),
builds its panel and returns its :class:`~trialeval.panel.partitioned.PanelSums` (a few hundred kB,
whatever the number of persons). The client adds them up in part order, as the local engine does, so both
engines give the same numbers.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from trialeval.exceptions import EngineError
from trialeval.panel.partitioned import DatasetPart, PanelSums, PartOptions, build_part

#: Seconds to wait for a scheduler before giving up.
CONNECT_TIMEOUT = 10


def connect(scheduler: Any = None) -> tuple[Any, bool]:
    """A ``distributed.Client``: ``scheduler`` itself when it is one, one connected to its address, or
    (None) a new local cluster. Returns the client and whether this call made it (and must close it).

    Raises
    ------
    EngineError
        ``dask.distributed`` is not installed, or no scheduler answers at the address.
    """
    try:
        from distributed import Client
    except ImportError as exc:              # pragma: no cover - a dependency of trialeval
        raise EngineError("the dask engine needs dask.distributed: pip install 'dask[distributed]'") from exc
    if isinstance(scheduler, Client):
        return scheduler, False
    if scheduler is None:
        return Client(processes=False, dashboard_address=None), True
    if not isinstance(scheduler, str):
        raise EngineError(f"scheduler must be an address such as tcp://host:8786 or a distributed.Client; "
                          f"got {scheduler!r}")
    try:
        return Client(scheduler, timeout=CONNECT_TIMEOUT), True
    except (OSError, TimeoutError, ValueError) as exc:
        raise EngineError(
            f"--scheduler {scheduler}: no Dask scheduler answered within {CONNECT_TIMEOUT} s ({exc}). "
            "Start one with `dask scheduler` and workers with `dask worker ADDRESS`, and check the "
            "address and port") from exc


def run_dask(parts: Sequence[DatasetPart], options: PartOptions, *, scheduler: Any = None,
             progress: Callable[[int, int], None] | None = None) -> PanelSums:
    """Build every part as a task on the cluster and add up their sums on the client, in part order.

    Parameters
    ----------
    parts
        From :func:`~trialeval.panel.partitioned.dataset_parts`; their files must be readable by every
        worker under the same paths.
    options
        The arguments every part is built with.
    scheduler
        A scheduler address, a ``distributed.Client``, or None for a local cluster on this machine.
    progress
        ``callback(done, total)`` as parts finish.

    Returns
    -------
    PanelSums
        The sums of all parts.
    """
    from distributed import as_completed

    client, own = connect(scheduler)
    try:
        futures = client.map(build_part, list(parts), options=options, pure=False,
                             key=[f"trialeval-part-{p.key}-{id(options):x}" for p in parts])
        index = {f.key: i for i, f in enumerate(futures)}
        results: list[PanelSums | None] = [None] * len(parts)
        for done, (future, sums) in enumerate(as_completed(futures, with_results=True), start=1):
            results[index[future.key]] = sums
            future.release()
            if progress is not None:
                progress(done, len(parts))
        total: PanelSums | None = None
        for i, sums in enumerate(results):          # in part order: the local engine's sum, bit for bit
            assert sums is not None
            total = sums if total is None else total + sums
            results[i] = None
        assert total is not None
        return total
    finally:
        if own:
            client.close()
