"""The whole pipeline on the sample trial (``trialeval demo``).

The draw is re-run wave by wave from the requests recorded in ``sample_data/ledger.manifest.jsonl`` into a
fresh ledger in the output folder, so the demo exercises the real draw; the result must equal the
committed ledger, which ``verify`` then confirms.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from trialeval.draw import manifest_path, read_manifest, run_draw, run_exclude, verify
from trialeval.exceptions import InputDataError
from trialeval.io import read_ledger
from trialeval.power import power

SAMPLE_FILES = ("population.csv", "trial.toml", "ledger.csv", "spells.csv")


@dataclass(frozen=True, eq=False)
class DemoResult:
    """What the demo wrote, and the summaries of its steps."""

    out_dir: Path
    files: tuple[Path, ...]
    steps: dict[str, str] = field(default_factory=dict)

    def summary(self) -> str:
        steps = "\n\n".join(f"== {name} ==\n{text}" for name, text in self.steps.items())
        files = "\n".join(f"  {p.relative_to(self.out_dir)}" for p in self.files)
        return f"{steps}\n\nWrote {len(self.files)} files to {self.out_dir}:\n{files}"

    def to_dict(self) -> dict[str, Any]:
        return {"out_dir": str(self.out_dir), "files": [str(p) for p in self.files], "steps": dict(self.steps)}


def run_demo(
    out_dir: str | Path = "trialeval-demo",
    data_dir: str | Path = "sample_data",
    progress: Callable[[int, int], None] | None = None,
) -> DemoResult:
    """Run the pipeline on the sample trial and write every output into ``out_dir``.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> result = run_demo(pathlib.Path(tempfile.mkdtemp()) / "demo")  # doctest: +SKIP
    """
    data_dir, out_dir = Path(data_dir), Path(out_dir)
    missing = [name for name in SAMPLE_FILES if not (data_dir / name).is_file()]
    if missing:
        raise InputDataError(f"{data_dir}: the sample trial is incomplete; missing {', '.join(missing)}")
    out_dir.mkdir(parents=True, exist_ok=True)
    population, config = data_dir / "population.csv", out_dir / "trial.toml"
    shutil.copyfile(data_dir / "trial.toml", config)
    ledger = out_dir / "ledger.csv"
    for stale in (ledger, manifest_path(ledger)):
        stale.unlink(missing_ok=True)  # the demo folder is ours to rebuild

    steps: dict[str, str] = {}
    waves = read_manifest(manifest_path(data_dir / "ledger.csv"))
    for i, entry in enumerate(waves, start=1):
        run_draw(population, config, ledger, entry["requests"], entry["date"])
        if progress is not None:
            progress(i, len(waves))
    checked = verify(population, config, ledger)
    steps["draw"] = f"{len(waves)} weekly waves drawn into {ledger.name}."
    steps["verify"] = checked.summary()
    if not checked.ok:
        raise InputDataError(f"{ledger}: the demo's own draw does not verify:\n{checked.summary()}")
    recorded = read_ledger(data_dir / "ledger.csv")
    for row in recorded.loc[recorded["excluded"]].itertuples():
        run_exclude(ledger, row.person_id, row.exclusion_reason, row.exclusion_date)
    steps["exclusions"] = f"{int(recorded['excluded'].sum())} post-draw exclusions recorded (rows kept)."
    n_drawn = sum(int(e["n_drawn"]) for e in waves)
    steps["power"] = power(n_drawn, proportion=0.07).summary()

    files = tuple(sorted(p for p in out_dir.rglob("*") if p.is_file()))
    return DemoResult(out_dir=out_dir, files=files, steps=steps)
