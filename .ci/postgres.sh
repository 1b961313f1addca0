#!/usr/bin/env bash
# Start a throwaway PostgreSQL server on loopback for the shared-study test, and export
# FUNNELSIM_TEST_POSTGRES. Source it: `. .ci/postgres.sh`. Installs Debian's package if needed.
set -euo pipefail

if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
fi
pg_bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
pg_port=${FUNNELSIM_PG_PORT:-54329}
# a port still held (a server left by an interrupted run): take the next free one
while (exec 3<>"/dev/tcp/127.0.0.1/$pg_port") 2>/dev/null; do pg_port=$((pg_port + 1)); done
pg_data=$(mktemp -d /tmp/funnelsim-pg.XXXXXX)
chown postgres "$pg_data"
su postgres -s /bin/sh -c "$pg_bin/initdb -D $pg_data -A trust -U postgres" >/dev/null
su postgres -s /bin/sh -c "$pg_bin/pg_ctl -D $pg_data -l $pg_data/server.log -w \
  -o '-c listen_addresses=127.0.0.1 -p $pg_port -k $pg_data' start" >/dev/null
export FUNNELSIM_TEST_POSTGRES="postgresql://postgres@127.0.0.1:$pg_port/postgres"
export FUNNELSIM_PG_DATA="$pg_data"
export FUNNELSIM_PG_STOP="su postgres -s /bin/sh -c '$pg_bin/pg_ctl -D $pg_data -m fast stop'"
echo "PostgreSQL for tests at $FUNNELSIM_TEST_POSTGRES"
