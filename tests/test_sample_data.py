from __future__ import annotations

import importlib.util
import shutil

import numpy as np


def load_generator(sample_dir):
    spec = importlib.util.spec_from_file_location("sample_generate", sample_dir / "generate.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_regenerating_the_sample_trial_gives_byte_identical_files(sample_dir, tmp_path):
    generator = load_generator(sample_dir)
    shutil.copy(sample_dir / "trial.toml", tmp_path / "trial.toml")
    generator.generate(tmp_path)
    for name in ("population.csv", "ledger.csv", "ledger.manifest.jsonl", "spells.csv", "dream.csv", "eindkomst.csv"):
        assert (tmp_path / name).read_bytes() == (sample_dir / name).read_bytes(), name


def test_true_curves_are_shaped_like_jobfirst(sample_dir):
    truth = load_generator(sample_dir).true_curves(np.array([35])).set_index("outcome")
    # SPEC §14: about 7 % of controls and 12 % of the programme group with ordinary hours at week 35
    assert round(truth.loc["has_ordinary_hours", "mean_control"], 2) == 0.07
    assert round(truth.loc["has_ordinary_hours", "mean_treatment"], 2) == 0.12
    assert 0.34 < truth.loc["in_internship", "mean_treatment"] < 0.36
    assert 0.12 <= truth.loc["in_internship", "mean_control"] <= 0.16
