"""What a command loads before it starts working: the heavy libraries only where a step needs them."""

import subprocess
import sys

HEAVY = ("scipy", "matplotlib", "statsmodels", "linearmodels", "dask", "rich.progress", "pyarrow.dataset")


def _loaded_after(code: str) -> list[str]:
    probe = f"{code}; import sys; print(' '.join(m for m in {HEAVY!r} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    return out.stdout.split()


def test_the_command_line_loads_no_statistics_or_plotting_library():
    assert _loaded_after("import trialeval.cli._app") == []


def test_the_confidence_intervals_load_scipy_when_they_are_computed():
    code = ("import numpy as np; from trialeval.effects.inference import _t_inference; "
            "lo, hi, p = _t_inference(np.array([1.0]), np.array([0.5]), np.array([10.0]), 0.05); "
            "assert abs(hi[0] - 1 - 0.5 * 2.228138851986274) < 1e-12 and abs(p[0] - 0.07338803477074) < 1e-12")
    assert _loaded_after(code) == ["scipy"]


def test_a_warning_is_one_line_without_the_library_source():
    code = ("import sys, warnings; sys.argv = ['trialeval', '--version']; import trialeval.cli as cli; cli.main(); "
            "from trialeval.exceptions import TrialevalWarning; "
            "warnings.warn('48 block-week cell(s) dropped', TrialevalWarning)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stderr == "warning: 48 block-week cell(s) dropped\n"
    assert out.stdout.startswith("trialeval ")
