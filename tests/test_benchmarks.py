"""The benchmark script runs end to end on tiny sizes (no timing is asserted), so it cannot rot."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).parent.parent / "benchmarks" / "compare.py"


@pytest.mark.parametrize("compare", [True, False])
def test_compare_writes_the_report(tmp_path: Path, compare: bool) -> None:
    if compare and shutil.which("check-jsonschema", path=str(Path(sys.executable).parent)) is None:
        pytest.skip("check-jsonschema is in the dev extra")
    out = tmp_path / "BENCHMARKS.md"
    flags = [] if compare else ["--no-compare"]
    done = subprocess.run([sys.executable, str(SCRIPT), "--sizes", "3,5", "--repeat", "1",
                           "--out", str(out), *flags], capture_output=True, text=True,
                          check=False, timeout=300, env={**os.environ, "TMPDIR": str(tmp_path)})
    assert done.returncode == 0, done.stderr
    report = out.read_text()
    assert report == done.stdout
    assert "| 3 |" in report and "| 5 |" in report and "Machine: " in report
    assert "peak memory of the cold lint" in report
    assert ("warm lint 5 vs check-jsonschema" in report) is compare
