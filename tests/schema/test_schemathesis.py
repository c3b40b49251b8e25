"""The published schema is the truth: schemathesis finds no server error and no disagreement.

A bounded, deterministic run (fixed seed, a few cases per operation and phase) over every
operation with every check; bench/schema_fuzz.py is the long run.
"""

from __future__ import annotations

from tests.schema_fuzz import counts, failure_details, fuzzed_server, run_schemathesis

CASES_PER_OPERATION = 3
SEED = 20261125


def test_every_operation_answers_as_its_schema_says(tmp_path):
    with fuzzed_server(tmp_path) as (server, seed):
        result = run_schemathesis(
            server, seed, tmp_path, max_examples=CASES_PER_OPERATION, seed_value=SEED
        )

    assert result.exit_code == 0, f"{failure_details(result)}\n{counts(result)}\n{result.summary}"
