"""`make bench`: run every benchmark in turn; each prints its figures next to its peer's.

Benchmarks pin themselves to one core where the issue's floor is per core. Run them on an idle machine:
the numbers in docs/benchmarks.md were taken that way, with the command each section names.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> int:
    failed = 0
    for script in sorted(HERE.glob("bench_*.py")):
        print(f"\n=== {script.name} ===", flush=True)
        result = subprocess.run([sys.executable, str(script)], check=False)
        failed += result.returncode != 0
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
