#!/usr/bin/env bash
# Runs the whole test suite against real databases: makes sure PostgreSQL and MariaDB answer and
# hold the fixtures (scripts/test-services.sh), then `cargo test` for the whole workspace.
set -euo pipefail
cd "$(dirname "$0")/.."
eval "$(scripts/test-services.sh)"
cargo test --workspace --locked "$@"
