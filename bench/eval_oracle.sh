#!/usr/bin/env bash
# The evaluation harness proving itself on every public defog question (the test suite runs a
# sample): an oracle generator — the fake LLM answering each question's gold SQL through
# `submit_sql` — must score 100 %, and a generator answering one fixed wrong query 0 %, through
# the real agent path, on SQLite and (with QUERYPAD_TEST_PG_URL) PostgreSQL.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
if [ -n "${QUERYPAD_TEST_PG_URL:-}" ]; then "$here/scripts/load-defog.sh"; fi
cargo test -q -p querypad-agent --test eval_harness -- --ignored --nocapture --test-threads 1 2>&1 \
  | grep -E "oracle:|fixed wrong|test result|SKIP|panicked"
