"""Field app budget (issue 17): first-load size, opening from the cache offline, and the browser's memory while an
outbox of 50 reports × 3 photos syncs — measured in Chromium by Playwright and printed.

    .venv/bin/python bench/field_bench.py

Runs tests/web/test_field_budget.py (skipped in the suite) against a live test server on a temporary SQLite database,
prints the figures with the baselines measured in the same run (opening online; memory before queueing), and exits
non-zero when a budget is exceeded: JS + CSS ≤ 200 KB gzip, offline open ≤ 1 s (median of 5), the page's renderer
process ≤ 150 MB PSS during the sync.
"""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    env = {**os.environ, "GRIDLOOP_BENCH": "1"}
    command = [str(ROOT / ".venv" / "bin" / "pytest"), "tests/web/test_field_budget.py", "-q", "-s",
               "-p", "no:cacheprovider", "-W", "ignore::pytest.PytestRemovedIn10Warning"]
    return subprocess.call(command, cwd=ROOT, env=env)


if __name__ == "__main__":
    sys.exit(main())
