"""effects_from_file streams the blocked and clustered designs: equal to effects() on the file read whole."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from trialeval import build_panel
from trialeval.effects import effects, effects_from_file
from trialeval.effects.stream import streamed
from trialeval.exceptions import InputDataError
from trialeval.io import read_table

from stream_checks import SAMPLE, _same, _synthetic_rows


def _check(path: Path, workers_tried: tuple[int, ...] = (1, 2), **kw: object) -> None:
    """effects_from_file(path) streams and equals effects(read_table(path)) in every table of the result."""
    assert streamed(path, kw)
    with warnings.catch_warnings(record=True) as whole_warnings:
        warnings.simplefilter("always")
        whole = effects(read_table(path), source=str(path), **kw)  # type: ignore[arg-type]
    for workers in workers_tried:
        with warnings.catch_warnings(record=True) as part_warnings:
            warnings.simplefilter("always")
            part = effects_from_file(path, workers=workers, **kw)  # type: ignore[arg-type]
        _same(*_perfect_fits(whole.table, part.table))
        _same(whole.summary_table, part.summary_table)
        _same(whole.bands, part.bands)
        _same(whole.nonzero, part.nonzero)
        _same(whole.dropped_blocks, part.dropped_blocks)
        _same(None if whole.hours is None else whole.hours.table, None if part.hours is None else part.hours.table)
        assert whole.design == part.design
        assert whole.settings == part.settings
        assert whole.indicator_outcomes == part.indicator_outcomes
        assert _messages(whole_warnings) == _messages(part_warnings)


def _messages(caught: list[warnings.WarningMessage]) -> list[str]:
    """The warnings addressed to the user (numpy's RuntimeWarnings of rounding noise left aside)."""
    return sorted(str(w.message) for w in caught if not issubclass(w.category, RuntimeWarning))


def _perfect_fits(a: pd.DataFrame, b: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Weeks where a regression fits exactly (a constant outcome under Lin's adjustment) have a standard
    error that is rounding noise (1e-16 to 1e-8, or NaN when the noise makes the HC2 sum negative) in
    memory and streamed alike: there both must be noise and the effects equal; the noise-over-noise
    t-statistics (CI, p) are not compared."""
    noise = (a["se"] < 1e-6) | (b["se"] < 1e-6)
    assert (((a["se"] < 1e-6) | a["se"].isna()) & ((b["se"] < 1e-6) | b["se"].isna()))[noise].all()
    cols = [c for c in ("se", "ci_low", "ci_high", "p_value", "band_low", "band_high") if c in a.columns]
    a, b = a.copy(), b.copy()
    a.loc[noise, cols] = b.loc[noise, cols] = 0.0
    return a, b


def _synthetic(seed: int = 0, n: int = 90, weeks: int = 6) -> pd.DataFrame:
    """Adversarial cells: constant cells, missing values, an arm empty in a week, a block with one
    person in an arm, clusters of one person, persons straddling row groups of 7 rows."""
    rng = np.random.default_rng(seed)
    df = _synthetic_rows(rng, n, weeks)
    person = df["person_id"].str[2:].astype(int).to_numpy()
    # blocks: 'a' and 'b' large, 'c' has one treated person, 'd' only controls; integer blocks sort as numbers
    blk = np.where(person % 5 < 2, "a", "b")
    blk = np.where(person == 1, "c", blk)
    blk = np.where(np.isin(person, [3, 5, 7]), "d", blk)
    blk = np.where(person == 0, "c", blk)
    df["blk"] = blk
    df["blk_num"] = np.where(person % 3 == 0, 10, np.where(person % 3 == 1, 2, 1))
    # clusters: one arm each (person parity); cluster sizes 1 to 6; one arm per cluster
    df["clu"] = (person % 2).astype(str) + "-" + (person // 12).astype(str)
    df.loc[person == 88, "clu"] = "0-solo"                                         # a cluster of one person
    # covariates: a number, a category with a level among the treated only, a 0/1 column, one constant in week 5
    df["x"] = (person * 7919 % 13).astype(float) + 0.25 * (person % 3)
    df["cat"] = np.asarray(["north", "south", "east"])[person % 3]
    df.loc[person == 2, "cat"] = "island"                                          # one treated person
    df["female"] = (person * 31 % 7 < 3).astype(np.int64)
    df["z"] = rng.normal(size=len(df)).round(3)
    df.loc[df["week"] == 5, "z"] = 1.5
    return df


def _write(df: pd.DataFrame, folder: Path) -> tuple[Path, Path]:
    pq.write_table(pa.Table.from_pandas(df, preserve_index=False), folder / "p.parquet", row_group_size=7)
    df.to_csv(folder / "p.csv", index=False)
    return folder / "p.parquet", folder / "p.csv"


OUTCOMES = ["flag", "hours", "const", "gap"]


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("options", [
    {"blocks": "blk"}, {"blocks": "blk_num"}, {"blocks": "blk", "min_weeks": 3},
    {"blocks": "blk", "band": True, "rng": 9, "band_draws": 100},
    {"blocks": "blk", "summary_weeks": 2, "hours_week": 2, "weeks": [1, 3, 9]},
    {"cluster": "clu"}, {"cluster": "clu", "min_weeks": 4},
    {"cluster": "clu", "band": True, "rng": 4, "band_draws": 100},
    {"cluster": "clu", "summary_weeks": 3, "alpha": 0.1},
    {"covariates": ["x"]}, {"covariates": ["x", "cat", "female", "z"]},
    # a constant outcome's band under Lin rests on rounding noise (its se is noise): left out of the band case
    {"covariates": ["cat", "z"], "min_weeks": 3, "band": True, "rng": 3, "band_draws": 100,
     "outcomes": ["flag", "hours", "gap"]},
    {"covariates": "female,x", "summary_weeks": 2, "hours_week": 1, "weeks": 4},
])
def test_synthetic_designs_equal_in_memory(tmp_path: Path, seed: int, options: dict[str, object]) -> None:
    parquet, csv = _write(_synthetic(seed), tmp_path)
    options = {"outcomes": OUTCOMES, **options}
    _check(parquet, **options)
    _check(csv, (2,), **options)


def test_dropped_blocks_are_listed(tmp_path: Path) -> None:
    """The dropped table names blocks 'c' (one person per arm) and 'd' (no treated person) by hand."""
    parquet, _ = _write(_synthetic(0), tmp_path)
    with pytest.warns(Warning, match="dropped because an arm had fewer than 2 persons"):
        res = effects_from_file(parquet, outcomes=["flag"], blocks="blk")
    assert res.dropped_blocks is not None
    df = _synthetic(0)
    for (week, block), rows in df.groupby(["week", "blk"]):
        n1, n0 = int((rows["arm"] == "treatment").sum()), int((rows["arm"] == "control").sum())
        listed = res.dropped_blocks[(res.dropped_blocks["week"] == week) & (res.dropped_blocks["block"] == block)]
        assert len(listed) == (1 if min(n1, n0) < 2 else 0)
        if len(listed):
            assert (int(listed["n_treatment"].iloc[0]), int(listed["n_control"].iloc[0])) == (n1, n0)


def test_blocked_effect_by_hand(tmp_path: Path) -> None:
    """Week 1's blocked effect is Σ (N_b/N) τ_b over the blocks with 2 persons in each arm."""
    df = _synthetic(1)
    parquet, _ = _write(df, tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = effects_from_file(parquet, outcomes=["flag"], blocks="blk").table
    w1 = df[df["week"] == 1]
    parts = []
    for _, rows in w1.groupby("blk"):
        t, c = rows.loc[rows["arm"] == "treatment", "flag"], rows.loc[rows["arm"] == "control", "flag"]
        if len(t) >= 2 and len(c) >= 2:
            parts.append((len(rows), t.mean() - c.mean()))
    N = sum(n for n, _ in parts)
    assert res.loc[res["week"] == 1, "effect"].iloc[0] == pytest.approx(sum(n * tau for n, tau in parts) / N,
                                                                        rel=1e-12)


@pytest.mark.parametrize("options", [{"blocks": "block"}, {"cluster": "block"},
                                     {"blocks": "block", "band": True, "rng": 2, "summary_weeks": 13},
                                     {"blocks": "stratum", "min_weeks": 26},
                                     {"covariates": ["municipality"], "band": True, "rng": 1, "weeks": 30}])
def test_demo_panel_designs(tmp_path: Path, options: dict[str, object]) -> None:
    """The sample trial's panel (blocks: a grouping of persons), written whole and in row groups of 997."""
    out = tmp_path / "panel.parquet"
    build_panel(SAMPLE / "ledger.csv", SAMPLE / "spells.csv", "2016-12-31", out=out)
    table = pq.read_table(out)
    person = pd.factorize(table.column("person_id").to_pandas())[0]
    arm = (table.column("arm").to_pandas().astype(str) == "treatment").to_numpy()
    block = np.char.add(np.where(arm, "t", "c"), (person % 7).astype(str))   # one arm per block: clusters too
    if "cluster" not in options:
        block = (person % 5).astype(str)
    pq.write_table(table.append_column("block", pa.array(block)), tmp_path / "p997.parquet", row_group_size=997)
    _check(tmp_path / "p997.parquet", (2,), **options)


def test_cluster_with_both_arms_is_refused(tmp_path: Path) -> None:
    df = _synthetic(2)
    df.loc[df["person_id"] == "id001", "clu"] = "0-0"                    # a control person in a treated cluster
    parquet, csv = _write(df, tmp_path)
    for path in (parquet, csv):
        with pytest.raises(InputDataError, match=r"'arm' must be constant within each cluster.*'0-0'"):
            effects_from_file(path, outcomes=["flag"], cluster="clu")


def test_block_varying_within_a_person_is_named(tmp_path: Path) -> None:
    df = _synthetic(3).reset_index(drop=True)
    first = df.index[df["person_id"] == "id010"]
    df.loc[first[-1], "blk"] = "zz"
    parquet, _ = _write(df, tmp_path)
    with pytest.raises(InputDataError, match=rf"column 'blk' must be constant within each person; it varies in "
                                             rf"1 row \(row {first[-1] + 1}\)"):
        effects_from_file(parquet, outcomes=["flag"], blocks="blk")


def test_empty_block_value_is_named(tmp_path: Path) -> None:
    df = _synthetic(3).reset_index(drop=True)
    df["blk"] = df["blk"].astype(object)
    df.loc[4, "blk"] = None
    parquet, csv = _write(df, tmp_path)
    for path in (parquet, csv):
        with pytest.raises(InputDataError, match=r"column 'blk' is empty in 1 row \(row 5\)"):
            effects_from_file(path, outcomes=["flag"], blocks="blk")


def test_person_identifying_block_is_refused(tmp_path: Path) -> None:
    df = _synthetic(4)
    df["blk"] = "b" + df["person_id"]
    parquet, _ = _write(df, tmp_path)
    with pytest.raises(InputDataError, match="'blk' is unique per person"):
        effects_from_file(parquet, outcomes=["flag"], blocks="blk")
    with pytest.raises(InputDataError, match="'blk' is unique per person"):
        effects(read_table(parquet), outcomes=["flag"], blocks="blk")


def test_missing_covariate_is_named_only_where_a_row_enters(tmp_path: Path) -> None:
    """A covariate may be missing in rows that do not enter (weeks not reported); where a row enters it is an
    error naming the file's rows."""
    df = _synthetic(5).reset_index(drop=True)
    df["x"] = df["x"].where(df["week"] != 6)                         # missing in week 6 only
    parquet, csv = _write(df, tmp_path)
    _check(parquet, outcomes=["flag", "hours"], covariates=["x", "cat"], weeks=5)
    _check(csv, (2,), outcomes=["flag", "hours"], covariates=["x", "cat"], weeks=5)
    rows = np.flatnonzero(df["week"] == 6)
    shown = ", ".join(str(r + 1) for r in rows[:10])
    for path in (parquet, csv):
        with pytest.raises(InputDataError, match=rf"column 'x' is missing \(covariates must be complete\) in "
                                                 rf"{len(rows)} rows \(the first: 10 rows \(rows {shown}\)\)"):
            effects_from_file(path, outcomes=["flag"], covariates=["x"])


def test_person_identifying_covariate_is_refused(tmp_path: Path) -> None:
    df = _synthetic(6)
    df["pnr"] = "x" + df["person_id"]
    parquet, _ = _write(df, tmp_path)
    with pytest.raises(InputDataError, match="covariates \\(--covariates\\): 'pnr' is unique per person"):
        effects_from_file(parquet, outcomes=["flag"], covariates=["pnr"])


# ---- randomisation inference -------------------------------------------------------------------------
def _ri_frame(df: pd.DataFrame, folder: Path, row_group: int) -> Path:
    path = folder / f"ri{row_group}.parquet"
    pq.write_table(pa.Table.from_pandas(df, preserve_index=False), path, row_group_size=row_group)
    return path


@pytest.mark.parametrize("options", [{}, {"strata": True}, {"blocks": "blk"}, {"covariates": ["x"], "min_weeks": 3}])
def test_ri_is_the_same_whatever_the_batches_and_workers(tmp_path: Path, options: dict[str, object]) -> None:
    """The draws depend on the seed and each person's place in the file only: row groups of 7, 50 and the
    whole file, a CSV, one or two workers give the same p-values, and the in-memory path too."""
    df = _synthetic(11, n=150)
    if options.pop("strata", False):
        df["stratum"] = np.where(df["person_id"].str[2:].astype(int) % 3 == 0, "s1", "s2")
    kw = {"outcomes": ["flag", "hours", "gap"], "ri": 200, "rng": 8, **options}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        results = [effects_from_file(_ri_frame(df, tmp_path, g), workers=w, **kw)  # type: ignore[arg-type]
                   for g in (7, 50, 10**6) for w in (1, 2)]
        df.to_csv(tmp_path / "p.csv", index=False)
        results.append(effects_from_file(tmp_path / "p.csv", **kw))  # type: ignore[arg-type]
        whole = effects(df, **kw)  # type: ignore[arg-type]
    for res in results:
        np.testing.assert_array_equal(res.table["p_value_ri"].to_numpy(), results[0].table["p_value_ri"].to_numpy())
        np.testing.assert_allclose(res.table["p_value_ri"].to_numpy(), whole.table["p_value_ri"].to_numpy(),
                                   rtol=0, atol=1e-12)       # the in-memory path draws the same
        _same(*_perfect_fits(whole.table.drop(columns="p_value_ri"), res.table.drop(columns="p_value_ri")))
        assert res.design == whole.design and res.settings == whole.settings
    assert np.isfinite(results[0].table["p_value_ri"]).sum() >= 9


def test_ri_pvalues_by_hand_from_the_draws(tmp_path: Path) -> None:
    """The streamed p-values equal a brute-force computation over the same draws: each draw's arms put on
    the persons (numbered per stratum in file order), the weekly difference in means by pandas."""
    from trialeval.effects._stream_ri import subtree

    df = _synthetic(12, n=160)
    df["stratum"] = np.where(df["person_id"].str[2:].astype(int) % 4 == 0, "a", "b")
    draws, seed_rng = 150, 21
    path = _ri_frame(df, tmp_path, 13)
    res = effects_from_file(path, outcomes=["flag", "gap"], ri=draws, rng=seed_rng)
    seed = int(np.random.default_rng(seed_rng).integers(2**62))         # the generator's first use
    persons = df.drop_duplicates("person_id")[["person_id", "stratum", "arm"]].reset_index(drop=True)
    drawn = np.zeros((draws, len(persons)), dtype=bool)
    for k, s in enumerate(sorted(persons["stratum"].unique())):
        idx = np.flatnonzero(persons["stratum"] == s)
        n1 = int((persons["arm"].iloc[idx] == "treatment").sum())
        drawn[:, idx] = subtree(seed, k, 0, len(idx), np.full(draws, n1), 0, len(idx))
    for s in persons["stratum"].unique():                            # every draw keeps the numbers treated
        idx = persons["stratum"] == s
        assert (drawn[:, idx].sum(axis=1) == (persons.loc[idx, "arm"] == "treatment").sum()).all()
    row_person = df["person_id"].map({p: i for i, p in enumerate(persons["person_id"])}).to_numpy()
    for outcome in ("flag", "gap"):
        table = res.table[res.table["outcome"] == outcome]
        for week, p in zip(table["week"], table["p_value_ri"]):
            rows = (df["week"] == week).to_numpy() & df[outcome].notna().to_numpy()
            y, who = df[outcome].to_numpy()[rows], row_person[rows]
            t_obs = df["arm"].to_numpy()[rows] == "treatment"
            if t_obs.all() or not t_obs.any():
                assert np.isnan(p)
                continue
            observed = y[t_obs].mean() - y[~t_obs].mean()
            hits = 0
            for k in range(draws):
                t = drawn[k, who]
                tau = y[t].mean() - y[~t].mean() if t.any() and (~t).any() else np.nan
                hits += bool(abs(tau) >= abs(observed) - 1e-12 * max(1.0, abs(observed)))
            assert p == pytest.approx((1 + hits) / (1 + draws), abs=1e-12)


def test_ri_equals_in_memory_on_the_sample_trial(tmp_path: Path) -> None:
    """The in-memory path draws the same re-randomisations: on the sample trial (within strata) one seed
    gives one p-value, in memory or from the file."""
    out = tmp_path / "panel.parquet"
    build_panel(SAMPLE / "ledger.csv", SAMPLE / "spells.csv", "2016-12-31", out=out)
    kw = {"outcomes": ["has_ordinary_hours", "ordinary_hours"], "ri": 1000, "rng": 3, "weeks": 40}
    part = effects_from_file(out, **kw).table["p_value_ri"].to_numpy()     # type: ignore[arg-type]
    whole = effects(read_table(out), **kw).table["p_value_ri"].to_numpy()  # type: ignore[arg-type]
    np.testing.assert_allclose(part, whole, rtol=0, atol=1e-12)
    assert np.ptp(part) > 0.3                                  # a spread of p-values: the check is not empty


def test_lin_in_slices_of_rows(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Lin's passes take a batch's rows a slice at a time (here 5 rows): the same result."""
    from trialeval.effects import _stream_designs

    monkeypatch.setattr(_stream_designs, "_SLICE", 5)
    df = _synthetic(13)
    pq.write_table(pa.Table.from_pandas(df, preserve_index=False), tmp_path / "p.parquet", row_group_size=40)
    _check(tmp_path / "p.parquet", (1,), outcomes=["flag", "hours", "gap"], covariates=["x", "cat"], band=True,
           rng=2, band_draws=100)
