"""``[columns] arm_values``: a ledger whose groups carry the user's own labels is read without recoding."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from trialeval.config import TrialConfig, load_config
from trialeval.design import Design
from trialeval.exceptions import ConfigError
from trialeval.pipeline import by_site, effects, panel

BASE = {"trial": {"seed": 1, "treatment_share": 0.5}}


def test_arm_values_become_the_designs_labels_in_design_order() -> None:
    cfg = TrialConfig.from_dict({**BASE, "columns": {"arm_values": {"kontrol": "control", "indsats": "treatment"}}})
    assert (cfg.groups, cfg.reference) == (("indsats", "kontrol"), "kontrol")
    assert "arm_values" not in cfg.columns                      # not a column rename
    assert Design.from_config(cfg).labels == ("indsats", "kontrol")


@pytest.mark.parametrize("values", [{"indsats": "treatment"}, {"indsats": "treatment", "kontrol": "placebo"},
                                    {"indsats": "treatment", "kontrol": "treatment"}])
def test_arm_values_must_name_both_groups(values: dict[str, str]) -> None:
    with pytest.raises(ConfigError, match=r"\[columns\] arm_values must map the two labels"):
        TrialConfig.from_dict({**BASE, "columns": {"arm_values": values}})


def test_a_ledger_with_danish_group_labels_gives_the_curves_of_the_recoded_one(sample_dir: Path, tmp_path: Path) -> None:
    # a ledger from elsewhere (not from draw: no strata names of a draw, no manifest)
    ledger = pd.read_csv(sample_dir / "ledger.csv", dtype=str).drop(columns=["stratum", "wave"])
    ledger.to_csv(tmp_path / "ledger_en.csv", index=False)
    ledger["arm"] = ledger["arm"].map({"treatment": "indsats", "control": "kontrol"})
    ledger.to_csv(tmp_path / "ledger.csv", index=False)
    text = (sample_dir / "trial.toml").read_text(encoding="utf-8")
    (tmp_path / "trial.toml").write_text(
        text + '\n[columns]\narm_values = { indsats = "treatment", kontrol = "control" }\n', encoding="utf-8")
    assert load_config(tmp_path / "trial.toml").groups == ("indsats", "kontrol")
    for folder, led, cfg in (("dk", tmp_path / "ledger.csv", tmp_path / "trial.toml"),
                             ("en", tmp_path / "ledger_en.csv", sample_dir / "trial.toml")):
        (tmp_path / folder).mkdir()
        panel(led, sample_dir / "spells.csv", tmp_path / folder / "panel.parquet", config=cfg, weeks=40)
        effects(tmp_path / folder / "panel.parquet", tmp_path / folder / "effects.csv", config=cfg)
        by_site(tmp_path / folder / "panel.parquet", tmp_path / folder / "effects.csv", by="municipality",
                outcomes=["company_directed"], weeks=[26], config=cfg)
    dk, en = (pd.read_csv(tmp_path / f / "effects.csv") for f in ("dk", "en"))
    pd.testing.assert_frame_equal(dk, en)
    # the site results take the programme group from the design's labels, too
    dk_sites, en_sites = (pd.read_csv(tmp_path / f / "effects_sites.csv") for f in ("dk", "en"))
    pd.testing.assert_frame_equal(dk_sites, en_sites)
    assert dk_sites["effect"].notna().sum() >= 3
    arms = pd.read_parquet(tmp_path / "dk" / "panel.parquet", columns=["arm"])["arm"]
    assert sorted(arms.astype(str).unique()) == ["indsats", "kontrol"]
