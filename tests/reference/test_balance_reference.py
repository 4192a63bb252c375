"""trialeval.balance against base R (tests/reference/make_reference_balance.R) to 1e-8.

Inputs: balance_ledger.csv, balance_population.csv. References: balance_reference*.csv (%.17g).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose

from trialeval.balance import balance
from trialeval.config import EligibilityRule
from trialeval.io import read_ledger, read_population

HERE = Path(__file__).parent
COVARIATES = ["age", "income", "female", "prior_activation", "prior_benefit", "education", "origin"]
NUMBERS = ["difference", "smd", "variance_ratio", "p_value"]


@pytest.fixture(scope="module")
def ledger() -> pd.DataFrame:
    return read_ledger(HERE / "balance_ledger.csv")


@pytest.fixture(scope="module")
def result(ledger: pd.DataFrame):
    population = read_population(HERE / "balance_population.csv")
    return balance(ledger, COVARIATES, population=population,
                   eligibility=[EligibilityRule.parse("activation_ready == true")], ri_draws=0,
                   min_cell=0)   # R's values are exact; disclosure control is tested elsewhere


def _read(name: str) -> pd.DataFrame:
    df = pd.read_csv(HERE / name, keep_default_na=False, na_values=[""])
    if "level" in df.columns:
        df["level"] = df["level"].fillna("").astype(str)
    return df


def _check(ours: pd.DataFrame, ref: pd.DataFrame, a: str, b: str) -> None:
    assert ours[["covariate", "level"]].values.tolist() == ref[["covariate", "level"]].values.tolist()
    assert ours["test"].tolist() == ref["test"].tolist()
    for col in [f"mean_{a}", f"mean_{b}", *NUMBERS]:
        assert_allclose(ours[col].to_numpy(float), ref[col].to_numpy(float), rtol=1e-8, atol=1e-12,
                        err_msg=col)
    for col in (f"n_missing_{a}", f"n_missing_{b}"):
        assert ours[col].astype(int).tolist() == ref[col].astype(int).tolist(), col


def test_balance_table_matches_r(result) -> None:
    _check(result.to_frame(), _read("balance_reference.csv"), "treatment", "control")


def test_reference_covers_every_test(result) -> None:
    # the data were built so that Welch, Pearson chi-square (2x2 and 3x2) and Fisher all occur
    assert set(result.to_frame()["test"]) == {"welch_t", "chi_square", "fisher_exact"}


def test_representativeness_matches_r(result) -> None:
    _check(result.representativeness(), _read("balance_reference_representativeness.csv"),
           "drawn", "not_drawn")
    assert result.n_drawn == 160
    assert result.n_not_drawn == int(_read("balance_population.csv").pipe(
        lambda p: (p["activation_ready"] & ~p["person_id"].str.startswith("P")).sum()))


@pytest.mark.parametrize("strata_fe", [False, True])
def test_joint_orthogonality_f_matches_r(ledger: pd.DataFrame, strata_fe: bool) -> None:
    ref = _read("balance_reference_omnibus.csv").set_index("model")
    key = "f_test_strata_fe" if strata_fe else "f_test"
    ours = balance(ledger, COVARIATES, strata_fe=strata_fe, ri_draws=0, min_cell=0).omnibus().set_index("test")
    assert list(ours.index) == [key]
    row, r = ours.loc[key], ref.loc[key]
    assert_allclose(row[["statistic", "p_value"]].to_numpy(float),
                    r[["statistic", "p_value"]].to_numpy(float), rtol=1e-8)
    assert (row["df1"], row["df2"]) == (r["df1"], r["df2"])  # FE: prior_benefit is aliased, df1 8 -> 7
    assert (row["n_used"], row["n_dropped"]) == (r["n_used"], r["n_dropped"])
    assert np.isfinite(row["statistic"])
