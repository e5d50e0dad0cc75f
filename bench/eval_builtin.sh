#!/usr/bin/env bash
# The built-in generator on the public defog questions (190), through `querypad eval`: on the
# seven SQLite databases, then on PostgreSQL (loaded by scripts/load-defog.sh when
# QUERYPAD_TEST_PG_URL is set, e.g. after `eval "$(scripts/test-services.sh)"`).
# Targets (issue 4): precision (EX among answered) >= 90 %, coverage (answered) >= 30 %.
# Reports: target/eval/builtin_{sqlite,postgres}.json. Debug build: the run itself takes ~1 s.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
datasets=${QUERYPAD_DATASETS:-$here/../shared/datasets}
out=$here/target/eval
mkdir -p "$out"
cd "$here"
cargo build -q -p querypad --bin querypad
qp=$here/target/debug/querypad

echo "== built-in generator, SQLite (questions_gen_sqlite.csv)"
"$qp" eval --generator builtin \
  --questions "$datasets/defog/questions/questions_gen_sqlite.csv" \
  --databases "$datasets/defog/databases" \
  --report "$out/builtin_sqlite.json"

if [ -n "${QUERYPAD_TEST_PG_URL:-}" ]; then
  "$here/scripts/load-defog.sh"
  echo
  echo "== built-in generator, PostgreSQL (questions_gen_postgres.csv)"
  "$qp" eval --generator builtin \
    --questions "$datasets/defog/questions/questions_gen_postgres.csv" \
    --databases "${QUERYPAD_TEST_PG_URL%/}/{db}" \
    --report "$out/builtin_postgres.json"
else
  echo "SKIP PostgreSQL: QUERYPAD_TEST_PG_URL is not set (eval \"\$(scripts/test-services.sh)\")"
fi
