#!/usr/bin/env bash
# Benchmark of the web interface: how long the server takes per page, and how big each page
# is, on a registry seeded with 10,000 repositories, 100,000 tags and 10,000 indexed
# components. A measurement, not a test: run it by hand on an idle machine.
#
#   cargo build --release -p wcomp-registry --bin wcomp-registry && cargo build -p wcomp
#   registry-server/scripts/bench-ui.sh
#
# The rows go straight into the SQLite database (the HTTP API would take an hour to push
# 100,000 tags): each repository `bench/rNNNNN` gets one manifest, ten tags and one
# component-index entry exporting `bench:ifaceNN/api` (100 repositories each) and importing
# `wasi:http/incoming-handler` (all of them). The artifact page is a real one: a WIT package
# published, signed and attested, by `wcomp publish`. Every page is fetched 200 times, one
# after the other, by one curl process on one connection; the figures are curl's
# time_total (request sent to last byte, on loopback) and the page size before compression.
# The server runs without authentication (`--insecure-no-auth`), so every listing sees
# every repository: the largest pages.
set -euo pipefail

root="$(cd "$(dirname "$0")/../.." && pwd)"
server="${WCOMP_REGISTRY_BIN:-$root/target/release/wcomp-registry}"
wcomp="${WCOMP_BIN:-$root/target/debug/wcomp}"
requests="${BENCH_REQUESTS:-200}"
for t in "$server" "$wcomp" curl python3; do
  command -v "$t" >/dev/null 2>&1 || [ -x "$t" ] || { echo "missing: $t" >&2; exit 2; }
done
source "$root/registry-server/scripts/lib/bench-common.sh"

work="$(mktemp -d)"
pid=""
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
port=$(free_port)
start() {
  "$server" serve --insecure-no-auth --listen "127.0.0.1:$port" --data-dir "$work/data" >"$work/server.log" 2>&1 &
  pid=$!
  wait_up "$port"
}
stop() { kill "$pid"; wait "$pid" 2>/dev/null || true; pid=""; }

echo "== a real artifact: a WIT package, signed and attested by wcomp publish"
start
export HOME="$work/home" WCOMP_CONFIG_DIR="$work/home/config" WCOMP_KEY_PASSWORD=bench NO_COLOR=1
mkdir -p "$HOME"
"$wcomp" key generate >/dev/null
cat > "$work/api.wit" <<'EOF'
package bench:docs@1.0.0;

/// Records and the operations on them.
interface records {
  record rec { id: u32, name: string, tags: list<string> }
  variant failure { missing(u32), invalid(string) }
  get: func(id: u32) -> result<rec, failure>;
  put: func(r: rec) -> result<_, failure>;
  all: func(offset: u32, limit: u32) -> list<rec>;
}

world service { export records; import wasi:cli/environment@0.2.0; }

package wasi:cli@0.2.0 { interface environment { get-arguments: func() -> list<string>; } }
EOF
"$wcomp" publish "$work/api.wit" "127.0.0.1:$port/bench/docs:1.0.0" >/dev/null
stop

echo "== seeding 10,000 repositories, 100,000 tags, 10,000 components into SQLite"
python3 - "$work/data/registry.db" <<'EOF'
import hashlib, sqlite3, sys
db = sqlite3.connect(sys.argv[1])
now = 1_700_000_000
repos, tags, manifests, comps, items = [], [], [], [], []
for i in range(10_000):
    repo = f"bench/r{i:05}"
    digest = "sha256:" + hashlib.sha256(repo.encode()).hexdigest()
    repos.append((repo, now))
    manifests.append((repo, digest, "application/vnd.oci.image.manifest.v1+json", 800,
                      "application/vnd.wasm.config.v0+json", now))
    for j in range(10):
        tags.append((repo, f"1.0.{j}", digest, now + i * 10 + j))
    comps.append((repo, digest, f"bench:r{i:05}", "1.0.9", f"bench:r{i:05}/service"))
    items.append((repo, digest, "export", f"bench:iface{i % 100:02}/api", "0.1.0"))
    items.append((repo, digest, "import", "wasi:http/incoming-handler", "0.2.0"))
db.executemany("INSERT INTO repositories(name, created_at) VALUES (?, ?)", repos)
db.executemany("INSERT INTO manifests(repo, digest, media_type, size, artifact_type, created_at) VALUES (?, ?, ?, ?, ?, ?)", manifests)
db.executemany("INSERT INTO tags(repo, name, digest, updated_at) VALUES (?, ?, ?, ?)", tags)
db.executemany("INSERT INTO components(repo, manifest, package, version, world) VALUES (?, ?, ?, ?, ?)", comps)
db.executemany("INSERT INTO component_items(repo, manifest, direction, interface, version) VALUES (?, ?, ?, ?, ?)", items)
db.commit()
EOF
start

measure() {
  local name=$1 path=$2 args=() k
  for k in $(seq "$requests"); do args+=(-o /dev/null -w '%{time_total} %{size_download} %{http_code}\n' "http://127.0.0.1:$port$path"); done
  curl -s "${args[@]}" > "$work/times"
  python3 - "$name" "$work/times" <<'EOF'
import sys
rows = [l.split() for l in open(sys.argv[2])]
bad = [r[2] for r in rows if r[2] != "200"]
t = sorted(float(r[0]) * 1000 for r in rows)
size = int(rows[-1][1])
p = lambda q: t[min(len(t) - 1, int(q * len(t)))]
print(f"| {sys.argv[1]} | {p(0.5):.1f} | {p(0.99):.1f} | {size / 1024:.1f} |" + (f" non-200: {len(bad)}" if bad else ""))
EOF
}

echo
echo "| page | p50 ms | p99 ms | size KiB |"
echo "| --- | --- | --- | --- |"
measure "home (\`/ui/\`)" "/ui/"
measure "search by interface, all 10,000 match (\`wasi:http/incoming-handler\`)" "/ui/search?q=wasi:http/incoming-handler"
measure "search by interface, 100 match (\`bench:iface42/api\`)" "/ui/search?q=bench:iface42/api"
measure "search by name, page 3 (\`r0\`)" "/ui/search?q=r0&page=3"
measure "repository, 10 tags (\`bench/r05000\`)" "/ui/repo/bench/r05000"
measure "artifact, signed WIT package (\`bench/docs:1.0.0\`)" "/ui/repo/bench/docs/1.0.0"
