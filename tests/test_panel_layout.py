"""The panel package's layout: one module a step, short functions, one result made complete, old names kept."""

from __future__ import annotations

import ast
import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import trialeval.panel as panel_module
from trialeval.panel import PanelResult, build_panel, rules, store

PACKAGE = Path(panel_module.__file__).parent

#: Every module-level name of the panel before it became a package: each still imports from it.
OLD_NAMES = (
    "SPELL_TYPES", "_INTERNSHIP", "_WAGE_SUBSIDY", "_HOURS", "_BENEFIT", "CHAIN_WEEKS", "MAX_GAP_WEEKS",
    "MAX_HOURS", "MIN_MATCHED_SHARE", "CHUNK_CELLS", "_KEPT_BYTES_PER_ROW", "ROW_GROUP_ROWS",
    "_SPELL_TEXT_COLUMNS", "ProgressCallback", "read_spells", "_ids_as_text", "_arrow_text", "_index_in",
    "_parse_days", "_as_day", "_Spells", "_check_spells", "SPELL_BATCH_ROWS", "_spell_batches",
    "_SPELL_FILE_COLUMNS", "_PLAIN_TEXT", "_DAY_UNITS", "_plain_text", "_arrow_days", "_fast_check",
    "_release_memory", "_find_malloc_trim", "_MALLOC_TRIM", "_fixed_width", "_IdLookup", "_SpellBuffer",
    "_read_compact_spells", "_REJECT_COLUMNS", "_rejects_frame", "_expand_weeks", "_sum_cells",
    "_merge_intervals", "_coverage", "_first_reach", "_Chunk", "_WeekSums", "PanelResult", "build_panel",
    "_check_matched", "_sample", "_mismatch_cause", "_id_shape", "_combined", "_day_numbers",
    "_first_seen_codes", "_ledger_frame_table", "_late_rejects", "_Context", "_build_chunk",
    "_same_workplace_first", "_check_kept_memory", "_check_int", "_spell_types", "_iso", "side_paths",
    "write_panel", "PARQUET_OPTIONS", "_panel_writer", "_write_side_files", "_split_rows",
)


def small_panel_inputs() -> tuple[pd.DataFrame, pd.DataFrame]:
    ledger = pd.DataFrame({"person_id": ["a", "b", "c"], "arm": ["treatment", "control", "treatment"],
                           "visitation_date": ["2016-03-01"] * 3})
    spells = pd.DataFrame({
        "person_id": ["a", "b", "c"], "spell_type": ["internship", "ordinary_hours", "benefit"],
        "start_date": ["2016-03-01", "2016-03-05", "2016-03-01"],
        "end_date": ["2016-07-01", "2016-03-20", "2016-03-10"], "hours_per_week": [None, 14.0, None]})
    return ledger, spells


def test_one_module_a_step_none_long():
    modules = {p.stem: len(p.read_text(encoding="utf-8").splitlines()) for p in PACKAGE.glob("*.py")}
    assert {"spells", "intervals", "rules", "kernel", "store", "results", "build"} <= set(modules)
    assert max(modules.values()) <= 700, modules


def test_no_function_over_100_lines_of_code():
    long = []
    for path in PACKAGE.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef):
                first = node.body[0]
                has_doc = isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant)
                start = (first.end_lineno + 1) if has_doc and len(node.body) > 1 else first.lineno
                if node.end_lineno - start + 1 > 100:
                    long.append(f"{path.name}:{node.name}")
    assert long == []


@pytest.mark.parametrize("name", OLD_NAMES)
def test_old_names_still_import_from_the_package(name):
    assert getattr(panel_module, name) is not None


def test_result_is_made_once_and_complete(monkeypatch, tmp_path):
    made = []
    real_init = PanelResult.__init__

    def counting_init(self, *args, **kwargs):
        made.append(kwargs)
        real_init(self, *args, **kwargs)

    monkeypatch.setattr(PanelResult, "__init__", counting_init)
    ledger, spells = small_panel_inputs()
    kept = build_panel(ledger, spells, "2016-06-30", weeks=10, chunk_persons=2)
    streamed = build_panel(ledger, spells, "2016-06-30", weeks=10, chunk_persons=2, out=tmp_path / "p.parquet")
    assert len(made) == 2                          # one construction per build: no half-built result
    assert len(made[0]["_chunks"]) == 2 and made[1]["_chunks"] == ()
    assert made[0]["_sums"] is kept._sums and streamed._sums is not None
    with pytest.raises(dataclasses.FrozenInstanceError):
        kept._chunks = ()                          # type: ignore[misc]
    np.testing.assert_array_equal(streamed.means().to_numpy(), kept.means().to_numpy())


def test_a_name_set_on_the_package_reaches_the_module_that_reads_it(monkeypatch):
    before = store.ROW_GROUP_ROWS
    with monkeypatch.context() as m:
        m.setattr(panel_module, "ROW_GROUP_ROWS", 7)
        assert store.ROW_GROUP_ROWS == 7 and panel_module.ROW_GROUP_ROWS == 7
    assert store.ROW_GROUP_ROWS == before == panel_module.ROW_GROUP_ROWS


def test_an_outcome_rule_is_one_registered_function(monkeypatch):
    ledger, spells = small_panel_inputs()
    ref = build_panel(ledger, spells, "2016-06-30", weeks=10).to_frame()
    assert ref.loc[ref["person_id"] == "a", "reached_13_weeks"].sum() == 0      # 10 weeks: never reached
    assert set(rules._RULES) >= {"in_internship", "company_directed", "reached_13_weeks", "self_supporting"}

    def every_week(s, done):
        return np.ones((s.n_persons, s.n_weeks), dtype=bool)

    monkeypatch.setitem(rules._RULES, "reached_13_weeks", every_week)
    got = build_panel(ledger, spells, "2016-06-30", weeks=10).to_frame()
    assert got["reached_13_weeks"].tolist() == [1] * len(got)
    pd.testing.assert_frame_equal(got.drop(columns="reached_13_weeks"), ref.drop(columns="reached_13_weeks"))
