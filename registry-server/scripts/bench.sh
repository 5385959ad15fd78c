#!/usr/bin/env bash
# Benchmark: wcomp-registry against Debian's docker-registry (CNCF distribution 2.8) on
# loopback, both without auth, driven by the same client (oras for push/pull, curl for
# blob GET latency). Prints throughput per size and concurrency, the ratio, p50/p99 blob GET
# latency and each server's peak RSS. A measurement, not a test: run it by hand on an idle
# machine.
#
#   cargo build --release -p wcomp-registry
#   apt-get install -y docker-registry curl      # and oras: scripts/install-test-deps.sh
#   registry-server/scripts/bench.sh [sizes-in-MB...]   (default: 1 10 100)
set -euo pipefail

root="$(cd "$(dirname "$0")/../.." && pwd)"
ours="${WCOMP_REGISTRY_BIN:-$root/target/release/wcomp-registry}"
dist="${DOCKER_REGISTRY_BIN:-/usr/bin/docker-registry}"
oras="$(command -v oras || echo "$root/registry-server/target-tools/bin/oras")"
sizes=("${@:-1 10 100}"); read -r -a sizes <<< "${sizes[*]}"
concurrency=(1 32)
gets=200

for t in "$ours" "$dist" "$oras" curl; do
  command -v "$t" >/dev/null 2>&1 || [ -x "$t" ] || { echo "missing: $t" >&2; exit 2; }
done

work="$(mktemp -d)"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_up() { for _ in $(seq 200); do curl -fs "http://127.0.0.1:$1/v2/" >/dev/null && return; sleep 0.05; done; echo "server on $1 did not start" >&2; exit 1; }
now() { date +%s.%N; }

p_ours=$(free_port)
"$ours" serve --insecure-no-auth --listen "127.0.0.1:$p_ours" --data-dir "$work/ours" >/dev/null 2>&1 &
pid_ours=$!; pids+=("$pid_ours")
p_dist=$(free_port)
cat > "$work/dist.yml" <<YAML
version: 0.1
log: { level: error }
storage: { filesystem: { rootdirectory: $work/dist }, delete: { enabled: true } }
http: { addr: 127.0.0.1:$p_dist }
YAML
"$dist" serve "$work/dist.yml" >/dev/null 2>&1 &
pid_dist=$!; pids+=("$pid_dist")
wait_up "$p_ours"; wait_up "$p_dist"

for s in "${sizes[@]}"; do head -c "$((s * 1024 * 1024))" /dev/urandom > "$work/blob-$s.bin"; done

# run_parallel PORT OP SIZE N: N concurrent oras pushes (or pulls) of distinct repositories.
run_parallel() {
  local port=$1 op=$2 size=$3 n=$4 i
  for i in $(seq "$n"); do
    if [ "$op" = push ]; then
      (cd "$work" && "$oras" push --plain-http --no-tty "127.0.0.1:$port/bench/s$size-c$n-$i:v1" "blob-$size.bin:application/octet-stream" >/dev/null) &
    else
      mkdir -p "$work/pull-$port-$size-$n-$i"
      "$oras" pull --plain-http --no-tty -o "$work/pull-$port-$size-$n-$i" "127.0.0.1:$port/bench/s$size-c$n-$i:v1" >/dev/null &
    fi
  done
  wait $(jobs -p | grep -v -e "$pid_ours" -e "$pid_dist") 2>/dev/null || true
}

throughput() { # port op size n -> MB/s
  local t0 t1; t0=$(now); run_parallel "$@"; t1=$(now)
  python3 -c "print(f'{$3 * $4 / ($t1 - $t0):.1f}')"
}

printf '%-6s %-5s %-4s %12s %12s %7s\n' op MB conc ours_MB/s dist_MB/s ratio
for s in "${sizes[@]}"; do
  for c in "${concurrency[@]}"; do
    for op in push pull; do
      a=$(throughput "$p_ours" "$op" "$s" "$c"); b=$(throughput "$p_dist" "$op" "$s" "$c")
      printf '%-6s %-5s %-4s %12s %12s %7s\n' "$op" "$s" "$c" "$a" "$b" "$(python3 -c "print(f'{$a/$b:.2f}')")"
    done
  done
done

latency() { # port -> "p50 p99" in ms for GETs of the first size's blob
  local port=$1 digest i
  digest="sha256:$(sha256sum "$work/blob-${sizes[0]}.bin" | cut -d' ' -f1)"
  for i in $(seq "$gets"); do
    curl -s -o /dev/null -w '%{time_total}\n' "http://127.0.0.1:$port/v2/bench/s${sizes[0]}-c1-1/blobs/$digest"
  done | sort -n | python3 -c "import sys; v=[float(x)*1000 for x in sys.stdin]; print(f'{v[len(v)//2]:.2f} {v[int(len(v)*0.99)-1]:.2f}')"
}
echo "blob GET latency (${sizes[0]} MB, $gets requests) p50/p99 ms: ours $(latency "$p_ours")  dist $(latency "$p_dist")"
rss() { awk '/VmHWM/ {print $2/1024 " MB"}' "/proc/$1/status"; }
echo "peak RSS: ours $(rss "$pid_ours")  dist $(rss "$pid_dist")"
