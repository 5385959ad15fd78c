#!/usr/bin/env bash
# Starts a throwaway PostgreSQL server for the tests (installing Debian's `postgresql`
# package first when no server binaries are found) and prints its URL on stdout.
# Idempotent: a server already running on the port is reused.
#   WCOMP_PG_PORT  port to listen on (default 55432)
#   WCOMP_PG_DATA  data directory (default /tmp/wcomp-pg)
set -euo pipefail
port=${WCOMP_PG_PORT:-55432}
data=${WCOMP_PG_DATA:-/tmp/wcomp-pg}

find_bin() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1; }
bin=$(find_bin)
if [ -z "$bin" ] || [ ! -x "$bin/initdb" ]; then
  echo "installing PostgreSQL from Debian's packages" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq postgresql >&2
  bin=$(find_bin)
fi

# The server refuses to run as root: use the package's `postgres` user then.
as_owner=()
if [ "$(id -u)" = 0 ]; then
  as_owner=(runuser -u postgres --)
fi

url="postgres://wcomp@127.0.0.1:$port/postgres"
if "${as_owner[@]}" "$bin/pg_ctl" -D "$data" status >/dev/null 2>&1; then
  echo "$url"
  exit 0
fi
rm -rf "$data"
mkdir -p "$data"
if [ "$(id -u)" = 0 ]; then chown postgres: "$data"; fi
"${as_owner[@]}" "$bin/initdb" -D "$data" -U wcomp --auth=trust -E UTF8 >/dev/null
"${as_owner[@]}" "$bin/pg_ctl" -D "$data" -l "$data/server.log" -w \
  -o "-p $port -k $data -c listen_addresses=127.0.0.1" start >/dev/null
echo "$url"
