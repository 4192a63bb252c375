"""Every result with a summary has a compact notebook view: its summary (and its table) as HTML."""

from __future__ import annotations

import ast
import html
from pathlib import Path

import numpy as np
import pandas as pd

from trialeval.balance_weighted import balance_before_after
from trialeval.pipeline import convert

ROOT = Path(__file__).resolve().parents[1] / "trialeval"


def test_every_class_with_a_summary_has_a_notebook_view() -> None:
    missing = []
    for path in sorted(ROOT.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ClassDef):
                methods = {n.name for n in node.body if isinstance(n, ast.FunctionDef)}
                if "summary" in methods and "_repr_html_" not in methods and node.name != "Step":
                    missing.append(f"{path.name}:{node.name}")
    assert missing == []


def test_the_view_shows_the_summary_and_the_table(sample_dir: Path, tmp_path: Path) -> None:
    before = pd.DataFrame({"age": [30.0, 40, 50, 20, 25, 60, 35]})
    t = np.array([1, 1, 1, 0, 0, 0, 0], dtype=bool)
    weighted = balance_before_after(before, before.iloc[[0, 1, 2, 4, 5, 6]], ["age"], programme=t,
                                    programme_after=t[[0, 1, 2, 4, 5, 6]])
    view = weighted._repr_html_()
    assert html.escape(weighted.summary()) in view and "smd_before" in view and "<table" in view
    step = convert("eindkomst", sample_dir / "eindkomst.csv", tmp_path / "e.parquet")
    view = step.result._repr_html_()
    assert html.escape(step.result.summary()) in view and view.startswith("<pre>")
