"""The report writes every number the way its reader's language does."""

from __future__ import annotations

import numpy as np
import pandas as pd

from trialeval.report import _table


def _cells(html: str) -> list[str]:
    return [c.split("</td>")[0] for c in html.split("<td>")[1:]]


def test_effects_rows_in_danish_and_english():
    effects = pd.DataFrame({"outcome": ["has_ordinary_hours", "ordinary_hours"], "week": [35, 35],
                            "n_treatment": [2371, 2371], "mean_treatment": [0.1234, 3.254],
                            "effect": [0.0491, -1.5], "p_value": [0.00002, 0.0456]})
    assert _cells(_table(effects, "da")) == ["has_ordinary_hours", "35", "2.371", "12,3 %", "4,9 pct.-point",
                                             "&lt; 0,001", "ordinary_hours", "35", "2.371", "3,25", "−1,50", "0,046"]
    assert _cells(_table(effects, "en")) == ["has_ordinary_hours", "35", "2,371", "12.3%", "4.9 pp",
                                             "&lt; 0.001", "ordinary_hours", "35", "2,371", "3.25", "−1.50", "0.046"]


def test_costs_in_whole_kroner_and_shares_in_percent():
    costs = pd.DataFrame({"scenario": ["base"], "net_result": [-375970.4], "costs": [1504.0],
                          "prob_net_positive": [0.12], "break_even_scale": [np.nan]})
    assert _cells(_table(costs, "da")) == ["base", "−375.970 kr.", "1.504 kr.", "12,0 %", "·"]
    assert _cells(_table(costs, "en")) == ["base", "DKK −375,970", "DKK 1,504", "12.0%", "·"]


def test_other_numbers_keep_their_magnitude_rule_with_the_languages_separators():
    balance = pd.DataFrame({"covariate": ["age"], "mean_treatment": [41.236], "smd": [-0.0004], "n": [4704.0]})
    assert _cells(_table(balance, "da")) == ["age", "41,236", "−0,0004", "4.704"]


def test_figure_tick_labels_follow_the_language_and_shares_start_at_zero():
    from trialeval.effects import effects
    from trialeval.plots import cost_bars

    rng = np.random.default_rng(2)
    panel = pd.DataFrame({"person_id": np.repeat([f"p{i}" for i in range(200)], 6),
                          "arm": np.repeat(np.tile(["treatment", "control"], 100), 6),
                          "week": np.tile(np.arange(1, 7), 200)})
    panel["in_internship"] = (rng.random(len(panel)) < 0.3 + 0.1 * (panel["arm"] == "treatment")).astype(int)
    fig = effects(panel, ["in_internship"]).plot("in_internship", lang="da")
    fig.canvas.draw()
    left, right = fig.axes[0], fig.axes[1]
    assert left.get_ylim()[0] == 0
    labels = [t.get_text() for t in right.get_yticklabels()]
    assert not any("." in x for x in labels) and right.yaxis.get_major_formatter()(2.5, 0) == "2,5"
    assert any(x.startswith("−") for x in labels)          # the minus sign, not a hyphen
    bars = cost_bars(pd.DataFrame({"scenario": ["a", "a"], "payer": ["municipality", "state"],
                                   "net_result": [-25000.0, 12500.0]}), lang="da")
    bars.canvas.draw()
    assert "−25.000" in [t.get_text() for t in bars.axes[0].get_yticklabels()]


def test_workbook_sheets_have_a_styled_frozen_header_and_number_formats(tmp_path):
    import openpyxl

    from trialeval.report import write_workbook

    pd.DataFrame({"outcome": ["has_ordinary_hours", "ordinary_hours"], "week": [35, 35],
                  "n_treatment": [2371, 2371], "mean_treatment": [0.1234, 3.254], "effect": [0.049, -1.5],
                  "p_value": [0.00002, 0.0456]}).to_csv(tmp_path / "effects.csv", index=False)
    pd.DataFrame({"scenario": ["base"], "payer": ["total"], "net_result": [-375970.4]}).to_csv(
        tmp_path / "costs.csv", index=False)
    book = openpyxl.load_workbook(write_workbook(tmp_path, min_cell=0))
    effects, costs = book["effects"], book["costs"]
    assert effects.freeze_panes == "A2" and effects["A1"].font.bold
    assert [effects.cell(2, j).number_format for j in range(3, 7)] == ["#,##0", "0.0%", "0.0%", "0.000"]
    assert [effects.cell(3, j).number_format for j in (4, 5)] == ["#,##0.00", "#,##0.00"]     # hours
    assert costs["C2"].number_format == '#,##0" kr."' and costs["C2"].value == -375970.4   # the value stays exact
    assert effects.column_dimensions["A"].width >= len("has_ordinary_hours")
