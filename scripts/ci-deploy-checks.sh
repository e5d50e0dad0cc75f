#!/usr/bin/env bash
# Checks the shipped deployment files with the real tools, and installs what the process-level
# tests need (nginx for tests/process_nginx.rs; PostgreSQL's initdb/pg_ctl are already there for
# scripts/test-services.sh). Fails loudly on any error or warning.
#
#   1. `systemd-analyze verify deploy/querypad.service`: no output and exit 0. verify treats an
#      unknown key or a bad value as a warning (exit 0), so any line it prints fails here. It
#      also insists that ExecStart's binary exists, so the unit is verified inside a scratch
#      root (--root) holding the system's unit files and a stub at /usr/local/bin/querypad.
#   2. `systemd-analyze security --offline=true`: prints the table and the exposure figure, and
#      fails above the target (QUERYPAD_MAX_EXPOSURE, default 2.0).
#   3. `nginx -t` on deploy/nginx/querypad.conf included from a minimal nginx.conf in a scratch
#      prefix (never the system configuration, never a running nginx; the site's access log
#      path is pointed into the scratch prefix because `nginx -t` creates log files).
#
# Usage: scripts/ci-deploy-checks.sh   (as root in CI; needs apt-get when a tool is missing)
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
max_exposure=${QUERYPAD_MAX_EXPOSURE:-2.0}
say() { echo "ci-deploy-checks: $*"; }
fail() { echo "ci-deploy-checks: FAILED: $*" >&2; exit 1; }

# -- tools (quiet and idempotent) -----------------------------------------------------------
need=()
command -v systemd-analyze >/dev/null 2>&1 || need+=(systemd)
[ -x /usr/sbin/nginx ] || need+=(nginx)
if [ ${#need[@]} -gt 0 ]; then
    say "installing ${need[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null
    # policy-rc.d in CI images keeps the packaged nginx from starting; nothing here needs it.
    apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
command -v systemd-analyze >/dev/null 2>&1 || fail "systemd-analyze is not installed"
[ -x /usr/sbin/nginx ] || fail "/usr/sbin/nginx is not installed"
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 \
    || say "WARNING: no /usr/lib/postgresql/*/bin/initdb: tests/faults_postgres.rs will skip"

scratch=$(mktemp -d /tmp/querypad-deploy-checks.XXXXXX)
trap 'rm -rf "$scratch"' EXIT

# -- 1. systemd-analyze verify --------------------------------------------------------------
root=$scratch/root
mkdir -p "$root/etc/systemd/system" "$root/usr/lib/systemd" "$root/usr/local/bin"
cp -a /usr/lib/systemd/system "$root/usr/lib/systemd/"
cp deploy/querypad.service "$root/etc/systemd/system/querypad.service"
printf '#!/bin/sh\nexit 0\n' > "$root/usr/local/bin/querypad"
chmod 0755 "$root/usr/local/bin/querypad"
exec_start=$(sed -n 's/^ExecStart=\([^ ]*\).*/\1/p' deploy/querypad.service)
[ "$exec_start" = /usr/local/bin/querypad ] \
    || fail "ExecStart runs $exec_start; update the stub path in this script"
say "systemd-analyze verify deploy/querypad.service ($(systemd-analyze --version | head -1))"
set +e
verify_out=$(systemd-analyze verify --man=no --root="$root" querypad.service 2>&1)
verify_rc=$?
set -e
if [ $verify_rc -ne 0 ] || [ -n "$verify_out" ]; then
    echo "$verify_out" >&2
    fail "systemd-analyze verify: exit $verify_rc, $(echo -n "$verify_out" | grep -c '') line(s) of complaints"
fi
say "verify: OK (no warnings)"

# -- 2. systemd-analyze security ------------------------------------------------------------
security_out=$(systemd-analyze security --offline=true --no-pager deploy/querypad.service 2>&1) \
    || { echo "$security_out" >&2; fail "systemd-analyze security failed"; }
echo "$security_out" | grep '✗' || true
exposure=$(echo "$security_out" | sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p')
[ -n "$exposure" ] || { echo "$security_out" >&2; fail "no exposure figure in the output"; }
say "systemd-analyze security exposure: $exposure (target <= $max_exposure)"
awk -v e="$exposure" -v m="$max_exposure" 'BEGIN { exit !(e <= m) }' \
    || fail "exposure $exposure is above $max_exposure"

# -- 3. nginx -t ----------------------------------------------------------------------------
prefix=$scratch/nginx
mkdir -p "$prefix/logs" "$prefix/tmp"
# Verbatim but for the access log path: `nginx -t` opens (creates) every log file it names.
grep -q '/var/log/nginx/querypad.access.log' deploy/nginx/querypad.conf \
    || fail "deploy/nginx/querypad.conf no longer logs to /var/log/nginx/querypad.access.log; update this script"
sed "s#/var/log/nginx/querypad.access.log#$prefix/logs/querypad.access.log#" \
    deploy/nginx/querypad.conf > "$prefix/querypad.conf"
cat > "$prefix/nginx.conf" <<EOF
worker_processes 1;
pid $prefix/nginx.pid;
error_log $prefix/logs/error.log;
events { worker_connections 64; }
http {
    access_log $prefix/logs/access.log;
    client_body_temp_path $prefix/tmp/body;
    proxy_temp_path $prefix/tmp/proxy;
    fastcgi_temp_path $prefix/tmp/fastcgi;
    uwsgi_temp_path $prefix/tmp/uwsgi;
    scgi_temp_path $prefix/tmp/scgi;
    include $prefix/querypad.conf;
}
EOF
say "nginx -t on deploy/nginx/querypad.conf ($(/usr/sbin/nginx -v 2>&1))"
set +e
nginx_out=$(/usr/sbin/nginx -t -q -p "$prefix/" -e "$prefix/logs/error.log" -c "$prefix/nginx.conf" 2>&1)
nginx_rc=$?
set -e
if [ $nginx_rc -ne 0 ] || [ -n "$nginx_out" ]; then
    echo "$nginx_out" >&2
    fail "nginx -t: exit $nginx_rc"
fi
say "nginx -t: OK"
say "all deployment checks passed (repo $repo)"
