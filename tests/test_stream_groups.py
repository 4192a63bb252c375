"""A streamed panel file with the design's own group labels gives the numbers of treatment/control."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pandas.testing as pdt
import pytest

from trialeval.design import Design
from trialeval.effects.stream import effects_from_file
from trialeval.exceptions import EstimationError, InputDataError


def _panel() -> pd.DataFrame:
    rng = np.random.default_rng(4)
    panel = pd.DataFrame({"person_id": np.repeat([f"p{i:03d}" for i in range(80)], 4),
                          "arm": np.repeat(np.tile(["treatment", "control"], 40), 4),
                          "week": np.tile([1, 2, 3, 4], 80)})
    panel["y"] = rng.normal(size=len(panel)) + (panel["arm"] == "treatment") * 0.5
    return panel


def test_custom_labels_stream_to_the_same_numbers(tmp_path):
    plain = _panel()
    plain.to_parquet(tmp_path / "plain.parquet", row_group_size=37)
    labelled = plain.assign(arm=plain["arm"].map({"treatment": "programme", "control": "comparison"}))
    labelled.to_parquet(tmp_path / "labelled.parquet", row_group_size=37)
    design = Design(kind="comparison", groups=("programme", "comparison"), reference="comparison")
    a = effects_from_file(tmp_path / "plain.parquet", "y", summary_weeks=3)
    b = effects_from_file(tmp_path / "labelled.parquet", "y", summary_weeks=3, design=design)
    pdt.assert_frame_equal(a.to_frame(), b.to_frame())
    assert b.groups == ("programme", "comparison")
    with pytest.raises(InputDataError, match="must be 'treatment' or 'control'"):
        effects_from_file(tmp_path / "labelled.parquet", "y")


def test_a_weight_column_is_checked_as_in_memory(tmp_path):
    panel = _panel().assign(weight=2.0)
    panel.to_parquet(tmp_path / "weighted.parquet")
    with pytest.raises(EstimationError, match="weighted estimation is not available yet"):
        effects_from_file(tmp_path / "weighted.parquet", "y")
