"""docs/reasons.md is generated from REASONS and the committed file is up to date."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from covlens.instrument.decision import REASONS

REPO = Path(__file__).resolve().parents[2]


def test_committed_reasons_doc_is_what_the_generator_writes():
    result = subprocess.run([sys.executable, str(REPO / "scripts" / "gen_reasons_doc.py"), "--check"],
                            capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr


def test_reasons_doc_has_a_section_per_reason_with_what_to_do():
    text = (REPO / "docs" / "reasons.md").read_text(encoding="utf-8")
    for reason in REASONS.values():
        assert f"\n## {reason.code}\n" in text
        assert reason.what_to_do in text
