#!/usr/bin/env bash
# Loads the seven defog evaluation databases (academic, advising, atis, geography, restaurants,
# scholar, yelp) into PostgreSQL from ../shared/datasets/defog/databases/<db>/<db>.sql.
# Idempotent: a database that exists and holds every table of its dump is left alone; one that is
# missing is created, and one that is partially loaded is dropped and loaded again.
# Usage: scripts/load-defog.sh   (PGHOST/PGPORT/PGUSER as for psql; default 127.0.0.1:5432, postgres)
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
datasets=${QUERYPAD_DATASETS:-$here/../shared/datasets}
export PGHOST=${PGHOST:-127.0.0.1} PGPORT=${PGPORT:-5432} PGUSER=${PGUSER:-postgres}
log() { echo "load-defog: $*" >&2; }

for dir in "$datasets"/defog/databases/*/; do
  db=$(basename "$dir")
  dump="$dir/$db.sql"
  [ -f "$dump" ] || continue
  want=$(grep -c '^CREATE TABLE ' "$dump")
  exists=$(psql -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = '$db'")
  if [ "$exists" = "1" ]; then
    have=$(psql -d "$db" -tAc "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'")
    [ "$have" = "$want" ] && continue
    log "$db holds $have of $want tables; loading it again"
    dropdb "$db"
  fi
  log "loading $db"
  createdb "$db"
  psql -d "$db" -q -v ON_ERROR_STOP=1 -f "$dump" >/dev/null
done
