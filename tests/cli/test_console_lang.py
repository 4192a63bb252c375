"""Console summaries in Danish: every number a step prints is written as a Danish reader expects.

The expected strings are built here from the step's own output files with plain string operations (no
call into trialeval's formatting): thousands with ``.``, decimals with ``,``, minus as U+2212, whole
kroner, p-values below 0.001 as ``< 0,001``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats
from typer.testing import CliRunner

from trialeval.cli import app

runner = CliRunner()
ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "sample_data"


def da(x: float, decimals: int) -> str:
    """``x`` rounded to ``decimals``, Danish separators, U+2212 for a minus."""
    text = f"{abs(x):,.{decimals}f}".replace(",", "_").replace(".", ",").replace("_", ".")
    return ("\u2212" if round(x, decimals) < 0 else "") + text


def da_p(p: float) -> str:
    return "< 0,001" if p < 0.001 else da(p, 3)


def test_power_in_danish_matches_the_formula():
    result = runner.invoke(app, ["power", "--n", "4800", "--proportion", "0.07", "--lang", "da"])
    assert result.exit_code == 0, result.output
    sd = np.sqrt(0.07 * 0.93)
    se = sd * np.sqrt(1 / (4800 * 0.25))
    mde = (stats.norm.ppf(0.975) + stats.norm.ppf(0.8)) * se
    text = result.output
    assert f"Minimum detectable effect: {da(mde, 4)}" in text
    assert "N = 4.800 (2.400 treatment, 2.400 control)" in text
    assert f"SE = {da(se, 4)}" in text and f"(SD {da(sd, 4)})" in text
    assert f"= {da(100 * mde, 2)} percentage points" in text
    assert "alpha = 0,05, power = 0,8" in text
    english = runner.invoke(app, ["power", "--n", "4800", "--proportion", "0.07"]).output
    assert f"Minimum detectable effect: {mde:.4f}" in english and "N = 4800 (" in english


def test_costs_in_danish_shows_whole_kroner_and_the_same_p_twice(tmp_path):
    def run(name: str, *extra: str):
        return runner.invoke(app, ["costs", "--effects", str(ROOT / "tests/golden/effects.csv"), "--scenarios",
                                   str(SAMPLE / "costs.toml"), "--out", str(tmp_path / name), "--draws", "300",
                                   *extra])

    first = run("c1.csv", "--lang", "da")
    assert first.exit_code == 0, first.output
    table = pd.read_csv(tmp_path / "c1.csv")
    lines = first.output.splitlines()
    for row in table.itertuples():
        line = next(l for l in lines if l.startswith(f"{row.scenario:<10}{row.payer:<14}"))
        cells = line[24:].split()
        assert cells[:4] == [da(row.benefit_savings, 0), da(row.tax_revenue, 0), da(row.costs, 0),
                             da(row.net_result, 0)], line
        assert cells[4] == da(row.prob_net_positive, 2), line
    assert any(abs(v) >= 1000 for v in table["net_result"]), "some kroner need a thousands separator"
    assert "P(net>0) from 300 draws" in first.output
    # no seed given: the default seed makes P(net > 0) the same on a second run, in English too
    second = run("c2.csv")
    again = pd.read_csv(tmp_path / "c2.csv")
    np.testing.assert_array_equal(table["prob_net_positive"], again["prob_net_positive"])
    assert table["prob_net_positive"].between(0.01, 0.99).any(), "a P strictly inside (0, 1) shows the seed matters"
    row = table.iloc[0]
    assert f"{row.net_result:>11,.0f}" in second.output     # English as before: 1,504


def test_costs_seed_comes_from_the_config(tmp_path):
    args = ["costs", "--effects", str(ROOT / "tests/golden/effects.csv"), "--scenarios", str(SAMPLE / "costs.toml"),
            "--draws", "300"]
    cfg = tmp_path / "trial.toml"
    cfg.write_text((SAMPLE / "trial.toml").read_text().replace("seed = 20160301", "seed = 7"))
    a = runner.invoke(app, [*args, "--config", str(cfg), "--out", str(tmp_path / "a.csv")])
    b = runner.invoke(app, [*args, "--seed", "7", "--out", str(tmp_path / "b.csv")])
    c = runner.invoke(app, [*args, "--out", str(tmp_path / "c.csv")])
    d = runner.invoke(app, [*args, "--seed", "20160301", "--out", str(tmp_path / "d.csv")])
    assert a.exit_code == b.exit_code == c.exit_code == d.exit_code == 0, a.output
    pa, pb, pc, pd_ = (pd.read_csv(tmp_path / f"{n}.csv")["prob_net_positive"] for n in "abcd")
    np.testing.assert_array_equal(pa, pb)        # the trial's seed
    np.testing.assert_array_equal(pc, pd_)       # the documented default, 20160301
    assert not np.array_equal(pa, pc)


def test_effects_in_danish_matches_the_written_table(tmp_path):
    rng = np.random.default_rng(11)
    n, weeks = 400, 12
    arm = np.where(np.arange(n) % 2, "treatment", "control")
    panel = pd.DataFrame({"person_id": np.repeat([f"p{i}" for i in range(n)], weeks),
                          "arm": np.repeat(arm, weeks), "week": np.tile(np.arange(1, weeks + 1), n)})
    treated = panel["arm"].eq("treatment").to_numpy()
    panel["employed"] = (rng.random(len(panel)) < 0.2 + 0.25 * treated).astype(int)
    panel["hours"] = rng.gamma(2.0, 600.0, len(panel)) * (1 + treated)
    panel.to_csv(tmp_path / "panel.csv", index=False)
    result = runner.invoke(app, ["effects", "--panel", str(tmp_path / "panel.csv"), "--outcomes", "employed,hours",
                                 "--out", str(tmp_path / "e.csv"), "--lang", "da"])
    assert result.exit_code == 0, result.output
    table = pd.read_csv(tmp_path / "e.csv")
    shown = 0
    for r in table.itertuples():
        p_text = da_p(r.p_value)
        line = (f"uge {r.week:>3}: effekt {da(r.effect, 3)} [{da(r.ci_low, 3)}, {da(r.ci_high, 3)}], "
                + (f"p {p_text}" if p_text.startswith("<") else f"p = {p_text}"))
        shown += line in result.output
    assert shown == 10, result.output          # five weeks per outcome
    assert "p < 0,001" in result.output and "p = <" not in result.output   # the effect on employment is clear
    assert any(abs(v) >= 1000 for v in table.loc[table["outcome"] == "hours", "effect"])
    assert "." in result.output.split("hours:")[1].split("effekt ")[1][:6]     # 1.234,567: thousands with "."
    english = runner.invoke(app, ["effects", "--panel", str(tmp_path / "panel.csv"), "--outcomes", "employed",
                                  "--out", str(tmp_path / "en.csv")])
    r = pd.read_csv(tmp_path / "en.csv").iloc[0]
    assert f"effect {r.effect: .4g} [{r.ci_low: .4g}, {r.ci_high: .4g}], p = {r.p_value:.3g}" in english.output


def test_balance_in_danish_matches_the_written_table(tmp_path):
    result = runner.invoke(app, ["balance", "--ledger", str(SAMPLE / "ledger.csv"), "--config",
                                 str(SAMPLE / "trial.toml"), "--out", str(tmp_path / "b.csv"), "--ri-draws", "50",
                                 "--lang", "da"])
    assert result.exit_code == 0, result.output
    table = pd.read_csv(tmp_path / "b.csv")
    omnibus = pd.read_csv(tmp_path / "b_omnibus.csv")
    text = result.output
    led = pd.read_csv(SAMPLE / "ledger.csv")
    n_t = int((led["arm"] == "treatment").sum())
    assert f"(n={da(n_t, 0)})" in text and n_t >= 1000
    for r in table.dropna(subset=["smd"]).itertuples():
        row = next(l for l in text.splitlines() if l.split()[:1] == [r.covariate] and
                   (pd.isna(r.level) or f" {r.level} " in l))
        assert da(r.smd, 3) in row and da(r.mean_treatment, 3) in row, row
        assert da_p(r.p_value) in row, row
    f = omnibus.iloc[0]
    assert f"= {da(f.statistic, 3)}, p = {da_p(f.p_value)}" in text
