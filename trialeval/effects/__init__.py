"""Effect curves: per week since visitation, the mean outcome per arm and the effect.

The step is a package: :mod:`~trialeval.effects.estimators` (the estimator protocol and registry:
difference in means, blocked, Lin, CR2), :mod:`~trialeval.effects.inference` (t intervals, Holm, sup-t
band, randomisation inference), :mod:`~trialeval.effects.summary` (the average over weeks),
:mod:`~trialeval.effects.hours` (hours distribution), :mod:`~trialeval.effects.results` (result values)
and :mod:`~trialeval.effects.api` (:func:`effects`, which ties them together);
:mod:`~trialeval.effects.stream` (:func:`effects_from_file`) reads a panel file in batches of whole
persons. The formulas are in
``docs/methods.md``, section *Effects*.
"""

from trialeval.effects._inputs import DESIGN_COLUMNS, KNOWN_OUTCOMES
from trialeval.effects.api import effects
from trialeval.effects.estimators import (
    DEFAULT_ESTIMATOR,
    ESTIMATORS,
    DesignInputs,
    Estimator,
    WeekData,
    WeekEstimate,
    estimator_for,
)
from trialeval.effects.hours import HOURS_EDGES, hours_distribution
from trialeval.effects.inference import Multiplier, ProgressCallback
from trialeval.effects.results import TABLE_COLUMNS, EffectsResult, HoursDistributionResult
from trialeval.effects.stream import effects_from_file

__all__ = [
    "DEFAULT_ESTIMATOR",
    "DESIGN_COLUMNS",
    "ESTIMATORS",
    "HOURS_EDGES",
    "KNOWN_OUTCOMES",
    "TABLE_COLUMNS",
    "DesignInputs",
    "EffectsResult",
    "Estimator",
    "HoursDistributionResult",
    "Multiplier",
    "ProgressCallback",
    "WeekData",
    "WeekEstimate",
    "effects",
    "effects_from_file",
    "estimator_for",
    "hours_distribution",
]
