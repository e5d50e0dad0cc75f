#!/usr/bin/env bash
# Schema linking alone (`querypad eval linking`): gold-table and gold-column recall and the
# share of the schema's columns placed in context, with at most a third of each schema's
# columns, on Spider dev (1034 questions) and BIRD mini-dev (500, with and without evidence);
# then every Spider schema merged into one database of 876 tables under the context builder's
# budget of 400 columns. Targets (issue 4): table recall >= 0.99 on Spider, >= 0.97 on BIRD.
# Tokens are estimated at 4 characters a token, linked context vs the whole schema.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
datasets=${QUERYPAD_DATASETS:-$here/../shared/datasets}
out=$here/target/eval
mkdir -p "$out"
cd "$here"
cargo build -q -p querypad --bin querypad
qp=$here/target/debug/querypad

echo "== Spider dev, a third of each schema's columns"
"$qp" eval linking --tables "$datasets/spider-dev/tables.json" --questions "$datasets/spider-dev/dev.json" --report "$out/linking_spider.json"
echo
echo "== BIRD mini-dev with evidence, a third of each schema's columns"
"$qp" eval linking --tables "$datasets/bird-minidev/tables.json" --questions "$datasets/bird-minidev/mini_dev_sqlite.json" --report "$out/linking_bird.json"
echo
echo "== BIRD mini-dev without evidence"
"$qp" eval linking --no-evidence --tables "$datasets/bird-minidev/tables.json" --questions "$datasets/bird-minidev/mini_dev_sqlite.json"
echo
echo "== Spider dev, all 166 schemas as one database, 400 columns in context"
"$qp" eval linking --merged --max-columns 400 --tables "$datasets/spider-dev/tables.json" --questions "$datasets/spider-dev/dev.json" --report "$out/linking_spider_merged.json"
