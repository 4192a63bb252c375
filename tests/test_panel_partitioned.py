"""The panel of a partitioned dataset equals the panel of the flat files (local engine)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from trialeval import partition_extract
from trialeval.effects import effects
from trialeval.exceptions import InputDataError
from trialeval.panel import build_panel
from trialeval.panel.partitioned import PanelSums, build_partitioned, combine, dataset_parts
from trialeval.partition import part_of

SAMPLE = Path(__file__).resolve().parents[1] / "sample_data"
RTOL = 1e-12


def synthetic(folder: Path, n: int = 3000, seed: int = 3) -> tuple[Path, Path]:
    """gen_spells-like data with text ids, in which only the persons of part 0 (of 4) have benefit spells
    and only those of part 1 have workplaces: parts then differ in the outcomes their spells give."""
    rng = np.random.default_rng(seed)
    ids = np.array([f"P{i:07d}" for i in range(n)])
    visit = np.datetime64("2016-03-01") + rng.integers(0, 280, n).astype("timedelta64[D]")
    ledger = pd.DataFrame({"person_id": ids, "arm": np.where(rng.random(n) < 0.5, "treatment", "control"),
                           "visitation_date": visit.astype(str), "municipality": rng.choice(["A", "B", "C"], n)})
    ledger["followup_end"] = np.where(rng.random(n) < 0.1, "2017-06-30", "")
    k = rng.poisson(3, n)
    owner = np.repeat(np.arange(n), k)
    m = owner.size
    part = part_of(list(ids[owner]), 4)
    kinds = np.array(["internship", "wage_subsidy", "ordinary_hours", "benefit"])
    kind = kinds[rng.choice(4, m, p=[0.35, 0.1, 0.35, 0.2])]
    kind = np.where((kind == "benefit") & (part != 0), "internship", kind)
    start = visit[owner] + rng.integers(-60, 500, m).astype("timedelta64[D]")
    end = start + rng.integers(6, 200, m).astype("timedelta64[D]")
    hours = np.where(kind == "ordinary_hours", rng.integers(2, 38, m) + 0.25 * rng.integers(0, 4, m), np.nan)
    workplace = np.where((part == 1) & (kind != "benefit"), np.char.add("W", rng.integers(0, 40, m).astype(str)),
                         None)
    spells = pd.DataFrame({"person_id": ids[owner], "spell_type": kind, "start_date": start,
                           "end_date": end, "hours_per_week": hours, "workplace_id": workplace})
    stray = spells.iloc[:25].assign(person_id=[f"Q{i}" for i in range(25)], workplace_id=None,
                                    spell_type="internship", hours_per_week=np.nan)   # persons not in the ledger
    spells = pd.concat([spells, stray], ignore_index=True).sample(frac=1.0, random_state=1)
    ledger.to_csv(folder / "ledger.csv", index=False)
    spells.to_parquet(folder / "spells.parquet")
    return folder / "ledger.csv", folder / "spells.parquet"


def assert_same_panel(flat, part):
    assert part.outcomes == flat.outcomes
    assert (part.n_persons, part.n_rows, part.n_spells_used) == (flat.n_persons, flat.n_rows, flat.n_spells_used)
    assert part.n_spells_not_in_ledger == flat.n_spells_not_in_ledger
    assert part.n_persons_not_in_ledger == flat.n_persons_not_in_ledger
    pd.testing.assert_frame_equal(part.number_at_risk, flat.number_at_risk)
    for min_weeks in (None, 30):
        a, b = flat.week_moments(min_weeks=min_weeks), part.week_moments(min_weeks=min_weeks)
        pd.testing.assert_frame_equal(a[["outcome", "arm", "week"]], b[["outcome", "arm", "week"]])
        for col in ("n", "mean", "ss"):
            np.testing.assert_allclose(b[col], a[col], rtol=RTOL, atol=1e-9 if col == "ss" else 0)
    ea, eb = effects(flat).to_frame(), effects(part).to_frame()
    assert list(ea.columns) == list(eb.columns)
    num = ea.select_dtypes("number").columns
    np.testing.assert_allclose(eb[num].to_numpy(float), ea[num].to_numpy(float), rtol=RTOL, atol=1e-13)


@pytest.mark.parametrize("parts", [1, 4, 7])
def test_sample_data_partitioned_equals_flat(tmp_path, parts):
    partition_extract(SAMPLE / "ledger.csv", SAMPLE / "spells.csv", tmp_path / "d", parts=parts)
    flat = build_panel(SAMPLE / "ledger.csv", SAMPLE / "spells.csv", "2018-12-31", weeks=104, keep_panel=False)
    part = build_panel(tmp_path / "d", tmp_path / "d", "2018-12-31", weeks=104)
    assert part.settings["parts"] == parts and not part.kept
    assert_same_panel(flat, part)
    assert part.summary() == flat.summary()


def test_synthetic_parts_with_different_outcomes_add_up(tmp_path):
    ledger, spells = synthetic(tmp_path)
    partition_extract(ledger, spells, tmp_path / "d", parts=4)
    flat = build_panel(ledger, spells, "2018-12-31", weeks=60, pre_weeks=3, min_days=3, keep_panel=False,
                       chunk_persons=500)
    part = build_partitioned(tmp_path / "d" / "ledger", tmp_path / "d" / "spells", "2018-12-31", weeks=60,
                             pre_weeks=3, min_days=3, chunk_persons=500)
    assert {"self_supporting", "reached_13_weeks_same_workplace"} <= set(flat.outcomes)
    assert_same_panel(flat, part)
    # the parts' own outcome sets differ: the reduction fills what a part's spells cannot give
    from trialeval.panel.partitioned import PartOptions, build_part
    options = PartOptions(extraction_date="2018-12-31", weeks=60, pre_weeks=3, min_days=3)
    sums = [build_part(p, options) for p in dataset_parts(tmp_path / "d", tmp_path / "d")]
    assert "self_supporting" in sums[0].flag_outcomes and "self_supporting" not in sums[2].flag_outcomes
    assert "reached_13_weeks_same_workplace" not in sums[0].flag_outcomes
    assert combine(sums).outcomes == flat.outcomes


def test_many_parts_some_empty_and_streamed_panel_file(tmp_path):
    ledger = pd.read_csv(SAMPLE / "ledger.csv").iloc[:40].drop(columns=["wave"])
    ledger.to_csv(tmp_path / "ledger.csv", index=False)
    spells = pd.read_csv(SAMPLE / "spells.csv")
    spells = spells[spells["person_id"].isin(ledger["person_id"].iloc[:30]) | ~spells["person_id"].isin(
        pd.read_csv(SAMPLE / "ledger.csv")["person_id"].iloc[:2000])].iloc[:3000]
    spells.to_csv(tmp_path / "spells.csv", index=False)
    partition_extract(tmp_path / "ledger.csv", tmp_path / "spells.csv", tmp_path / "d", parts=64)
    sizes = [len(pd.read_parquet(p.ledger)) for p in dataset_parts(tmp_path / "d", tmp_path / "d")]
    assert 0 in sizes                          # parts with spells but no ledger person, and empty parts
    kwargs = dict(weeks=20, min_matched_share=0.5)
    for suffix in (".parquet", ".csv"):
        flat = build_panel(tmp_path / "ledger.csv", tmp_path / "spells.csv", "2017-12-31",
                           out=tmp_path / f"flat{suffix}", **kwargs)
        part = build_panel(tmp_path / "d", tmp_path / "d", "2017-12-31", out=tmp_path / f"joined{suffix}", **kwargs)
        assert_same_panel(flat, part)
        read = pd.read_parquet if suffix == ".parquet" else pd.read_csv
        a, b = read(tmp_path / f"flat{suffix}"), read(tmp_path / f"joined{suffix}")
        assert list(a.columns) == list(b.columns)
        key = ["person_id", "week"]
        pd.testing.assert_frame_equal(a.sort_values(key).reset_index(drop=True),
                                      b.sort_values(key).reset_index(drop=True), check_categorical=False)
        assert (tmp_path / "joined_at_risk.csv").read_text() == (tmp_path / "flat_at_risk.csv").read_text()
        with pytest.raises(InputDataError, match="written to"):
            part.to_frame()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]    # no temporary folder left


def test_drop_bad_rows_and_matched_share(tmp_path):
    spells = pd.read_csv(SAMPLE / "spells.csv", dtype=str)
    spells.loc[[5, 700, 9000], "end_date"] = "2010-01-01"
    spells.to_csv(tmp_path / "spells.csv", index=False)
    partition_extract(SAMPLE / "ledger.csv", tmp_path / "spells.csv", tmp_path / "d", parts=3, drop_bad_rows=True)
    with pytest.raises(InputDataError, match="end_date' is before start_date"):
        build_panel(tmp_path / "d", tmp_path / "d", "2018-12-31", weeks=20)
    flat = build_panel(SAMPLE / "ledger.csv", tmp_path / "spells.csv", "2018-12-31", weeks=20, drop_bad_rows=True,
                       keep_panel=False)
    part = build_panel(tmp_path / "d", tmp_path / "d", "2018-12-31", weeks=20, drop_bad_rows=True)
    assert_same_panel(flat, part)
    assert len(part.rejects) == len(flat.rejects) == 3
    assert sorted(part.rejects["person_id"]) == sorted(flat.rejects["person_id"])
    # the matched-share rule holds over the whole dataset
    few = pd.read_csv(SAMPLE / "spells.csv").iloc[:2000]
    few.to_csv(tmp_path / "few.csv", index=False)
    partition_extract(SAMPLE / "ledger.csv", tmp_path / "few.csv", tmp_path / "f", parts=3)
    with pytest.raises(InputDataError, match=r"only \d+ of the 4704 persons .* have any spell"):
        build_panel(tmp_path / "f", tmp_path / "f", "2018-12-31", weeks=20)
    assert build_panel(tmp_path / "f", tmp_path / "f", "2018-12-31", weeks=20, min_matched_share=0).n_persons == 4704


def test_dataset_layout_errors(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputDataError, match="without parts"):
        build_panel(tmp_path / "empty", tmp_path / "empty", "2018-12-31")
    partition_extract(SAMPLE / "ledger.csv", SAMPLE / "spells.csv", tmp_path / "d", parts=2)
    (tmp_path / "d" / "spells" / "part=001" / "more.parquet").write_bytes(
        (tmp_path / "d" / "spells" / "part=001" / "part.parquet").read_bytes())
    with pytest.raises(InputDataError, match="holds 2 Parquet files"):
        build_panel(tmp_path / "d", tmp_path / "d", "2018-12-31")


def test_panel_sums_add_is_the_one_pass_sum():
    a, b = PanelSums.empty(1, 3), PanelSums.empty(1, 3)
    with pytest.raises(InputDataError):
        combine([])
    c = combine([a, b])
    assert c.n.shape == a.n.shape and c.outcomes[:3] == ("in_internship", "in_wage_subsidy", "ordinary_hours")
    with pytest.raises(InputDataError, match="different windows"):
        _ = a + PanelSums.empty(1, 4)
