"""The demo's tables, recorded as a golden set: a reshaping of the code must not move a number.

``tests/golden/`` holds every aggregate table ``trialeval demo`` writes for the sample trial and the values of
its workbook, recorded with ``trialeval demo --dir DIR`` before the code was reorganised. Numbers must agree
to 1e-12 (relative), text exactly.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import pytest

from trialeval.demo import run_demo

GOLDEN = Path(__file__).resolve().parent / "golden"
TABLES = sorted(p.name for p in GOLDEN.glob("*.csv"))


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory) -> Path:
    """The demo run the way a user runs it after ``pip install``: from an unrelated folder, on the sample
    trial that ships with the package (no ``data_dir``)."""
    elsewhere = tmp_path_factory.mktemp("elsewhere")
    here = os.getcwd()
    os.chdir(elsewhere)
    try:
        run_demo("demo")
    finally:
        os.chdir(here)
    return elsewhere / "demo"


def assert_same_table(new: pd.DataFrame, old: pd.DataFrame, name: str) -> None:
    assert list(new.columns) == list(old.columns), name
    assert len(new) == len(old), name
    for col in old.columns:
        a, b = new[col], old[col]
        if pd.api.types.is_numeric_dtype(b) and pd.api.types.is_numeric_dtype(a):
            np.testing.assert_allclose(a.to_numpy(float), b.to_numpy(float), rtol=1e-12, atol=1e-12,
                                       equal_nan=True, err_msg=f"{name}: {col}")
        else:
            assert a.astype(str).tolist() == b.astype(str).tolist(), f"{name}: {col}"


def test_golden_set_is_complete():
    assert TABLES == ["balance.csv", "balance_omnibus.csv", "balance_representativeness.csv", "costs.csv",
                      "effects.csv", "effects_band.csv", "effects_hours.csv", "effects_summary.csv",
                      "panel_at_risk.csv"]


@pytest.mark.parametrize("name", TABLES)
def test_demo_tables_equal_the_golden_set(demo_dir, name):
    assert_same_table(pd.read_csv(demo_dir / name), pd.read_csv(GOLDEN / name), name)


def _close(a: object, b: object) -> bool:
    if isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool):
        return math.isclose(float(a), float(b), rel_tol=1e-12, abs_tol=1e-12) or (
            math.isnan(float(a)) and math.isnan(float(b)))
    return str(a) == str(b)


def test_demo_workbook_values_equal_the_golden_set(demo_dir):
    old = json.loads((GOLDEN / "tables_xlsx.json").read_text())
    workbook = openpyxl.load_workbook(demo_dir / "tables.xlsx", data_only=True)
    new = {ws.title: [list(row) for row in ws.iter_rows(values_only=True)] for ws in workbook.worksheets}
    assert list(new) == list(old)
    for sheet, rows in old.items():
        assert len(new[sheet]) == len(rows), sheet
        for r, (new_row, old_row) in enumerate(zip(new[sheet], rows)):
            assert len(new_row) == len(old_row), (sheet, r)
            bad = [(c, x, y) for c, (x, y) in enumerate(zip(new_row, old_row))
                   if not _close(x, json.loads(json.dumps(y)) if y is not None else None)
                   and not (x is None and y is None)]
            assert bad == [], (sheet, r, bad)
