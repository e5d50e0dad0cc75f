#!/usr/bin/env bash
# Browser tests of the web UI: Debian's headless Chromium driven by playwright-core (from npm,
# pinned in tests/e2e/package-lock.json; never `npx playwright install`), against the real
# querypad binary with a fake LLM, run by Node's test runner. Screenshots of each step go to
# tests/e2e/artifacts/ (git-ignored). Exits non-zero when a test fails.
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
[ -x /usr/bin/chromium ] || missing+=(chromium)
command -v node >/dev/null || missing+=(nodejs)
command -v npm >/dev/null || missing+=(npm)
if [ "${#missing[@]}" -gt 0 ]; then
  echo "== installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${missing[@]}" >/dev/null
fi

echo "== npm ci (tests/e2e)"
(cd tests/e2e && npm ci --no-audit --no-fund --loglevel=error)

echo "== building querypad"
cargo build -q -p querypad
export QUERYPAD_BIN="${CARGO_TARGET_DIR:-$PWD/target}/debug/querypad"

echo "== browser tests"
rm -rf tests/e2e/artifacts
cd tests/e2e
# TAP on stdout ends with Node's standard summary: "# tests N", "# pass N", "# fail N".
status=0
node --test --test-concurrency=1 --test-reporter=tap ui.test.mjs || status=$?
echo "screenshots: tests/e2e/artifacts/"
exit "$status"
