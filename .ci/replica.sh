#!/usr/bin/env bash
# Starts a real PostgreSQL streaming replica of the local test server
# (127.0.0.1:5432) on 127.0.0.1:5433: pg_basebackup -R into a temporary
# directory, then pg_ctl. Prints nothing but errors; `stop` stops it.
#   bash .ci/replica.sh start|stop
set -euo pipefail

PORT=5433
DIR=/tmp/songmay-ci-replica
PRIMARY_HBA=$(psql -h 127.0.0.1 -U postgres -Atc 'SHOW hba_file')
PG_BIN=$(dirname "$(readlink -f "$(command -v pg_basebackup)")")
[ -x "$PG_BIN/postgres" ] || PG_BIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)

as_postgres() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

stop() {
  if [ -f "$DIR/postmaster.pid" ]; then
    as_postgres "$PG_BIN/pg_ctl" -D "$DIR" -m fast -w stop >/dev/null || true
  fi
  rm -rf "$DIR"
}

case "${1:-start}" in
stop)
  stop
  exit 0
  ;;
start) ;;
*)
  echo "usage: $0 start|stop" >&2
  exit 2
  ;;
esac

stop
# The test server trusts local connections; let it trust local replication too.
if ! grep -Eq '^host[[:space:]]+replication[[:space:]]+all[[:space:]]+127\.0\.0\.1/32[[:space:]]+trust' "$PRIMARY_HBA"; then
  echo "host replication all 127.0.0.1/32 trust" >>"$PRIMARY_HBA"
  psql -h 127.0.0.1 -U postgres -Atqc 'SELECT pg_reload_conf()' >/dev/null
  sleep 1
fi

mkdir -p "$DIR"
chown postgres:postgres "$DIR"
chmod 700 "$DIR"
# -R writes standby.signal and primary_conninfo; -X stream brings the WAL
# the copy needs.
as_postgres "$PG_BIN/pg_basebackup" -h 127.0.0.1 -p 5432 -U postgres -D "$DIR" -R -X stream -c fast
# A Debian cluster keeps its configuration outside the data directory: the
# copy gets its own, with the limits a standby must share with its primary.
same_as_primary() {
  psql -h 127.0.0.1 -U postgres -Atc "SELECT string_agg(name || ' = ' || setting, E'\n')
    FROM pg_settings WHERE name IN ('max_connections', 'max_worker_processes',
      'max_wal_senders', 'max_prepared_transactions', 'max_locks_per_transaction')"
}
as_postgres tee "$DIR/postgresql.conf" >/dev/null <<EOF
port = $PORT
listen_addresses = '127.0.0.1'
unix_socket_directories = '/tmp'
hot_standby = on
shared_buffers = 128MB
fsync = off
$(same_as_primary)
EOF
as_postgres tee "$DIR/pg_hba.conf" >/dev/null <<EOF
local all all trust
host all all 127.0.0.1/32 trust
EOF
as_postgres "$PG_BIN/pg_ctl" -D "$DIR" -l "$DIR/server.log" -w -t 60 start >/dev/null
for _ in $(seq 1 30); do
  pg_isready -q -h 127.0.0.1 -p "$PORT" && break
  sleep 1
done
[ "$(psql -h 127.0.0.1 -p "$PORT" -U postgres -Atc 'SELECT pg_is_in_recovery()')" = t ] || {
  echo "the replica on port $PORT is not a standby" >&2
  exit 1
}
