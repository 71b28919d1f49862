"""The native parsers (Rust, native/src) against the Python reference sources, on every input we have.

Ingest runs the native ports; `Source.parse` and the tests above run the Python ones. These checks feed
both the repository's fixtures, the shared corpora (auditd, EVE), generated benchmark corpora and seeded
mutations, and fail on any difference in documents, ids, dead letters or framing.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

NATIVE_TESTS = Path(__file__).resolve().parents[2] / "native" / "tests"


@pytest.mark.timeout(900)
@pytest.mark.parametrize(
    "check", ["check_suricata_parity.py", "check_auditd_parity.py", "check_modsecurity_parity.py"]
)
def test_native_parser_equals_python_reference(check: str) -> None:
    result = subprocess.run(
        [sys.executable, str(NATIVE_TESTS / check)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "different" in result.stdout.lower() or "differ" in result.stdout.lower(), result.stdout[-2000:]
