#!/usr/bin/env bash
# Issue 3's load benchmark: N concurrent runs of POST /mcp_agent/text-to-sql/ against a fake
# Anthropic server (2 s per call, 2 calls per run). Raises the open-files limit first (the
# client, the fake and the server each need about one descriptor per concurrent request, the
# server two), then builds and runs crates/server/benches/agent_load.rs in the release profile.
#
# Usage: bench/agent_load.sh [--n 100,1000,10000] [--delay-ms 2000] [--timeout-s 150] [--fake in-process|child]
set -euo pipefail
cd "$(dirname "$0")/.."
want=200000
hard=$(ulimit -Hn)
if [ "$hard" != unlimited ] && [ "$hard" -lt "$want" ]; then
  # Raising the hard limit needs CAP_SYS_RESOURCE; fall back to the hard limit.
  ulimit -Hn "$want" 2>/dev/null || true
fi
hard=$(ulimit -Hn)
if [ "$hard" = unlimited ] || [ "$hard" -ge "$want" ]; then ulimit -n "$want"; else ulimit -n "$hard"; fi
echo "agent_load.sh: open files limit $(ulimit -n) (hard $(ulimit -Hn))" >&2
exec cargo bench -p querypad --bench agent_load -- "$@"
