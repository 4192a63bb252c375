"""``trialeval balance`` through Typer's CliRunner (issue 3, items 1, 4, 6)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from trialeval.balance import BALANCE_COLUMNS, OMNIBUS_COLUMNS, REPRESENTATIVENESS_COLUMNS
from trialeval.cli import app

REF = Path(__file__).resolve().parents[1] / "reference"
LEDGER = REF / "balance_ledger.csv"
POPULATION = REF / "balance_population.csv"
runner = CliRunner()


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "trial.toml"
    path.write_text(
        '[trial]\nseed = 7\ntreatment_share = 0.5\n'
        '[eligibility]\nrules = ["activation_ready == true"]\n'
        '[analysis]\ncovariates = ["age", "female", "education"]\nmin_cell_size = 0\n'
    )
    return path


def run(*args: str | Path):
    return runner.invoke(app, ["balance", *map(str, args)])


def test_csv_by_default_with_omnibus_beside(tmp_path: Path) -> None:
    out = tmp_path / "balance.csv"
    res = run("--ledger", LEDGER, "--covariates", "age,income,origin", "--ri-draws", "300", "--out", out)
    assert res.exit_code == 0, res.output
    table = pd.read_csv(out, keep_default_na=False)
    assert tuple(table.columns) == BALANCE_COLUMNS
    assert table["covariate"].tolist() == ["age", "income", "origin", "origin"]
    omnibus = pd.read_csv(tmp_path / "balance_omnibus.csv")
    assert tuple(omnibus.columns) == OMNIBUS_COLUMNS
    assert omnibus["test"].tolist() == ["f_test", "randomisation_inference"]
    assert omnibus.loc[1, "draws"] == 300 and 0 < omnibus.loc[1, "mc_se"] < 0.03
    assert not (tmp_path / "balance_representativeness.csv").exists()
    assert "Joint orthogonality F-test" in res.stdout and "Randomisation inference" in res.stdout


def test_config_covariates_population_and_plot(tmp_path: Path, config: Path) -> None:
    out = tmp_path / "balance.csv"
    res = run("--ledger", LEDGER, "--config", config, "--population", POPULATION, "--ri-draws", "200",
              "--plot", tmp_path / "love.png", "--out", out)
    assert res.exit_code == 0, res.output
    table = pd.read_csv(out, keep_default_na=False)
    assert table["covariate"].unique().tolist() == ["age", "female", "education"]
    rep = pd.read_csv(tmp_path / "balance_representativeness.csv", keep_default_na=False)
    assert tuple(rep.columns) == REPRESENTATIVENESS_COLUMNS
    assert (tmp_path / "love.png").read_bytes()[:4] == b"\x89PNG"
    assert "drawn (both arms) (n=160)" in res.stdout
    treated = run("--ledger", LEDGER, "--config", config, "--population", POPULATION, "--ri-draws", "0",
                  "--treated-only", "--out", tmp_path / "t.csv")
    assert treated.exit_code == 0, treated.output
    assert "drawn (treatment arm) (n=80)" in treated.stdout


def test_seed_reproducible_and_config_seed_default(tmp_path: Path, config: Path) -> None:
    args = ("--ledger", LEDGER, "--covariates", "age,income", "--ri-draws", "300")
    run(*args, "--seed", "7", "--out", tmp_path / "a.csv")
    run(*args, "--config", config, "--out", tmp_path / "b.csv")  # config seed is 7
    run(*args, "--seed", "8", "--out", tmp_path / "c.csv")
    a, b, c = (pd.read_csv(tmp_path / f"{x}_omnibus.csv") for x in "abc")
    pd.testing.assert_frame_equal(a, b)
    assert a.loc[1, "p_value"] != c.loc[1, "p_value"]


def test_strata_fe_option(tmp_path: Path) -> None:
    res = run("--ledger", LEDGER, "--covariates", "age,income,prior_benefit", "--strata-fe", "--ri-draws", "0",
              "--out", tmp_path / "b.csv")
    assert res.exit_code == 0, res.output
    om = pd.read_csv(tmp_path / "b_omnibus.csv")
    assert om["test"].tolist() == ["f_test_strata_fe"]
    assert om.loc[0, "df1"] == 2  # prior_benefit defines the stratum and is aliased with its effects


def test_xlsx_is_readable_and_equals_csv(tmp_path: Path) -> None:
    common = ("--ledger", LEDGER, "--covariates", "age,female,education", "--ri-draws", "100", "--seed", "1")
    assert run(*common, "--out", tmp_path / "b.csv").exit_code == 0
    res = run(*common, "--out", tmp_path / "b.xlsx")
    assert res.exit_code == 0, res.output
    xlsx = pd.read_excel(tmp_path / "b.xlsx", keep_default_na=False, na_values=[""])
    csv = pd.read_csv(tmp_path / "b.csv", keep_default_na=False, na_values=[""])
    assert tuple(xlsx.columns) == BALANCE_COLUMNS
    pd.testing.assert_frame_equal(xlsx.fillna({"level": "", "flag": ""}), csv.fillna({"level": "", "flag": ""}),
                                  check_dtype=False, rtol=1e-12)
    om = pd.read_excel(tmp_path / "b_omnibus.xlsx")
    assert om["test"].tolist() == ["f_test", "randomisation_inference"]


@pytest.mark.parametrize("fmt, suffix, first", [
    ("latex", ".tex", "\\begin{tabular}"), ("markdown", ".md", "| covariate | level |"),
])
def test_latex_and_markdown(tmp_path: Path, fmt: str, suffix: str, first: str) -> None:
    out = tmp_path / f"balance{suffix}"
    res = run("--ledger", LEDGER, "--covariates", "age,education", "--ri-draws", "0", "--format", fmt,
              "--out", out)
    assert res.exit_code == 0, res.output
    text = out.read_text()
    assert text.startswith(first)
    assert "education" in text and "welch" in text
    assert (tmp_path / f"balance_omnibus{suffix}").read_text().startswith(first[:2])


@pytest.mark.parametrize("args, message", [
    (["--covariates", "age,shoe_size"], "'shoe_size' missing"),
    (["--covariates", "age", "--format", "latex"], "contradicts"),
    (["--covariates", "age", "--population", "nowhere.csv"], "nowhere.csv: file not found"),
    ([], "no covariates"),
])
def test_bad_input_exits_1_with_message(tmp_path: Path, args: list[str], message: str) -> None:
    out = tmp_path / "balance.csv"
    res = run("--ledger", LEDGER, *args, "--ri-draws", "0", "--out", out)
    assert res.exit_code == 1
    assert message in res.stderr
    assert not out.exists()  # nothing half-written


def test_bad_ledger_rows_exit_1(tmp_path: Path) -> None:
    bad = pd.read_csv(LEDGER, dtype=str)
    bad.loc[4, "arm"] = "placebo"
    path = tmp_path / "ledger.csv"
    bad.to_csv(path, index=False)
    res = run("--ledger", path, "--covariates", "age", "--out", tmp_path / "b.csv")
    assert res.exit_code == 1
    assert "arm" in res.stderr and "row 5" in res.stderr
