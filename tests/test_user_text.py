"""User-facing text explains the thing itself: no reference to internal planning documents."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
INTERNAL = re.compile(r"\bSPEC\b|SPEC\.md|§|\bissue \d+|\.\./shared|ARCHITECTURE\.md")


def test_docs_help_and_messages_name_no_internal_document():
    files = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")), *sorted((ROOT / "cli").glob("*.py")),
             *sorted((ROOT / "trialeval").rglob("*.py"))]
    found = [f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
             for path in files
             for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1)
             if INTERNAL.search(line)]
    assert len(files) > 30
    assert found == []
