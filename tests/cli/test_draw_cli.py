from __future__ import annotations

from typer.testing import CliRunner

from trialeval.cli import app
from trialeval.draw import manifest_path

runner = CliRunner()


def args(t, *extra):
    return ["draw", "--population", str(t["population"]), "--config", str(t["config"]),
            "--ledger", str(t["ledger"]), *extra]


def test_draw_verify_exclude_round_trip(small_trial):
    t = small_trial
    first = runner.invoke(app, args(t, "--request", "North=4", "--request", "South=2", "--date", "2016-03-01"))
    assert first.exit_code == 0, first.output
    assert "Wave 1 on 2016-03-01: 12 drawn (6 treatment, 6 control)" in first.output
    assert "age >= 30" in first.output and "25 removed" in first.output
    ok = runner.invoke(app, ["verify", "--population", str(t["population"]), "--config", str(t["config"]),
                             "--ledger", str(t["ledger"])])
    assert ok.exit_code == 0 and "1 wave(s) replayed, 12 persons" in ok.output
    person = t["ledger"].read_text().splitlines()[1].split(",")[0]
    ex = runner.invoke(app, ["exclude", "--ledger", str(t["ledger"]), "--person", person, "--reason", "health",
                             "--date", "2016-03-10"])
    assert ex.exit_code == 0 and f"Excluded {person}" in ex.output
    again = runner.invoke(app, ["exclude", "--ledger", str(t["ledger"]), "--person", person, "--reason", "x"])
    assert again.exit_code == 1 and "already excluded" in again.output


def test_bad_request_exits_1_and_writes_nothing(small_trial):
    t = small_trial
    result = runner.invoke(app, args(t, "--request", "North=999", "--date", "2016-03-01"))
    assert result.exit_code == 1
    assert "Error: request larger than the pool: 'North' asks for 999 places" in result.output
    assert not t["ledger"].exists() and not manifest_path(t["ledger"]).exists()


def test_tampered_ledger_fails_verify_with_exit_1(small_trial):
    t = small_trial
    runner.invoke(app, args(t, "--request", "North=4", "--date", "2016-03-01"))
    lines = t["ledger"].read_text().splitlines(keepends=True)
    swapped = lines[1].replace(",treatment,", ",XX,").replace(",control,", ",treatment,").replace(",XX,", ",control,")
    t["ledger"].write_text(lines[0] + swapped + "".join(lines[2:]))
    result = runner.invoke(app, ["verify", "--population", str(t["population"]), "--config", str(t["config"]),
                                 "--ledger", str(t["ledger"])])
    assert result.exit_code == 1 and "does NOT match" in result.output and "has arm" in result.output


def test_power_command():
    result = runner.invoke(app, ["power", "--n", "1000", "--sd", "1"])
    assert result.exit_code == 0 and "Minimum detectable effect: 0.1772" in result.output
    bad = runner.invoke(app, ["power", "--n", "1000"])
    assert bad.exit_code == 1 and "exactly one of sd" in bad.output


def test_usage_error_is_exit_2_and_version():
    assert runner.invoke(app, ["draw"]).exit_code == 2
    version = runner.invoke(app, ["--version"])
    assert version.exit_code == 0 and version.output.startswith("trialeval 0.1.0")


def test_debug_reraises_input_errors(small_trial):
    from trialeval.exceptions import DesignError

    t = small_trial
    result = runner.invoke(app, ["--debug", *args(t, "--request", "Nowhere=1", "--date", "2016-03-01")])
    assert isinstance(result.exception, DesignError)


def test_draw_and_exclude_wait_for_the_lock_then_exit_1(small_trial):
    from trialeval.draw import ledger_lock

    t = small_trial
    assert runner.invoke(app, args(t, "--request", "North=2", "--date", "2016-03-01")).exit_code == 0
    before = t["ledger"].read_bytes(), manifest_path(t["ledger"]).read_bytes()
    person = t["ledger"].read_text().splitlines()[1].split(",")[0]
    with ledger_lock(t["ledger"]):
        busy = runner.invoke(app, args(t, "--request", "North=2", "--date", "2016-03-08", "--lock-timeout", "0.2"))
        busy_ex = runner.invoke(app, ["exclude", "--ledger", str(t["ledger"]), "--person", person, "--reason", "x",
                                      "--lock-timeout", "0"])
    assert busy.exit_code == 1 and busy_ex.exit_code == 1
    assert "another draw or exclusion is writing this ledger; waited 0.2 s" in busy.output
    assert "another draw or exclusion is writing this ledger; waited 0 s" in busy_ex.output
    assert (t["ledger"].read_bytes(), manifest_path(t["ledger"]).read_bytes()) == before
    bad = runner.invoke(app, args(t, "--request", "North=2", "--date", "2016-03-08", "--lock-timeout", "-1"))
    assert bad.exit_code == 2


def test_a_draw_killed_between_renames_makes_the_next_draw_exit_1(small_trial):
    t = small_trial
    runner.invoke(app, args(t, "--request", "North=2", "--date", "2016-03-01"))
    mpath = manifest_path(t["ledger"])
    ledger_before = t["ledger"].read_bytes()
    runner.invoke(app, args(t, "--request", "South=2", "--date", "2016-03-08"))
    t["ledger"].write_bytes(ledger_before)          # as if killed after the manifest's rename
    result = runner.invoke(app, args(t, "--request", "South=2", "--date", "2016-03-15"))
    assert result.exit_code == 1
    assert (f"Error: {t['ledger']}: the last event (wave 2, date 2016-03-08) was recorded in the manifest but "
            f"its ledger was never written; the ledger is as after the previous event; to recover, remove the "
            f"last line of {mpath} and run the draw again") in " ".join(result.output.split())
    assert t["ledger"].read_bytes() == ledger_before
    spells = t["dir"] / "spells.csv"
    spells.write_text("person_id,spell_type,start_date,end_date\nid0001,benefit,2016-01-01,2016-05-01\n")
    person = t["ledger"].read_text().splitlines()[1].split(",")[0]
    for command in (["exclude", "--ledger", str(t["ledger"]), "--person", person, "--reason", "x"],
                    ["balance", "--ledger", str(t["ledger"]), "--out", str(t["dir"] / "balance.csv"),
                     "--covariates", "age"],
                    ["panel", "--ledger", str(t["ledger"]), "--spells", str(spells), "--out",
                     str(t["dir"] / "panel.parquet"), "--extraction-date", "2016-05-01", "--weeks", "4"],
                    ["verify", "--population", str(t["population"]), "--config", str(t["config"]),
                     "--ledger", str(t["ledger"])]):
        other = runner.invoke(app, command)
        assert other.exit_code == 1, (command[0], other.output)
        assert ("the last event (wave 2, date 2016-03-08) was recorded in the manifest but its ledger was never "
                "written") in " ".join(other.output.split()), (command[0], other.output)
    assert t["ledger"].read_bytes() == ledger_before
    assert not (t["dir"] / "balance.csv").exists() and not (t["dir"] / "panel.parquet").exists()


def test_design_change_option_and_several_populations(small_trial):
    t = small_trial
    assert runner.invoke(app, args(t, "--request", "North=2", "--date", "2016-03-01")).exit_code == 0
    t["config"].write_text(t["config"].read_text().replace("seed = 99", "seed = 7"))
    refused = runner.invoke(app, args(t, "--request", "North=2", "--date", "2016-03-08"))
    assert refused.exit_code == 1 and "seed 99 in wave 1, 7 now" in refused.output
    second_pop = t["dir"] / "population_2.csv"
    second_pop.write_text(t["population"].read_text() + "zz0001,South,F,40,True\n")
    changed = runner.invoke(app, ["draw", "--population", str(second_pop), "--config", str(t["config"]),
                                  "--ledger", str(t["ledger"]), "--request", "North=2", "--date", "2016-03-08",
                                  "--design-change", "new seed after an audit"])
    assert changed.exit_code == 0, changed.output
    verify_args = ["verify", "--config", str(t["config"]), "--ledger", str(t["ledger"])]
    one = runner.invoke(app, verify_args + ["--population", str(t["population"])])
    assert one.exit_code == 1 and "wave 2 was drawn from a population file with SHA-256" in one.output
    both = runner.invoke(app, verify_args + ["--population", str(t["population"]), "--population", str(second_pop)])
    assert both.exit_code == 0 and "2 wave(s) replayed" in both.output, both.output
