"""Every command stops, exit 1 and nothing written, before an output would replace an input, a ledger or a
manifest, or land in a folder that cannot be written; ``panel`` stops when spells and ledger do not fit."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from trialeval.cli import app
from trialeval.draw import run_draw

runner = CliRunner()
SAMPLE = Path(__file__).resolve().parents[2] / "sample_data"


def snapshot(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def refused(args: list[str], folder: Path, *words: str) -> str:
    """Run a command that must stop: exit 1, the words in the message, every file in ``folder`` unchanged."""
    before = snapshot(folder)
    result = runner.invoke(app, args)
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output and result.output.startswith("Error: "), result.output
    for word in words:
        assert word in result.output, (word, result.output)
    assert snapshot(folder) == before
    return result.output


@pytest.fixture
def trial(small_trial) -> dict[str, Path]:
    """A drawn ledger (with its manifest), spells for every drawn person, a panel and an effects table."""
    d = small_trial["dir"]
    run_draw(small_trial["population"], small_trial["config"], small_trial["ledger"], ["North=10", "South=6"],
             "2016-03-01")
    ledger = pd.read_csv(small_trial["ledger"], dtype={"person_id": str})
    pd.DataFrame({"person_id": ledger["person_id"], "spell_type": "internship", "start_date": "2016-03-10",
                  "end_date": np.where(ledger["arm"] == "treatment", "2016-05-01", "2016-03-20")}
                 ).to_csv(d / "spells.csv", index=False)
    pd.DataFrame({"person_id": ledger["person_id"].repeat(2).to_numpy(), "arm": ledger["arm"].repeat(2).to_numpy(),
                  "week": [1, 2] * len(ledger), "y": np.arange(2 * len(ledger)) % 3}).to_csv(d / "panel.csv",
                                                                                           index=False)
    return {**small_trial, "spells": d / "spells.csv", "panel": d / "panel.csv"}


def test_balance_never_replaces_its_ledger_or_population(trial, monkeypatch):
    d = trial["dir"]
    monkeypatch.chdir(d)
    base = ["balance", "--ledger", "ledger.csv", "--population", "population.csv", "--covariates", "age",
            "--ri-draws", "10"]
    refused([*base, "--out", "./ledger.csv"], d, "Error: --out ledger.csv: is the input --ledger (ledger.csv)",
            "an output never replaces an input", "nothing was written")
    refused([*base, "--out", str(d / "population.csv")], d, "is the input --population (population.csv)")
    # a side file: <stem>_omnibus beside --out would be the population
    (d / "pop_omnibus.csv").symlink_to(d / "population.csv")
    refused([*base, "--out", "pop.csv"], d, "--out (omnibus table beside it) pop_omnibus.csv: is the input "
                                            "--population")
    refused([*base, "--out", "b.csv", "--plot", "ledger.manifest.jsonl"], d,
            "--plot ledger.manifest.jsonl: is a randomisation manifest")
    ok = runner.invoke(app, [*base, "--out", "balance.csv"])
    assert ok.exit_code == 0, ok.output


def test_panel_effects_and_costs_never_replace_an_input_or_a_ledger(trial):
    d = trial["dir"]
    ledger, spells, panel = (str(trial[k]) for k in ("ledger", "spells", "panel"))
    refused(["panel", "--ledger", ledger, "--spells", spells, "--extraction-date", "2016-06-30",
             "--out", spells], d, f"--out {spells}: is the input --spells")
    refused(["panel", "--ledger", ledger, "--spells", spells, "--extraction-date", "2016-06-30",
             "--out", str(d / "ledger.csv")], d, "--out", "is the input --ledger")
    # another trial's ledger in the folder is never an output either
    other = d / "old_ledger.csv"
    other.write_bytes(trial["ledger"].read_bytes())
    refused(["effects", "--panel", panel, "--outcomes", "y", "--out", str(other)], d,
            f"--out {other}: is a randomisation ledger (it has the columns person_id, arm and visitation_date)")
    refused(["effects", "--panel", panel, "--outcomes", "y", "--out", panel], d, "is the input --panel")
    effects = runner.invoke(app, ["effects", "--panel", panel, "--outcomes", "y", "--min-cell", "0",
                                  "--out", str(d / "effects.csv")])
    assert effects.exit_code == 0, effects.output
    scenarios = str(SAMPLE / "costs.toml")
    refused(["costs", "--effects", str(d / "effects.csv"), "--scenarios", scenarios, "--out",
             str(d / "effects.csv")], d, "is the input --effects")
    refused(["costs", "--effects", str(d / "effects.csv"), "--scenarios", scenarios, "--out", str(d / "c.csv"),
             "--flows", str(d / "ledger.manifest.jsonl")], d, "--flows", "is a randomisation manifest")
    refused(["costs", "--effects", str(d / "effects.csv"), "--scenarios", scenarios, "--out", str(d / "c.csv"),
             "--plot", str(d / "ledger.csv")], d,
            "--plot", "ledger.csv: is a randomisation ledger (its manifest ledger.manifest.jsonl is beside it)")


def test_an_unwritable_output_folder_is_exit_1_before_anything_is_written(trial, monkeypatch):
    d = trial["dir"]
    blocker = d / "somefile.csv"
    blocker.write_text("a\n1\n")
    ledger, spells, panel = (str(trial[k]) for k in ("ledger", "spells", "panel"))
    under = str(blocker / "out.csv")
    cases = [
        ["balance", "--ledger", ledger, "--covariates", "age", "--ri-draws", "10", "--out", str(d / "b.csv"),
         "--plot", str(blocker / "love.png")],
        ["panel", "--ledger", ledger, "--spells", spells, "--extraction-date", "2016-06-30", "--out", under],
        ["effects", "--panel", panel, "--outcomes", "y", "--out", under],
        ["effects", "--panel", panel, "--outcomes", "y", "--out", str(d / "e.csv"), "--plot",
         str(blocker / "fig.png")],
        ["costs", "--effects", str(SAMPLE / "ledger.csv"), "--scenarios", str(SAMPLE / "costs.toml"),
         "--out", str(d / "c.csv"), "--plot", str(blocker / "sub" / "c.png")],
        ["report", "--config", str(trial["config"]), "--dir", str(blocker)],
        ["demo", "--dir", str(blocker / "demo"), "--data", str(SAMPLE)],
    ]
    for args in cases:
        refused(args, d, f"{blocker} is a file, not a folder", "nothing was written")
    # a folder the user may not write in (simulated: tests may run as root, whom chmod does not stop)
    locked = d / "locked"
    locked.mkdir()
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda p, mode, **kw: not (Path(p) == locked and mode & os.W_OK)
                        and real_access(p, mode, **kw))
    refused(["panel", "--ledger", ledger, "--spells", spells, "--extraction-date", "2016-06-30",
             "--out", str(locked / "panel.parquet")], d, f"no permission to write in the folder {locked}")
    refused(["report", "--config", str(trial["config"]), "--dir", str(locked)], d,
            f"--dir {locked / 'report.html'}: no permission to write in the folder {locked}")
    # an output path that is a folder
    (d / "panel_dir.parquet").mkdir()
    refused(["panel", "--ledger", ledger, "--spells", spells, "--extraction-date", "2016-06-30",
             "--out", str(d / "panel_dir.parquet")], d, "panel_dir.parquet: is a folder, not a file")


def test_demo_refuses_a_folder_holding_someone_elses_trial(tmp_path, small_trial_data):
    target = tmp_path / "project"
    target.mkdir()
    (target / "ledger.csv").write_bytes((small_trial_data / "ledger.csv").read_bytes())
    (target / "ledger.manifest.jsonl").write_bytes((small_trial_data / "ledger.manifest.jsonl").read_bytes())
    (target / "notes.txt").write_text("keep me")
    refused(["demo", "--dir", str(target), "--data", str(small_trial_data)], tmp_path,
            f"Error: --dir {target}: ledger.csv is a randomisation ledger (its manifest ledger.manifest.jsonl is "
            "beside it) that the demo did not write (there is no demo_files.json listing the demo's files here); "
            "the demo never replaces or deletes a trial",
            "nothing was written or deleted")


# --------------------------------------------------------------------------------------------------
# panel: ids exact, mismatches loud
# --------------------------------------------------------------------------------------------------

LEDGER = "person_id,arm,visitation_date\n" + "".join(
    f"{i:07d},{'treatment' if i % 2 else 'control'},2016-03-01\n" for i in range(1, 11))


def spells_csv(ids) -> str:
    return "person_id,spell_type,start_date,end_date\n" + "".join(
        f"{i},internship,2016-03-05,2016-03-25\n" for i in ids)


def panel_args(d: Path, *extra: str) -> list[str]:
    return ["panel", "--ledger", str(d / "ledger.csv"), "--spells", str(d / "spells.csv"),
            "--extraction-date", "2016-03-31", "--weeks", "4", "--out", str(d / "panel.parquet"), *extra]


def test_panel_stops_when_spells_lost_their_leading_zeros(tmp_path):
    (tmp_path / "ledger.csv").write_text(LEDGER)
    (tmp_path / "spells.csv").write_text(spells_csv(range(1, 11)))       # 1 .. 10 for 0000001 .. 0000010
    out = refused(panel_args(tmp_path), tmp_path,
                  f"Error: {tmp_path / 'spells.csv'}: no spell matches any of the 10 persons in "
                  f"{tmp_path / 'ledger.csv'}",
                  "e.g. '1', '2', '3', '4', '5', …", "e.g. '0000001', '0000002'",
                  "Likely cause: 10 of the 10 spell ids not in the ledger equal a ledger id once leading zeros "
                  "are ignored (e.g. spell id '1' and ledger id '0000001')",
                  "--min-matched-share")
    assert not (tmp_path / "panel.parquet").exists()
    # 0 turns the check off; the panel is then built from the ledger alone
    ok = runner.invoke(app, panel_args(tmp_path, "--min-matched-share", "0"))
    assert ok.exit_code == 0, ok.output
    assert pd.read_parquet(tmp_path / "panel.parquet")["in_internship"].sum() == 0
    bad = runner.invoke(app, panel_args(tmp_path, "--min-matched-share", "1.5"))
    assert bad.exit_code == 2 and "--min-matched-share" in bad.output


def test_panel_share_from_option_and_config(tmp_path):
    (tmp_path / "ledger.csv").write_text(LEDGER)
    (tmp_path / "spells.csv").write_text(spells_csv([f"{i:07d}" for i in range(1, 5)]))     # 4 of 10
    refused(panel_args(tmp_path), tmp_path, "only 4 of the 10 persons", "(40.0 %)", "at least 50 % must have one",
            "Likely cause: the spells cover only part of the trial")
    ok = runner.invoke(app, panel_args(tmp_path, "--min-matched-share", "0.4"))
    assert ok.exit_code == 0, ok.output
    cfg = tmp_path / "trial.toml"
    cfg.write_text("[trial]\nseed = 1\ntreatment_share = 0.5\n[analysis]\nmin_matched_share = 0.3\n")
    ok = runner.invoke(app, panel_args(tmp_path, "--config", str(cfg)))
    assert ok.exit_code == 0, ok.output
    refused(panel_args(tmp_path, "--config", str(cfg), "--min-matched-share", "0.45"), tmp_path,
            "at least 45 % must have one")


def test_panel_names_ids_with_spaces_in_ledger_and_spells(tmp_path):
    (tmp_path / "ledger.csv").write_text(LEDGER.replace("0000003,", "0000003 ,"))
    (tmp_path / "spells.csv").write_text(spells_csv([f"{i:07d}" for i in range(1, 11)]))
    refused(panel_args(tmp_path), tmp_path, f"Error: {tmp_path / 'ledger.csv'}: column 'person_id' has leading "
            "or trailing spaces in 1 row (row 3) (e.g. '0000003 ')")
    (tmp_path / "ledger.csv").write_text(LEDGER)
    (tmp_path / "spells.csv").write_text(spells_csv([f"{i:07d}" for i in range(1, 11)] + [" 0000004"]))
    refused(panel_args(tmp_path), tmp_path, f"Error: {tmp_path / 'spells.csv'}: column 'person_id' has leading "
            "or trailing spaces in 1 row (row 11) (e.g. ' 0000004')")
