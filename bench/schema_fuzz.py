"""The long schemathesis run of issue 10: every operation, every check, thousands of cases.

    .venv/bin/python bench/schema_fuzz.py [--examples 100] [--seed 1]

Starts a real server with auth on (SQLite, or the suite's PostgreSQL when DATABASE_URL names
one), seeds a project, runs schemathesis with every check and prints the counts: cases
generated, passed, failed, and the failures by kind. Goal: 0 server errors, 0 schema violations.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.schema_fuzz import fuzzed_server, run_schemathesis  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--examples", type=int, default=100, help="cases per operation and phase")
    parser.add_argument("--seed", type=int, default=1)
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        workdir = Path(folder)
        with fuzzed_server(workdir) as (server, seed):
            started = time.monotonic()
            result = run_schemathesis(
                server, seed, workdir, max_examples=options.examples, seed_value=options.seed
            )
            elapsed = time.monotonic() - started
    print(result.summary)
    print(f"\nschemathesis exit code {result.exit_code} after {elapsed:.0f} s")
    return result.exit_code


if __name__ == "__main__":
    raise SystemExit(main())
