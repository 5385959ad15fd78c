#!/usr/bin/env bash
# Benchmark: wcomp-registry against Debian's docker-registry (CNCF distribution 2.8) on
# loopback, both without auth, driven by the same clients: oras for push/pull, and curl
# for pulls too (GET of the blob URL into /dev/null). oras hashes and writes every pulled
# file, which caps a single large pull at about what either server delivers; curl does
# neither, so its figures show the servers. Prints throughput per client, size and
# concurrency with the ratio, p50/p99 blob GET latency, each server's peak RSS and the load
# average before and after. A measurement, not a test: run it by hand on an idle machine.
#
#   cargo build --release -p wcomp-registry
#   apt-get install -y docker-registry curl      # and oras: scripts/install-test-deps.sh
#   registry-server/scripts/bench.sh [sizes-in-MB...]   (default: 1 10 100)
#
# BENCH_REPS=n (default 1) measures every cell n times, ours and distribution alternating,
# and prints the medians.
set -euo pipefail

root="$(cd "$(dirname "$0")/../.." && pwd)"
ours="${WCOMP_REGISTRY_BIN:-$root/target/release/wcomp-registry}"
dist="${DOCKER_REGISTRY_BIN:-/usr/bin/docker-registry}"
oras="$(command -v oras || echo "$root/registry-server/target-tools/bin/oras")"
sizes=("${@:-1 10 100}"); read -r -a sizes <<< "${sizes[*]}"
concurrency=(1 32)
gets=200
reps="${BENCH_REPS:-1}"

for t in "$ours" "$dist" "$oras" curl; do
  command -v "$t" >/dev/null 2>&1 || [ -x "$t" ] || { echo "missing: $t" >&2; exit 2; }
done

source "$root/registry-server/scripts/lib/bench-common.sh"
work="$(mktemp -d)"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT


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



throughput() { # port op size n rep -> MB/s
  local t0 t1; t0=$(now); run_parallel "$@"; t1=$(now)
  rm -rf "$work"/pull-*
  python3 -c "print(f'{$3 * $4 * $(per_client "$3" "$2") / ($t1 - $t0):.1f}')"
}

declare -A digests
for s in "${sizes[@]}"; do digests[$s]="sha256:$(sha256sum "$work/blob-$s.bin" | cut -d' ' -f1)"; done

echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-5s %-5s %-5s %-4s %12s %12s %7s\n' client op MB conc ours_MB/s dist_MB/s ratio
for s in "${sizes[@]}"; do
  for c in "${concurrency[@]}"; do
    for op in push pull curl; do
      as=(); bs=()
      for r in $(seq "$reps"); do
        as+=("$(throughput "$p_ours" "$op" "$s" "$c" "$r")"); bs+=("$(throughput "$p_dist" "$op" "$s" "$c" "$r")")
      done
      a=$(median "${as[@]}"); b=$(median "${bs[@]}")
      case "$op" in curl) client=curl; shown=pull ;; *) client=oras; shown=$op ;; esac
      printf '%-5s %-5s %-5s %-4s %12s %12s %7s\n' "$client" "$shown" "$s" "$c" "$a" "$b" "$(python3 -c "print(f'{$a/$b:.2f}')")"
    done
  done
done

latency() { # port -> "p50 p99" in ms for GETs of the first size's blob
  local port=$1 i
  for i in $(seq "$gets"); do
    curl -s -o /dev/null -w '%{time_total}\n' "http://127.0.0.1:$port/v2/bench/r1-s${sizes[0]}-c1-1/blobs/${digests[${sizes[0]}]}"
  done | sort -n | python3 -c "import sys; v=[float(x)*1000 for x in sys.stdin]; print(f'{v[len(v)//2]:.2f} {v[int(len(v)*0.99)-1]:.2f}')"
}
echo "blob GET latency (${sizes[0]} MB, $gets requests) p50/p99 ms: ours $(latency "$p_ours")  dist $(latency "$p_dist")"
rss() { awk '/VmHWM/ {print $2/1024 " MB"}' "/proc/$1/status"; }
echo "peak RSS: ours $(rss "$pid_ours")  dist $(rss "$pid_dist")"
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
