"""The long schemathesis run of issue 10: every operation, every check, thousands of cases.

    .venv/bin/python bench/schema_fuzz.py [--examples 100] [--seed 1] [--output run.txt]

Starts a real server with auth on (SQLite, or the suite's PostgreSQL when DATABASE_URL names
one), seeds a project, runs schemathesis with every check and prints each failure (with a curl
command that reproduces it), then the counts: cases generated, passed and failed, and the
failures by kind. Goal: 0 server errors, 0 failures of any kind.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.schema_fuzz import (  # noqa: E402
    counts,
    failed_operations,
    failure_details,
    fuzzed_server,
    run_schemathesis,
)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--examples", type=int, default=100, help="cases per operation and phase")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--output", type=Path, help="also write schemathesis's whole output here")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        workdir = Path(folder)
        with fuzzed_server(workdir) as (server, seed):
            started = time.monotonic()
            result = run_schemathesis(
                server, seed, workdir, max_examples=options.examples, seed_value=options.seed
            )
            elapsed = time.monotonic() - started
    if options.output:
        options.output.write_text(result.output)
    details = failure_details(result)
    if details:
        print(f"{details}\n")
    for kind, operations in failed_operations(result).items():
        print(f"{kind}:")
        for operation in operations:
            print(f"    {operation}")
    print(f"\nschemathesis exit code {result.exit_code} after {elapsed:.0f} s, seed {options.seed}")
    for label, count in counts(result).items():
        print(f"{label:>45}: {count}")
    return result.exit_code


if __name__ == "__main__":
    raise SystemExit(main())
