"""`make bench`: run every benchmark in bench/ in turn; each prints its figures and ratios.

Benchmarks are never part of `make test` and never assert timings.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

BENCHES = ["plan_engine.py", "demo_build.py", "release_hour.py", "entry_window.py", "score_import.py"]


def main() -> int:
    here = Path(__file__).resolve().parent
    failed = []
    for name in BENCHES:
        print(f"\n=== bench/{name}", flush=True)
        if subprocess.call([sys.executable, str(here / name)], cwd=here.parent) != 0:
            failed.append(name)
    if failed:
        print(f"\nfailed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
