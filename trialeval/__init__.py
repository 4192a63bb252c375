"""trialeval: evaluate employment programmes from a register extract to effect curves and costs.

The public functions are verbs (``draw_wave``, ``check_balance``, ``build_panel``, ``estimate_effects``,
``estimate_costs``, ``minimum_detectable_effect``, ``write_report``); the modules keep the names of the
steps (``trialeval.draw``, ``trialeval.balance``, ``trialeval.panel``, ``trialeval.effects``,
``trialeval.costs``, ``trialeval.power``, ``trialeval.report``), so ``import trialeval.effects`` always gives
the module. ``trialeval.report`` can also be called: ``trialeval.report("trial.toml", "output", lang="da")``
is ``write_report``, the ``trialeval report`` command.
"""

import importlib
import importlib.util
import sys
import types
from typing import TYPE_CHECKING, Any

from trialeval._version import __version__
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

#: Public names and where they live: imported on first use, so ``import trialeval`` (and the command
#: line's start-up) does not load pandas' plotting, matplotlib and scipy until a step needs them.
_LAZY = {
    "BalanceResult": ("trialeval.balance", "BalanceResult"), "check_balance": ("trialeval.balance", "balance"),
    "AnalysisSettings": ("trialeval.config", "AnalysisSettings"),
    "EligibilityRule": ("trialeval.config", "EligibilityRule"), "TrialConfig": ("trialeval.config", "TrialConfig"),
    "load_config": ("trialeval.config", "load_config"),
    "CostsResult": ("trialeval.costs", "CostsResult"), "Scenarios": ("trialeval.costs", "Scenarios"),
    "load_scenarios": ("trialeval.costs", "load_scenarios"), "estimate_costs": ("trialeval.costs", "costs"),
    "DemoResult": ("trialeval.demo", "DemoResult"), "run_demo": ("trialeval.demo", "run_demo"),
    "Design": ("trialeval.design", "Design"),
    "DrawResult": ("trialeval.draw", "DrawResult"), "VerifyResult": ("trialeval.draw", "VerifyResult"),
    "run_draw": ("trialeval.draw", "run_draw"), "run_exclude": ("trialeval.draw", "run_exclude"),
    "draw_wave": ("trialeval.draw", "draw"), "exclude_person": ("trialeval.draw", "exclude"),
    "verify_ledger": ("trialeval.draw", "verify"),
    "EffectsResult": ("trialeval.effects", "EffectsResult"),
    "HoursDistributionResult": ("trialeval.effects", "HoursDistributionResult"),
    "hours_distribution": ("trialeval.effects", "hours_distribution"),
    "estimate_effects": ("trialeval.effects", "effects"),
    "comparison_effects": ("trialeval.effects.compare", "comparison_effects"),
    "PanelResult": ("trialeval.panel", "PanelResult"), "build_panel": ("trialeval.panel", "build_panel"),
    "read_spells": ("trialeval.panel", "read_spells"), "write_panel": ("trialeval.panel", "write_panel"),
    "PowerResult": ("trialeval.power", "PowerResult"), "minimum_detectable_effect": ("trialeval.power", "power"),
    "TimeAxis": ("trialeval.timeaxis", "TimeAxis"),
    "PartitionResult": ("trialeval.partition", "PartitionResult"),
    "partition_extract": ("trialeval.partition", "partition_extract"),
    "write_report": ("trialeval._report_api", "report"),
    "PopulationBalance": ("trialeval.balance_population", "PopulationBalance"),
    "population_balance": ("trialeval.balance_population", "population_balance"),
    "MatchVerifyResult": ("trialeval.match_verify", "MatchVerifyResult"),
    "verify_match": ("trialeval.match_verify", "verify_match"),
    "TargetResult": ("trialeval.target", "TargetResult"), "TargetSettings": ("trialeval.target", "TargetSettings"),
    "target_population": ("trialeval.target", "target_population"),
    "CurvesResult": ("trialeval.curves", "CurvesResult"), "CurveSettings": ("trialeval.curves", "CurveSettings"),
    "group_curves": ("trialeval.curves", "group_curves"),
}


def __getattr__(name: str) -> Any:
    """A public name on first use; a step module (``trialeval.effects``) when asked for by attribute."""
    if name in _LAZY:
        module, attr = _LAZY[name]
        value = getattr(importlib.import_module(module), attr)
        globals()[name] = value
        return value
    if not name.startswith("_") and importlib.util.find_spec(f"trialeval.{name}") is not None:
        return importlib.import_module(f"trialeval.{name}")
    raise AttributeError(f"module 'trialeval' has no attribute {name!r}")


class _ReportModule(types.ModuleType):
    """:mod:`trialeval.report`, which called builds the report: ``trialeval.report(config, out_dir, lang="da")``
    (:func:`trialeval._report_api.report`)."""

    def __call__(self, *args: Any, **options: Any) -> Any:
        from trialeval._report_api import report

        return report(*args, **options)


class _Package(types.ModuleType):
    """The package: its ``report`` attribute, the module, is also the report function."""

    def __setattr__(self, name: str, value: Any) -> None:
        if name == "report" and type(value) is types.ModuleType:
            value.__class__ = _ReportModule
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package


def __dir__() -> list[str]:
    return sorted(set(__all__) | set(globals()))


if TYPE_CHECKING:
    from trialeval.balance import BalanceResult
    from trialeval.balance_population import PopulationBalance, population_balance
    from trialeval.match_verify import MatchVerifyResult, verify_match
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
    from trialeval.effects.compare import comparison_effects
    from trialeval.panel import PanelResult, build_panel, read_spells, write_panel
    from trialeval.partition import PartitionResult, partition_extract
    from trialeval.power import PowerResult
    from trialeval.power import power as minimum_detectable_effect
    from trialeval.timeaxis import TimeAxis
    from trialeval._report_api import report as write_report
    from trialeval.curves import CurveSettings, CurvesResult, group_curves
    from trialeval.target import TargetResult, TargetSettings, target_population


__all__ = [
    "__version__",
    "AnalysisSettings", "BalanceResult", "CostsResult", "DemoResult", "Design", "DrawResult", "EffectsResult",
    "EligibilityRule", "HoursDistributionResult", "PanelResult", "PartitionResult", "PowerResult", "Scenarios", "TimeAxis",
    "TrialConfig", "VerifyResult", "MatchVerifyResult", "PopulationBalance",
    "build_panel", "check_balance", "comparison_effects", "draw_wave", "estimate_costs", "estimate_effects", "exclude_person",
    "hours_distribution", "load_config", "load_scenarios", "minimum_detectable_effect", "partition_extract", "read_spells",
    "run_demo", "run_draw", "run_exclude", "verify_ledger", "write_panel", "write_report", "population_balance",
    "verify_match", "CurveSettings", "CurvesResult", "TargetResult", "TargetSettings", "group_curves",
    "target_population",
    "ConfigError", "DesignError", "EngineError", "EstimationError", "InputDataError", "LedgerMismatchError", "TrialevalError",
    "TrialevalWarning",
]
