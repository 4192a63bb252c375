"""trialeval convert: the command, its config and its errors."""

from __future__ import annotations

import pandas as pd
import pyarrow.parquet as pq
from typer.testing import CliRunner

from trialeval.cli import app

runner = CliRunner()
CONFIG = ('[trial]\nseed = 1\ntreatment_share = 0.5\n'
          '[columns]\nperson_id = "pnr"\n'
          '[registers.dream]\nweek_columns = "uge_{year}_{week:02d}"\n'
          'codes = { benefit = ["111-136"], internship = ["651"] }\n')


def test_convert_dream_with_the_config_code_map(tmp_path):
    (tmp_path / "trial.toml").write_text(CONFIG)
    pd.DataFrame({"pnr": ["007", "008"], "uge_2016_09": ["120", "651"], "uge_2016_10": ["136", ""]}
                 ).to_csv(tmp_path / "dream.csv", index=False)
    result = runner.invoke(app, ["convert", "dream", str(tmp_path / "dream.csv"), "--config",
                                 str(tmp_path / "trial.toml"), "--out", str(tmp_path / "spells.parquet")])
    assert result.exit_code == 0, result.output
    assert "DREAM: 2 rows of" in result.output and "became 3 spells (benefit 2, internship 1)" in result.output
    spells = pq.read_table(tmp_path / "spells.parquet").to_pandas()
    assert spells["person_id"].tolist() == ["007", "008", "008"]
    assert spells["spell_type"].tolist() == ["benefit", "benefit", "internship"]
    assert spells["start_date"].astype(str).tolist() == ["2016-02-29"] * 3
    assert spells["end_date"].astype(str).tolist() == ["2016-03-13", "2016-03-06", "2016-03-06"]


def test_convert_errors_exit_1_without_output(tmp_path):
    (tmp_path / "trial.toml").write_text('[trial]\nseed = 1\ntreatment_share = 0.5\n')
    pd.DataFrame({"person_id": ["A"], "y_2016_09": ["1"]}).to_csv(tmp_path / "dream.csv", index=False)
    out = tmp_path / "spells.parquet"
    no_map = runner.invoke(app, ["convert", "dream", str(tmp_path / "dream.csv"), "--config",
                                 str(tmp_path / "trial.toml"), "--out", str(out)])
    assert no_map.exit_code == 1 and "needs its code map" in no_map.output
    unknown = runner.invoke(app, ["convert", "ams", str(tmp_path / "dream.csv"), "--out", str(out)])
    assert unknown.exit_code == 2 and "register must be one of dream, eindkomst" in unknown.output
    onto_input = runner.invoke(app, ["convert", "eindkomst", str(tmp_path / "dream.csv"), "--out",
                                     str(tmp_path / "dream.csv")])
    assert onto_input.exit_code == 1
    bad_map = tmp_path / "bad.toml"
    bad_map.write_text('[trial]\nseed = 1\ntreatment_share = 0.5\n[registers.dream]\ncodes = { benefit = ["9-1"] }\n')
    bad = runner.invoke(app, ["convert", "dream", str(tmp_path / "dream.csv"), "--config", str(bad_map),
                              "--out", str(out)])
    assert bad.exit_code == 1 and "[registers.dream]: codes.benefit: range '9-1' ends before it starts" in bad.output
    assert not out.exists()
    assert "Traceback" not in no_map.output + unknown.output + onto_input.output + bad.output
