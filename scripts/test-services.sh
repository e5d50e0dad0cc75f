#!/usr/bin/env bash
# Makes sure the test databases answer and hold the Chinook fixtures; prints the URLs the tests read.
# Idempotent: a fixture already loaded is left alone. Usage: eval "$(scripts/test-services.sh)"
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
datasets=${QUERYPAD_DATASETS:-$here/../shared/datasets}
log() { echo "test-services: $*" >&2; }

if ! pg_isready -q -h 127.0.0.1 -p 5432; then
  log "PostgreSQL is down; starting it"
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -1)" main start >&2
  for _ in $(seq 1 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done
fi
pg_isready -q -h 127.0.0.1 -p 5432 || { log "PostgreSQL does not answer on 127.0.0.1:5432"; exit 1; }

if ! mariadb -uroot -h127.0.0.1 -e 'SELECT 1' >/dev/null 2>&1; then
  log "MariaDB is down; starting it"
  start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd >&2
  for _ in $(seq 1 30); do mariadb -uroot -h127.0.0.1 -e 'SELECT 1' >/dev/null 2>&1 && break; sleep 1; done
fi
mariadb -uroot -h127.0.0.1 -e 'SELECT 1' >/dev/null || { log "MariaDB does not answer on 127.0.0.1:3306"; exit 1; }

# Chinook in PostgreSQL: database `chinook`, 11 tables, 3503 tracks when whole.
pg_tracks=$(psql -U postgres -h 127.0.0.1 -d chinook -tAc 'SELECT count(*) FROM track' 2>/dev/null || echo 0)
if [ "$pg_tracks" != "3503" ]; then
  log "loading Chinook into PostgreSQL"
  psql -U postgres -h 127.0.0.1 -q -v ON_ERROR_STOP=1 -f "$datasets/chinook/Chinook_PostgreSql.sql" >/dev/null 2>&1
fi
# Chinook in MariaDB: database `Chinook`.
my_tracks=$(mariadb -uroot -h127.0.0.1 -N -e 'SELECT count(*) FROM Chinook.Track' 2>/dev/null || echo 0)
if [ "$my_tracks" != "3503" ]; then
  log "loading Chinook into MariaDB"
  mariadb -uroot -h127.0.0.1 < "$datasets/chinook/Chinook_MySql.sql"
fi
# defog's evaluation databases in PostgreSQL (the eval harness and the built-in generator's tests).
QUERYPAD_DATASETS="$datasets" "$here/scripts/load-defog.sh" >&2
# A scratch database per engine for tests that create their own tables.
psql -U postgres -h 127.0.0.1 -tAc "SELECT 1 FROM pg_database WHERE datname='querypad_test'" | grep -q 1 \
  || psql -U postgres -h 127.0.0.1 -qc 'CREATE DATABASE querypad_test'
mariadb -uroot -h127.0.0.1 -e 'CREATE DATABASE IF NOT EXISTS querypad_test'

echo "export QUERYPAD_TEST_PG_URL=postgres://postgres@127.0.0.1:5432"
echo "export QUERYPAD_TEST_MYSQL_URL=mysql://root@127.0.0.1:3306"
echo "export QUERYPAD_DATASETS=$datasets"
