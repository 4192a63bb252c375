"""The public API: verbs for functions, modules never shadowed, one version."""

from __future__ import annotations

import importlib
import pkgutil
import types

import trialeval


def test_no_public_name_equals_a_module():
    modules = {m.name for m in pkgutil.iter_modules(trialeval.__path__)}
    assert {"draw", "balance", "panel", "effects", "costs", "power", "report"} <= modules
    assert sorted(set(trialeval.__all__) & modules) == []
    for name in modules:
        if not name.startswith("_"):
            assert isinstance(importlib.import_module(f"trialeval.{name}"), types.ModuleType)
            assert isinstance(getattr(trialeval, name, importlib.import_module(f"trialeval.{name}")),
                              types.ModuleType), name


def test_every_public_name_exists_and_the_verbs_are_the_steps():
    assert all(hasattr(trialeval, name) for name in trialeval.__all__)
    from trialeval.balance import balance
    from trialeval.costs import costs
    from trialeval.draw import draw
    from trialeval.effects import effects
    from trialeval.power import power

    assert trialeval.draw_wave is draw and trialeval.check_balance is balance
    assert trialeval.estimate_effects is effects and trialeval.estimate_costs is costs
    assert trialeval.minimum_detectable_effect is power


def test_the_version_has_one_home():
    from trialeval._version import __version__

    assert trialeval.__version__ == __version__
    assert __version__.count(".") == 2
