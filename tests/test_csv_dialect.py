"""Danish CSV files (semicolons, decimal comma, Latin-1), declared in ``[columns]``, read as the standard ones."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

from trialeval.config import TrialConfig
from trialeval.exceptions import ConfigError
from trialeval.io import read_population
from trialeval.panel import build_panel
from trialeval.pipeline import convert

DANISH = {"csv_delimiter": ";", "csv_decimal": ",", "csv_encoding": "latin-1"}


def danish_copy(source: Path, target: Path, rename: dict[str, dict[str, str]] | None = None,
                drop: tuple[str, ...] = ()) -> Path:
    """``source`` written as a Danish spreadsheet would (with Danish letters in it), and the same rows in the
    standard dialect beside it (``<name>_std.csv``)."""
    frame = pd.read_csv(source, dtype=str, keep_default_na=False).drop(columns=list(drop))
    for column, mapping in (rename or {}).items():
        frame[column] = frame[column].replace(mapping)
    frame.to_csv(target.with_name(target.stem + "_std.csv"), index=False)
    danish = frame.copy()
    for column in ("hours_per_week", "hours"):
        if column in danish:
            danish[column] = danish[column].str.replace(".", ",", regex=False)
    danish.to_csv(target, index=False, sep=";", encoding="latin-1")
    return target


def test_ledger_spells_and_population_in_the_danish_dialect_give_the_same_panel(sample_dir: Path, tmp_path: Path) -> None:
    names = {"municipality": {"Aarhus": "Århus", "Kolding": "Køge"}}
    # a ledger from elsewhere (not written by draw: no draw strata, no manifest)
    ledger = danish_copy(sample_dir / "ledger.csv", tmp_path / "tildeling.csv", names, drop=("stratum", "wave"))
    ledger.read_bytes().decode("latin-1")                                     # really Latin-1 ...
    with pytest.raises(UnicodeDecodeError):
        ledger.read_bytes().decode("utf-8")                                   # ... not UTF-8
    spells = danish_copy(sample_dir / "spells.csv", tmp_path / "forloeb.csv")
    assert ";37,0;" in spells.read_text(encoding="latin-1")                  # hours with a decimal comma
    danish = build_panel(ledger, spells, "2016-12-31", weeks=20, columns=DANISH).to_frame()
    standard = build_panel(tmp_path / "tildeling_std.csv", tmp_path / "forloeb_std.csv", "2016-12-31",
                           weeks=20).to_frame()
    pd.testing.assert_frame_equal(danish, standard)
    assert {"Århus", "Køge"} <= set(danish["municipality"].astype(str))
    population = danish_copy(sample_dir / "population.csv", tmp_path / "population.csv", names)
    pd.testing.assert_frame_equal(read_population(population, rename=DANISH),
                                  read_population(tmp_path / "population_std.csv"))


def test_eindkomst_hours_with_a_decimal_comma(sample_dir: Path, tmp_path: Path) -> None:
    hours = danish_copy(sample_dir / "eindkomst.csv", tmp_path / "eindkomst.csv")
    config = tmp_path / "trial.toml"
    config.write_text('[trial]\nseed = 1\ntreatment_share = 0.5\n[columns]\ncsv_delimiter = ";"\n'
                      'csv_decimal = ","\ncsv_encoding = "latin-1"\n', encoding="utf-8")
    convert("eindkomst", hours, tmp_path / "dk.parquet", config=config)
    convert("eindkomst", tmp_path / "eindkomst_std.csv", tmp_path / "std.parquet")
    assert pq.read_table(tmp_path / "dk.parquet").equals(pq.read_table(tmp_path / "std.parquet"))


@pytest.mark.parametrize("key, value, message", [("csv_delimiter", ":", "csv_delimiter must be one of"),
                                                 ("csv_decimal", ";", "csv_decimal must be"),
                                                 ("csv_encoding", "latin-9x", "is not an encoding")])
def test_a_bad_dialect_is_a_config_error(key: str, value: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        TrialConfig.from_dict({"trial": {"seed": 1, "treatment_share": 0.5}, "columns": {key: value}})
