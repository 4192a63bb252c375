"""trialeval: evaluate employment programmes from a register extract to effect curves and costs.

The public functions are verbs (``draw_wave``, ``check_balance``, ``build_panel``, ``estimate_effects``,
``estimate_costs``, ``minimum_detectable_effect``); the modules keep the names of the steps
(``trialeval.draw``, ``trialeval.balance``, ``trialeval.panel``, ``trialeval.effects``, ``trialeval.costs``,
``trialeval.power``), so ``import trialeval.effects`` always gives the module.
"""

from trialeval._version import __version__
from trialeval.balance import BalanceResult
from trialeval.balance import balance as check_balance
from trialeval.config import AnalysisSettings, EligibilityRule, TrialConfig, load_config
from trialeval.costs import CostsResult, Scenarios, load_scenarios
from trialeval.costs import costs as estimate_costs
from trialeval.demo import DemoResult, run_demo
from trialeval.design import Design
from trialeval.draw import DrawResult, VerifyResult, run_draw, run_exclude
from trialeval.draw import draw as draw_wave
from trialeval.draw import exclude as exclude_person
from trialeval.draw import verify as verify_ledger
from trialeval.effects import EffectsResult, HoursDistributionResult, hours_distribution
from trialeval.effects import effects as estimate_effects
from trialeval.exceptions import (
    ConfigError,
    DesignError,
    EngineError,
    EstimationError,
    InputDataError,
    LedgerMismatchError,
    TrialevalError,
    TrialevalWarning,
)
from trialeval.panel import PanelResult, build_panel, read_spells, write_panel
from trialeval.partition import PartitionResult, partition_extract
from trialeval.power import PowerResult
from trialeval.power import power as minimum_detectable_effect
from trialeval.timeaxis import TimeAxis

__all__ = [
    "__version__",
    "AnalysisSettings", "BalanceResult", "CostsResult", "DemoResult", "Design", "DrawResult", "EffectsResult",
    "EligibilityRule", "HoursDistributionResult", "PanelResult", "PartitionResult", "PowerResult", "Scenarios", "TimeAxis",
    "TrialConfig", "VerifyResult",
    "build_panel", "check_balance", "draw_wave", "estimate_costs", "estimate_effects", "exclude_person",
    "hours_distribution", "load_config", "load_scenarios", "minimum_detectable_effect", "partition_extract", "read_spells",
    "run_demo", "run_draw", "run_exclude", "verify_ledger", "write_panel",
    "ConfigError", "DesignError", "EngineError", "EstimationError", "InputDataError", "LedgerMismatchError", "TrialevalError",
    "TrialevalWarning",
]
