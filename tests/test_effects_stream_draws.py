"""One seed, one band and one p-value: the Rademacher band and randomisation inference draw the same
multipliers and re-randomisations whether the panel is in memory or a file read in batches."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from trialeval.effects import effects, effects_from_file
from trialeval.effects._stream_band import BLOCK, rademacher
from trialeval.effects.stream import streamed
from trialeval.exceptions import InputDataError
from trialeval.io import read_table

from stream_checks import _check, _synthetic, demo_panel  # noqa: F401  (demo_panel: a fixture)


def _designs(seed: int, n: int = 80) -> pd.DataFrame:
    """The adversarial panel with a block, a cluster (one arm each), a covariate and strata."""
    df = _synthetic(seed, n=n)
    person = df["person_id"].str[2:].astype(int)
    df["blk"] = np.where(person % 4 < 2, "a", "b")
    df["clu"] = (person % 2).astype(str) + "-" + (person // 8).astype(str)
    df["x"] = (person * 7919 % 13).astype(float)
    return df


def _files(df: pd.DataFrame, folder: Path, row_group: int = 7) -> list[Path]:
    pq.write_table(pa.Table.from_pandas(df, preserve_index=False), folder / "p.parquet", row_group_size=row_group)
    df.to_csv(folder / "p.csv", index=False)
    return [folder / "p.parquet", folder / "p.csv"]


# ---- the Rademacher band ------------------------------------------------------------------------------
def test_rademacher_multipliers_depend_on_the_unit_number_only() -> None:
    """A unit's ±1 are the same whichever units are drawn with it (any slice, any order, across blocks)."""
    all_units = rademacher(11, np.arange(3 * BLOCK), 77)
    assert set(np.unique(all_units)) == {-1.0, 1.0}
    some = np.array([2 * BLOCK + 5, 3, BLOCK - 1, BLOCK, 3])
    np.testing.assert_array_equal(rademacher(11, some, 77), all_units[some])
    assert not np.array_equal(rademacher(12, some, 77), all_units[some])        # the seed matters
    assert abs(all_units.mean()) < 0.01                                         # fair signs
    corr = np.corrcoef(all_units[:200])                                         # independent units
    assert np.abs(corr[np.triu_indices(200, 1)]).max() < 0.5


@pytest.mark.parametrize("options", [{}, {"blocks": "blk"}, {"cluster": "clu"}, {"covariates": ["x"]},
                                     {"min_weeks": 3, "weeks": 5}])
def test_rademacher_band_streamed_equals_in_memory(tmp_path: Path, options: dict[str, object]) -> None:
    """Row groups of 7 rows (persons straddle them), one and two workers, a CSV: the band of the in-memory
    path to 1e-10 (its critical values and limits)."""
    for path in _files(_designs(3), tmp_path):
        assert streamed(path, {"band": True, "multiplier": "rademacher", **options})
        _check(path, outcomes=["flag", "hours", "gap"], band=True, multiplier="rademacher", rng=2,
               band_draws=300, **options)


@pytest.mark.parametrize("name", ["panel.parquet", "panel997.parquet"])
def test_rademacher_band_on_the_demo_panel(demo_panel: Path, name: str) -> None:
    _check(demo_panel.parent / name, (2,), band=True, multiplier="rademacher", rng=4, band_draws=500,
           outcomes=["has_ordinary_hours", "ordinary_hours"], min_weeks=20)


def test_rademacher_band_by_hand(tmp_path: Path) -> None:
    """The critical value from its definition: persons numbered in the panel's order, ±1 per person from
    the first seed the generator gives, W the influences ±(y − ȳ)/√(n(n − 1)) summed per person-week."""
    df = _synthetic(5, n=90)
    draws, alpha = 400, 0.1
    res = effects_from_file(_files(df, tmp_path)[0], outcomes=["hours"], band=True, multiplier="rademacher",
                            rng=17, band_draws=draws, alpha=alpha)
    seed = int(np.random.default_rng(17).integers(2**62))
    persons = df["person_id"].drop_duplicates().tolist()
    d = df[df["hours"].notna()].copy()
    cell = d.groupby(["week", "arm"])["hours"]
    n, mean = cell.transform("size"), cell.transform("mean")
    sign = np.where(d["arm"] == "treatment", 1.0, -1.0)
    d["psi"] = np.where(n >= 2, sign * (d["hours"] - mean) / np.sqrt(n * (n - 1)), 0.0)
    W = d.pivot_table(index="person_id", columns="week", values="psi", aggfunc="sum", fill_value=0.0)
    W = W.reindex(persons, fill_value=0.0)
    xi = rademacher(seed, np.arange(len(persons)), draws)
    T, sd = W.to_numpy().T @ xi, np.sqrt((W.to_numpy() ** 2).sum(axis=0))
    ok = sd > 0
    crit = np.quantile(np.abs(T[ok] / sd[ok, None]).max(axis=0), 1 - alpha)
    assert res.critical_values["hours"] == pytest.approx(crit, rel=1e-10)
    whole = effects(df, "hours", band=True, multiplier="rademacher", rng=17, band_draws=draws, alpha=alpha)
    assert whole.critical_values["hours"] == pytest.approx(crit, rel=1e-10)


# ---- randomisation inference: persons ------------------------------------------------------------------
@pytest.mark.parametrize("options", [{}, {"blocks": "blk"}, {"covariates": ["x"], "min_weeks": 3},
                                     {"band": True, "multiplier": "rademacher", "band_draws": 50}])
def test_person_ri_in_memory_equals_streamed(tmp_path: Path, options: dict[str, object]) -> None:
    """One seed, one p-value: ``effects(df, ri=N)`` equals the streamed p-values to 1e-12, also with
    whole-number strata that a CSV holds as text (10 sorts after 5 both ways)."""
    df = _designs(7, n=130)
    df["stratum"] = df["person_id"].str[2:].astype(int) % 3 * 5 + 5
    kw = {"outcomes": ["flag", "hours", "gap"], "ri": 120, "rng": 6, **options}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        whole = effects(df, **kw).table["p_value_ri"].to_numpy()  # type: ignore[arg-type]
        for path in _files(df, tmp_path):
            for workers in (1, 2):
                part = effects_from_file(path, workers=workers, **kw)  # type: ignore[arg-type]
                np.testing.assert_allclose(part.table["p_value_ri"].to_numpy(), whole, rtol=0, atol=1e-12)
    assert np.isfinite(whole).sum() >= 8 and np.ptp(whole[np.isfinite(whole)]) > 0.2


def test_person_ri_on_the_demo_panel(demo_panel: Path) -> None:
    kw = {"outcomes": ["in_internship", "ordinary_hours"], "ri": 200, "rng": 12, "weeks": [5, 20, 40]}
    whole = effects(read_table(demo_panel), **kw).table["p_value_ri"].to_numpy()  # type: ignore[arg-type]
    for name in ("panel.parquet", "panel997.parquet"):
        part = effects_from_file(demo_panel.parent / name, **kw)  # type: ignore[arg-type]
        np.testing.assert_allclose(part.table["p_value_ri"].to_numpy(), whole, rtol=0, atol=1e-12)


# ---- randomisation inference: clusters ------------------------------------------------------------------
def _clustered(seed: int, n: int = 160, effect: float = 0.0) -> pd.DataFrame:
    """Clusters of 8 persons with whole-number labels (a CSV sorts them as text, in memory as numbers),
    the arm drawn per cluster within 3 strata of clusters."""
    df = _synthetic(seed, n=n)
    person = df["person_id"].str[2:].astype(int)
    cl = (person // 8).to_numpy()
    n_cl = cl.max() + 1
    arm = np.random.default_rng(seed).permutation(np.arange(n_cl) % 2)
    df["arm"] = np.where(arm[cl] == 1, "treatment", "control")
    df["clu"] = cl * 3 + 1                                               # 1, 4, …, 58
    df["stratum"] = np.asarray(["s1", "s2", "s3"])[cl % 3]
    df["hours"] = df["hours"] + effect * (df["arm"] == "treatment")
    return df


@pytest.mark.parametrize("options", [{}, {"strata": False}, {"min_weeks": 3},
                                     {"band": True, "multiplier": "rademacher", "band_draws": 50}])
def test_cluster_ri_streamed_equals_in_memory(tmp_path: Path, options: dict[str, object]) -> None:
    """Row groups of 7 rows, one and two workers, a CSV: the p-values of the in-memory cluster
    re-randomisation to 1e-12, and every other table of the result."""
    df = _clustered(3)
    if not options.pop("strata", True):
        df = df.drop(columns="stratum")
    kw = {"outcomes": ["flag", "hours", "gap"], "ri": 150, "rng": 5, "cluster": "clu", **options}
    whole = effects(df, **kw).table["p_value_ri"].to_numpy()  # type: ignore[arg-type]
    for path in _files(df, tmp_path):
        assert streamed(path, kw)
        _check(path, **kw)
        part = effects_from_file(path, **kw).table["p_value_ri"].to_numpy()  # type: ignore[arg-type]
        np.testing.assert_allclose(part, whole, rtol=0, atol=1e-12)
    assert np.isfinite(whole).sum() >= 8 and np.ptp(whole[np.isfinite(whole)]) > 0.2


def test_cluster_ri_by_hand(tmp_path: Path) -> None:
    """The p-values from their definition over the same draws: clusters numbered by sorted label within
    each stratum (strata by sorted label), each draw's arms from the tree, the weekly difference in means
    of the rows of the clusters drawn treated (pandas)."""
    from trialeval.effects._stream_ri import subtree

    df = _clustered(8)
    draws = 120
    res = effects_from_file(_files(df, tmp_path)[0], outcomes=["hours"], ri=draws, rng=31, cluster="clu")
    seed = int(np.random.default_rng(31).integers(2**62))          # the generator's first use (no band)
    clusters = df.drop_duplicates("clu")[["clu", "stratum", "arm"]].sort_values("clu").reset_index(drop=True)
    drawn = np.zeros((draws, len(clusters)), dtype=bool)
    for k, s in enumerate(sorted(clusters["stratum"].unique())):
        idx = np.flatnonzero(clusters["stratum"] == s)
        n1 = int((clusters["arm"].iloc[idx] == "treatment").sum())
        drawn[:, idx] = subtree(seed, k, 0, len(idx), np.full(draws, n1), 0, len(idx))
    row_cluster = df["clu"].map({c: i for i, c in enumerate(clusters["clu"])}).to_numpy()
    checked = 0
    for week, p in zip(res.table["week"], res.table["p_value_ri"]):
        rows = (df["week"] == week).to_numpy() & df["hours"].notna().to_numpy()
        y, who = df["hours"].to_numpy()[rows], row_cluster[rows]
        t_obs = df["arm"].to_numpy()[rows] == "treatment"
        observed = y[t_obs].mean() - y[~t_obs].mean()
        hits = sum(bool(abs(y[t].mean() - y[~t].mean()) >= abs(observed) - 1e-12 * max(1.0, abs(observed)))
                   for t in drawn[:, who])
        assert p == pytest.approx((1 + hits) / (1 + draws), abs=1e-12)
        checked += 1
    assert checked == 6


def test_cluster_ri_size_under_the_null() -> None:
    """No effect: the p-values of the cluster re-randomisation are uniform (a quick simulation)."""
    pvals = np.concatenate([effects(_clustered(s, n=120), "hours", ri=59, rng=s, cluster="clu")
                            .table["p_value_ri"].to_numpy() for s in range(40)])
    pvals = pvals[np.isfinite(pvals)]
    assert 0.03 < np.mean(pvals <= 0.1) < 0.18
    assert abs(np.mean(pvals) - 0.5) < 0.06
    strong = effects(_clustered(1, n=240, effect=30.0), "hours", ri=59, rng=1, cluster="clu").table["p_value_ri"]
    assert (strong <= 2 / 60).all()                                      # an effect far beyond the noise


def test_stratum_varying_within_a_cluster_is_refused(tmp_path: Path) -> None:
    df = _clustered(4)
    df.loc[df["person_id"] == "id009", "stratum"] = "s3"     # its cluster (label 4) is in s2
    with pytest.raises(InputDataError, match="'stratum' must be constant within each cluster"):
        effects(df, "hours", ri=20, cluster="clu")
    for path in _files(df, tmp_path):
        with pytest.raises(InputDataError, match="'stratum' must be constant within each cluster"):
            effects_from_file(path, outcomes="hours", ri=20, cluster="clu")
