"""Statistics shared by the steps: the per-cell moments core."""

from trialeval.stats.moments import CHUNK_ROWS, CellMoments, cell_code

__all__ = ["CHUNK_ROWS", "CellMoments", "cell_code"]
