"""``trialeval.report(...)``: the report step from Python, with the options of ``trialeval report``."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from trialeval.report import ReportResult


def report(config: str | os.PathLike[str], out_dir: str | os.PathLike[str], *, lang: str = "en",
           table_weeks: str | Sequence[int] | None = None, min_cell: int | None = None,
           xlsx: bool = False) -> ReportResult:
    """Build the report page from the outputs in ``out_dir``, as ``trialeval report`` does.

    Parameters
    ----------
    config
        The trial config, ``trial.toml`` (``--config``).
    out_dir
        Folder with the steps' outputs; the report is written there (``--dir``).
    lang
        Language of the page, ``"en"`` or ``"da"`` (``--lang``).
    table_weeks
        Weeks in the effect table, ``"13,26,35,52"`` or ``[13, 26, 35, 52]`` (``--table-weeks``; default:
        the config's, else 13, 26, 35 and 52).
    min_cell
        Suppress cells of fewer persons (``--min-cell``; default: the config's, else 5).
    xlsx
        Also gather the tables into a workbook, a sheet each (``--xlsx``).

    Returns
    -------
    ReportResult
        Where the page was written, its sections and figures.

    Examples
    --------
    >>> import trialeval
    >>> callable(trialeval.report)
    True
    """
    from trialeval import pipeline

    if isinstance(table_weeks, str) or table_weeks is None:
        weeks = pipeline.report_weeks(table_weeks, option="table_weeks")
    else:
        weeks = pipeline.report_weeks(",".join(str(int(w)) for w in table_weeks), option="table_weeks")
    step = pipeline.report(config, out_dir, lang=lang, weeks=weeks, min_cell=min_cell, xlsx=xlsx)
    return step.result
