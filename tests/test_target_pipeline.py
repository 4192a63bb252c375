"""``trialeval target`` and ``trialeval curves`` end to end: the sample target population recomputed from
its spells by hand, the pages docs/target.md and docs/curves.md run as written with the numbers they quote,
bad input stops before anything is written, and the report shows both sections."""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from trialeval import pipeline
from trialeval.config import load_config
from trialeval.report import build_report
from trialeval.report_target import control

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "sample_data" / "target"


def _blocks(page: str, lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", (ROOT / "docs" / page).read_text(encoding="utf-8"), flags=re.S)


def _run(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "trialeval.cli", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=600)


@pytest.fixture(scope="module")
def ran(tmp_path_factory) -> Path:
    """docs/target.md's command, run as written in a folder holding the sample data."""
    folder = tmp_path_factory.mktemp("target_doc")
    shutil.copytree(ROOT / "sample_data", folder / "sample_data", ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    commands = [line for block in _blocks("target.md", "bash") for line in block.replace("\\\n", " ").splitlines()
                if line.startswith("trialeval ")]
    assert len(commands) == 1
    done = _run(shlex.split(commands[0])[1:], folder)
    assert done.returncode == 0, done.stderr
    assert "not a lottery" in done.stdout
    return folder / "results"


def _week_spells(kind: str, first: str, last: str) -> pd.DataFrame:
    """Persons with a ``kind`` spell overlapping each ISO week from the Monday ``first`` to ``last``."""
    spells = pd.read_csv(SAMPLE / "spells.csv", parse_dates=["start_date", "end_date"])
    spells = spells.loc[spells["spell_type"] == kind]
    rows = []
    for monday in pd.date_range(first, last, freq="7D"):
        over = spells.loc[(spells["start_date"] <= monday + pd.Timedelta(days=6)) & (spells["end_date"] >= monday)]
        rows += [(p, monday) for p in over["person_id"].unique()]
    return pd.DataFrame(rows, columns=["person_id", "monday"])


def test_sample_numbers_recomputed_from_the_spells(ran):
    """The narrow group's persons and share with hours in 2017-W26, the gross group's persons, and the
    difference in differences of the narrow group's share with hours, from the spells with pandas."""
    population = pd.read_csv(SAMPLE / "population.csv")
    group = population.set_index("person_id")["stv_jobcentre"]
    curves = pd.read_csv(ran / "target_curves.csv").set_index(["population", "site_group", "calendar_week", "outcome"])
    benefit = _week_spells("benefit", "2016-10-24", "2017-06-26")
    hours = _week_spells("ordinary_hours", "2016-10-24", "2017-06-26").assign(y=1.0)
    last = benefit.loc[benefit["monday"] == "2017-06-26"].merge(hours, on=["person_id", "monday"], how="left")
    last["site_group"] = last["person_id"].map(group)
    for g, rows in last.groupby("site_group"):
        cell = curves.loc[("narrow", g, 201726, "has_ordinary_hours")]
        assert cell["n_followed"] == len(rows)
        assert cell["mean"] == pytest.approx(rows["y"].fillna(0).mean(), abs=1e-12)
        entered = population.loc[population["person_id"].isin(benefit["person_id"]) & (population["stv_jobcentre"] == g)]
        assert curves.loc[("gross", g, 201726, "has_ordinary_hours"), "n_followed"] == len(entered)
    # two-period difference in differences of the narrow group: four cell means of person-weeks
    rows = benefit.merge(hours, on=["person_id", "monday"], how="left").fillna({"y": 0.0})
    rows["site_group"] = rows["person_id"].map(group)
    rows["when"] = np.where(rows["monday"] <= "2016-12-26", "before", np.where(rows["monday"] >= "2017-04-03",
                                                                                 "after", ""))
    m = rows.loc[rows["when"] != ""].groupby(["site_group", "when"])["y"].mean()
    did = pd.read_csv(ran / "target_did.csv").set_index(["population", "outcome", "site_group"])
    expected = (m["yes", "after"] - m["yes", "before"]) - (m["no", "after"] - m["no", "before"])
    assert did.loc[("narrow", "has_ordinary_hours", "difference"), "change"] == pytest.approx(expected, abs=1e-12)
    assert did.loc[("narrow", "has_ordinary_hours", "yes"), "mean_before"] == pytest.approx(m["yes", "before"], abs=1e-12)


def test_the_page_quotes_the_numbers_it_produces(ran):
    page = (ROOT / "docs" / "target.md").read_text(encoding="utf-8")
    curves = pd.read_csv(ran / "target_curves.csv").set_index(["population", "site_group", "calendar_week", "outcome"])
    did = pd.read_csv(ran / "target_did.csv").set_index(["population", "outcome", "site_group"])
    n = {(p, g): int(curves.loc[(p, g, 201726, "has_ordinary_hours"), "n_followed"])
         for p in ("gross", "narrow") for g in ("yes", "no")}
    assert (f"the gross group holds {n['gross', 'yes']} persons at the programme jobcentres and {n['gross', 'no']} at "
            f"the\nothers; the narrow group {n['narrow', 'yes']} and {n['narrow', 'no']}") in page
    row = did.loc[("narrow", "has_ordinary_hours")]

    def f(v: float) -> str:
        return f"{v:.3f}".replace("-", "−")
    assert f"rose by {f(row.loc['yes', 'change'])} at the\nprogramme jobcentres and by {f(row.loc['no', 'change'])}" in page
    d = row.loc["difference"]
    assert (f"a difference in differences of\n{f(d['change'])} (95 % CI {f(d['ci_low'])} to {f(d['ci_high'])}, "
            f"{int(d['n_sites'])} jobcentres)") in page
    assert sorted(p.name for p in ran.iterdir()) == ["target_curves.csv", "target_did.csv",
                                                    "target_has_ordinary_hours.png", "target_in_internship.png"]


def test_prefix_outputs_and_bad_input_write_nothing(tmp_path):
    cfg = SAMPLE / "trial.toml"
    step = pipeline.target(SAMPLE / "population.csv", SAMPLE / "spells.csv", cfg, "2017-07-02", tmp_path / "stv",
                           lang="da", min_cell=10)
    assert sorted(p.name for p in step.written) == ["stv_curves.csv", "stv_did.csv", "stv_has_ordinary_hours.png",
                                                    "stv_in_internship.png"]
    assert "ikke en lodtrækning" in step.summary()
    small = pd.read_csv(tmp_path / "stv_curves.csv")
    assert small["n_followed"].dropna().min() >= 10
    # an output that is an input; a population without the site group: exit 1, nothing written
    out = tmp_path / "again"
    out.mkdir()
    shutil.copy(SAMPLE / "population.csv", out / "target_curves.csv")
    done = _run(["target", "--population", str(out / "target_curves.csv"), "--spells", str(SAMPLE / "spells.csv"),
                 "--config", str(cfg), "--extraction-date", "2017-07-02", "--out", f"{out}/"], tmp_path)
    assert done.returncode == 1 and "an output never replaces an input" in done.stderr
    pd.read_csv(SAMPLE / "population.csv").drop(columns="stv_jobcentre").to_csv(tmp_path / "pop.csv", index=False)
    done = _run(["target", "--population", "pop.csv", "--spells", str(SAMPLE / "spells.csv"), "--config", str(cfg),
                 "--extraction-date", "2017-07-02", "--out", "bad/"], tmp_path)
    assert done.returncode == 1 and "column 'stv_jobcentre' ([target] site_group) is missing" in done.stderr
    assert "Traceback" not in done.stderr and not (tmp_path / "bad").exists()
    bad = tmp_path / "bad.toml"
    bad.write_text(cfg.read_text().replace('to = "2017-W26"', 'to = "2016-W40"'))
    done = _run(["target", "--population", str(SAMPLE / "population.csv"), "--spells", str(SAMPLE / "spells.csv"),
                 "--config", str(bad), "--out", "bad/"], tmp_path)
    assert done.returncode == 1 and "from (2016-W43) is after to (2016-W40)" in done.stderr


def test_curves_page_runs_as_written_and_its_numbers_hold(tmp_path):
    shutil.copytree(ROOT / "sample_data", tmp_path / "sample_data", ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    (tmp_path / "curves.toml").write_text(_blocks("curves.md", "toml")[0], encoding="utf-8")
    commands = [line for block in _blocks("curves.md", "bash") for line in block.splitlines()
                if line.startswith("trialeval ")]
    assert [c.split()[1] for c in commands] == ["panel", "curves"]
    for line in commands:
        done = _run(shlex.split(line)[1:], tmp_path)
        assert done.returncode == 0, done.stderr
    table = pd.read_csv(tmp_path / "curves.csv")
    assert {"curves_has_ordinary_hours.png", "curves_in_internship.png"} <= {p.name for p in tmp_path.iterdir()}
    # independent: the panel and the ledger with pandas
    panel = pd.read_parquet(tmp_path / "panel.parquet")
    ledger = pd.read_csv(ROOT / "sample_data" / "ledger.csv")
    week1 = panel.loc[panel["week"] == 1].merge(ledger[["person_id", "wave"]], on="person_id")
    t = table.loc[(table["week"] == 1) & (table["outcome"] == "has_ordinary_hours")].set_index("group")
    assert t.loc["all", "n_followed"] == week1["has_ordinary_hours"].notna().sum()
    assert t.loc["wave_1", "n_followed"] == (week1["wave"] == 1).sum()
    assert t.loc["comparison", "n_followed"] == (week1["arm"] == "control").sum()
    assert t.loc["all", "mean"] == pytest.approx(week1["has_ordinary_hours"].mean(), abs=1e-12)
    page = (ROOT / "docs" / "curves.md").read_text(encoding="utf-8")
    n = {g: f"{int(t.loc[g, 'n_followed']):,}" for g in t.index}
    assert (f"In week 1, {n['all']} persons are followed in the whole group, {n['wave_1']} in wave 1 and "
            f"{n['comparison']} in the control group,\nand {100 * t.loc['all', 'mean']:.1f} % of the whole group has "
            f"ordinary hours ({100 * t.loc['comparison', 'mean']:.1f} % of the control group)") in page
    assert not {"effect", "se", "ci_low", "ci_high"} & set(table.columns)


def test_report_shows_the_target_and_curves_sections(tmp_path, sample_dir):
    for name in ("ledger.csv", "ledger.manifest.jsonl", "trial.toml"):
        shutil.copy(sample_dir / name, tmp_path / name)
    pipeline.target(SAMPLE / "population.csv", SAMPLE / "spells.csv", SAMPLE / "trial.toml", "2017-07-02",
                    f"{tmp_path}/", min_cell=0)
    ledger = pd.read_csv(sample_dir / "ledger.csv", dtype={"person_id": str})
    panel = pd.DataFrame({"person_id": np.repeat(ledger["person_id"].to_numpy()[:60], 2), "week": [1, 2] * 60,
                          "has_ordinary_hours": [1, 1] * 3 + [0, 0] * 57})   # 3 of 60 with hours
    panel.to_csv(tmp_path / "panel.csv", index=False)
    config = tmp_path / "curves.toml"
    config.write_text('[trial]\nseed = 1\ntreatment_share = 0.5\n[curves.groups]\nall = "true"\n'
                      'control = "arm == \'control\'"\n[curves.labels]\nall = { en = "Everyone", da = "Alle" }\n')
    pipeline.curves(tmp_path / "panel.csv", tmp_path / "ledger.csv", config, tmp_path / "curves.csv",
                    outcomes=["has_ordinary_hours"], min_cell=0)
    written = pd.read_csv(tmp_path / "curves.csv").set_index(["group", "week"])
    assert written.loc[("all", 2), "mean"] == 0.05                  # min_cell 0: in the file
    controlled = control(written.reset_index(), 5).set_index(["group", "week"])
    assert controlled.loc[[("all", 1), ("all", 2)], "suppressed"].all()      # 3 of 60 with hours each week
    for lang, heading, note in (("en", "Target population over calendar time", "not a lottery"),
                                ("da", "Målgruppe over kalendertid", "ikke en lodtrækning")):
        result = build_report(load_config(sample_dir / "trial.toml"), tmp_path, path=tmp_path / f"r_{lang}.html",
                              lang=lang)
        html = result.path.read_text(encoding="utf-8")
        assert {"target", "curves"} <= set(result.sections)
        assert f"<h2>{heading}</h2>" in html and note in html
        assert html.count("data:image/png;base64,") == result.figures
    assert "Kurver pr. gruppe" in html and "Alle" in html           # the table's Danish label (no [curves] here)
    section = html.split("<h2>Kurver pr. gruppe</h2>")[1]
    assert "0,050" not in section and "5,0" not in section


def test_regenerating_the_sample_target_population_gives_identical_files(tmp_path):
    import importlib.util
    spec = importlib.util.spec_from_file_location("target_generate", SAMPLE / "generate.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.generate(tmp_path)
    for name in ("population.csv", "spells.csv"):
        assert (tmp_path / name).read_bytes() == (SAMPLE / name).read_bytes(), name
    assert sum((SAMPLE / n).stat().st_size for n in ("population.csv", "spells.csv")) < 2_000_000
