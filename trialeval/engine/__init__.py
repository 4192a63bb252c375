"""Engines that build the panel of a person-partitioned dataset: ``local`` (the parts one after another,
:func:`trialeval.panel.partitioned.run_local`) and ``dask`` (the parts as tasks on a Dask cluster,
:func:`trialeval.engine.dask.run_dask`). Both reduce the parts' sums on the caller, in part order, so
their results are the same numbers."""
