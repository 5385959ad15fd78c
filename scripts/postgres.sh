#!/usr/bin/env bash
# Starts a throwaway PostgreSQL server for the tests (installing Debian's `postgresql`
# package first when no server binaries are found) and prints its URL on stdout.
# The server also speaks TLS (`sslmode=require`) with a certificate for 127.0.0.1 from a
# throwaway CA, whose certificate is left in "$WCOMP_PG_DATA-ca.pem" for the tests.
# Idempotent: a server already running on the port (with its CA file) is reused.
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
ca="$data-ca.pem"
if "${as_owner[@]}" "$bin/pg_ctl" -D "$data" status >/dev/null 2>&1; then
  if [ -s "$ca" ]; then
    echo "$url"
    exit 0
  fi
  # A server from before TLS was set up: start afresh.
  "${as_owner[@]}" "$bin/pg_ctl" -D "$data" -m fast -w stop >/dev/null
fi
rm -rf "$data" "$ca"
mkdir -p "$data"
if [ "$(id -u)" = 0 ]; then chown postgres: "$data"; fi
"${as_owner[@]}" "$bin/initdb" -D "$data" -U wcomp --auth=trust -E UTF8 >/dev/null

# A CA and a server certificate it signed (a self-signed server certificate is a CA
# certificate, which verifying clients refuse to see as a server's).
certs=$(mktemp -d)
trap 'rm -rf "$certs"' EXIT
ec=(-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes)
openssl req -x509 "${ec[@]}" -days 3650 -subj "/CN=wcomp test CA" \
  -keyout "$certs/ca.key" -out "$certs/ca.crt" 2>/dev/null
openssl req "${ec[@]}" -subj "/CN=127.0.0.1" \
  -keyout "$certs/server.key" -out "$certs/server.csr" 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' \
  > "$certs/ext"
openssl x509 -req -in "$certs/server.csr" -CA "$certs/ca.crt" -CAkey "$certs/ca.key" \
  -CAcreateserial -days 3650 -extfile "$certs/ext" -out "$certs/server.crt" 2>/dev/null
install -m 600 "$certs/server.key" "$data/server.key"
install -m 644 "$certs/server.crt" "$data/server.crt"
if [ "$(id -u)" = 0 ]; then chown postgres: "$data/server.key" "$data/server.crt"; fi

"${as_owner[@]}" "$bin/pg_ctl" -D "$data" -l "$data/server.log" -w \
  -o "-p $port -k $data -c listen_addresses=127.0.0.1 -c ssl=on" start >/dev/null
install -m 644 "$certs/ca.crt" "$ca"
echo "$url"
