"""trialeval: evaluate randomised trials of employment programmes."""

from trialeval._version import __version__

from trialeval.balance import BalanceResult, balance  # noqa: E402
from trialeval.config import EligibilityRule, TrialConfig, load_config  # noqa: E402
from trialeval.demo import DemoResult, run_demo  # noqa: E402
from trialeval.draw import DrawResult, VerifyResult, draw, exclude, run_draw, run_exclude, verify  # noqa: E402
from trialeval.power import PowerResult, power  # noqa: E402
from trialeval.costs import CostsResult, Scenarios, costs, load_scenarios  # noqa: E402
from trialeval.effects import EffectsResult, HoursDistributionResult, effects, hours_distribution  # noqa: E402
from trialeval.panel import PanelResult, build_panel, read_spells, write_panel  # noqa: E402
from trialeval.exceptions import (  # noqa: E402
    ConfigError,
    DesignError,
    EstimationError,
    InputDataError,
    LedgerMismatchError,
    TrialevalError,
    TrialevalWarning,
)

__all__ = [
    "BalanceResult", "balance",
    "CostsResult", "Scenarios", "costs", "load_scenarios",
    "EffectsResult", "HoursDistributionResult", "effects", "hours_distribution",
    "PanelResult", "build_panel", "read_spells", "write_panel",
    "DemoResult", "run_demo", "DrawResult", "VerifyResult", "draw", "exclude", "run_draw", "run_exclude",
    "verify", "PowerResult", "power",
    "ConfigError", "DesignError", "EligibilityRule", "EstimationError", "InputDataError",
    "LedgerMismatchError", "TrialConfig", "TrialevalError", "TrialevalWarning", "load_config",
]
