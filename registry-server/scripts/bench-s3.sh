#!/usr/bin/env bash
# Benchmark of the production deployment: wcomp-registry on S3 (SeaweedFS) + PostgreSQL,
# as one replica (addressed directly, and behind haproxy) and as three replicas behind
# haproxy in round-robin,
# against CNCF distribution 3.0.0 with its S3 storage driver on the same S3 server and the
# same bucket (another key prefix), all without auth, driven by the same clients as
# bench.sh: oras for push/pull, and curl for pulls (GETs of the blob into /dev/null).
# `push`: every client pushes the same blob, each to its own repository (a registry may
# store it once); `push-new`: each client pushes content of its own. The replicas run as
# cluster.sh starts them, with the blob cache in each data dir (WCOMP_CLUSTER_CACHE=0: off).
# Prints MB/s per client, size and concurrency with each deployment's ratio to
# distribution, the servers' CPU seconds per GB pushed and pulled, and each process's peak
# RSS. A measurement, not a test: run it by hand on an idle machine.
#
#   cargo build --release -p wcomp-registry
#   registry-server/scripts/bench-s3.sh [sizes-in-MB...]   (default: 1 10 100)
#
# It starts what it needs when the variables are unset: PostgreSQL (scripts/postgres.sh,
# WCOMP_TEST_POSTGRES) and SeaweedFS (scripts/seaweedfs.sh, WCOMP_TEST_S3); haproxy and
# oras come from scripts/test.sh's install steps. distribution v3.0.0 is built once from
# the Go module proxy into wcomp's tools dir (about 3 minutes on 2 cores).
# BENCH_REPS=n (default 1) measures every cell n times and prints the medians.
set -euo pipefail

root="$(cd "$(dirname "$0")/../.." && pwd)"
ours="${WCOMP_REGISTRY_BIN:-$root/target/release/wcomp-registry}"
oras="$(command -v oras || echo "$root/registry-server/target-tools/bin/oras")"
tools="${WCOMP_TOOLS_DIR:-${XDG_DATA_HOME:-$HOME/.local/share}/wcomp/tools}"
DISTRIBUTION_VERSION=v3.0.0
dist="${DISTRIBUTION_BIN:-$tools/distribution-$DISTRIBUTION_VERSION/registry}"
sizes=("${@:-1 10 100}"); read -r -a sizes <<< "${sizes[*]}"
concurrency=(1 32)
reps="${BENCH_REPS:-1}"

for t in "$ours" "$oras" curl haproxy psql python3; do
  command -v "$t" >/dev/null 2>&1 || [ -x "$t" ] || { echo "missing: $t" >&2; exit 2; }
done

if [ ! -x "$dist" ]; then
  echo "== building distribution $DISTRIBUTION_VERSION from the Go module proxy (once)" >&2
  mkdir -p "$(dirname "$dist")"
  build="$(mktemp -d)"
  (
    cd "$build"
    go mod init tmp >/dev/null 2>&1
    go get "github.com/distribution/distribution/v3/cmd/registry@$DISTRIBUTION_VERSION" >&2
    go build -o "$dist.tmp" github.com/distribution/distribution/v3/cmd/registry >&2
  )
  mv "$dist.tmp" "$dist"
  rm -rf "$build"
fi

: "${WCOMP_TEST_POSTGRES:=$("$root/scripts/postgres.sh")}"
: "${WCOMP_TEST_S3:=$("$root/scripts/seaweedfs.sh")}"
export WCOMP_TEST_POSTGRES WCOMP_TEST_S3 WCOMP_REGISTRY_BIN="$ours"

source "$root/registry-server/scripts/lib/bench-common.sh"
work="$(mktemp -d)"
pids=()
cleanup() {
  "$root/registry-server/scripts/cluster.sh" stop "$work/one" 2>/dev/null || true
  "$root/registry-server/scripts/cluster.sh" stop "$work/onelb" 2>/dev/null || true
  "$root/registry-server/scripts/cluster.sh" stop "$work/three" 2>/dev/null || true
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT


echo "== starting: wcomp-registry x1 (direct and behind haproxy), x3 behind haproxy, distribution $DISTRIBUTION_VERSION" >&2
WCOMP_REPLICAS=1 "$root/registry-server/scripts/cluster.sh" start "$work/one" noauth >/dev/null
p_one=$(cat "$work/one/replica-1.port")
# Another single replica, behind haproxy (`x1lb`, its own database and key prefix, so it
# starts as empty as the others): three replicas are compared with one behind the same
# balancer, so that the balancer's cost is not counted as the replicas'.
lb_one=$(WCOMP_REPLICAS=1 "$root/registry-server/scripts/cluster.sh" start "$work/onelb" noauth)
p_onelb=${lb_one##*:}
pids_onelb=$(cat "$work/onelb/replica-1.pid")
pids_one=$(cat "$work/one/replica-1.pid")
lb=$(WCOMP_REPLICAS=3 "$root/registry-server/scripts/cluster.sh" start "$work/three" noauth)
p_three=${lb##*:}
pids_three=$(cat "$work/three"/replica-*.pid | tr '\n' ' ')

p_dist=$(free_port)
cat > "$work/dist.yml" <<YAML
version: 0.1
log: { level: error }
storage:
  s3:
    accesskey: ${WCOMP_S3_ACCESS_KEY:-wcomp-test}
    secretkey: ${WCOMP_S3_SECRET_KEY:-wcomp-test-secret}
    region: us-east-1
    regionendpoint: $WCOMP_TEST_S3
    forcepathstyle: true
    secure: false
    bucket: wcomp-cluster
    rootdirectory: /dist-bench-$(date +%s)
  delete: { enabled: true }
  redirect: { disable: true }
http: { addr: 127.0.0.1:$p_dist }
YAML
"$dist" serve "$work/dist.yml" >"$work/dist.log" 2>&1 &
pids_dist=$!; pids+=("$pids_dist")
wait_up "$p_one"; wait_up "$p_onelb"; wait_up "$p_three"; wait_up "$p_dist"

targets=(one onelb three dist)
declare -A port=([one]=$p_one [onelb]=$p_onelb [three]=$p_three [dist]=$p_dist)
declare -A procs=([one]=$pids_one [onelb]=$pids_onelb [three]=$pids_three [dist]=$pids_dist)

for s in "${sizes[@]}"; do head -c "$((s * 1024 * 1024))" /dev/urandom > "$work/blob-$s.bin"; done
declare -A digests
for s in "${sizes[@]}"; do digests[$s]="sha256:$(sha256sum "$work/blob-$s.bin" | cut -d' ' -f1)"; done


# CPU seconds (user + system) used so far by the given pids.
cpu() {
  python3 - "$@" <<'PY'
import os, sys
tick = os.sysconf("SC_CLK_TCK")
total = 0
for pid in sys.argv[1:]:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    total += int(fields[11]) + int(fields[12])
print(total / tick)
PY
}


throughput() { # target op size n rep -> MB/s; the CPU it cost goes to $work/cpu.log
  local t=$1 op=$2 size=$3 n=$4 rep=$5 t0 t1 c0 c1 mb i
  # Unique blobs are made before the clock starts.
  if [ "$op" = upush ]; then for i in $(seq "$n"); do unique_blob "$size" "$rep" "$i" >/dev/null; done; fi
  # shellcheck disable=SC2086
  c0=$(cpu ${procs[$t]}); t0=$(now)
  run_parallel "${port[$t]}" "$op" "$size" "$n" "$rep"
  # shellcheck disable=SC2086
  t1=$(now); c1=$(cpu ${procs[$t]})
  rm -rf "$work"/pull-*
  mb=$((size * n * $(per_client "$size" "$op")))
  echo "$t $(case "$op" in *push) echo push ;; *) echo pull ;; esac) $mb $(python3 -c "print($c1 - $c0)")" >> "$work/cpu.log"
  python3 -c "print(f'{$mb / ($t1 - $t0):.1f}')"
}
ratio() { python3 -c "print(f'{$1/$2:.2f}')"; }

echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-5s %-5s %-5s %-4s %10s %10s %10s %10s %8s %8s %8s\n' client op MB conc x1_MB/s x1lb_MB/s x3_MB/s dist_MB/s x1/dist x3/dist x3/x1lb
for s in "${sizes[@]}"; do
  for c in "${concurrency[@]}"; do
    for op in push upush pull curl; do
      # Unique content costs size x clients of disk per deployment: not for 100 MB x 32.
      [ "$op" = upush ] && [ $((s * c)) -gt 320 ] && continue
      declare -A got=()
      for t in "${targets[@]}"; do got[$t]=""; done
      for r in $(seq "$reps"); do
        for t in "${targets[@]}"; do got[$t]+=" $(throughput "$t" "$op" "$s" "$c" "$r")"; done
      done
      # shellcheck disable=SC2086
      a=$(median ${got[one]}); l=$(median ${got[onelb]}); b=$(median ${got[three]}); d=$(median ${got[dist]})
      case "$op" in curl) client=curl; shown=pull ;; upush) client=oras; shown=push-new ;; *) client=oras; shown=$op ;; esac
      printf '%-5s %-5s %-5s %-4s %10s %10s %10s %10s %8s %8s %8s\n' "$client" "$shown" "$s" "$c" "$a" "$l" "$b" "$d" \
        "$(ratio "$a" "$d")" "$(ratio "$b" "$d")" "$(ratio "$b" "$l")"
    done
  done
done

echo
echo "server CPU seconds per GB (replicas summed; haproxy and SeaweedFS not counted):"
python3 - "$work/cpu.log" <<'PY'
import sys
acc = {}
for line in open(sys.argv[1]):
    t, op, mb, cpu = line.split()
    a = acc.setdefault((t, op), [0.0, 0.0])
    a[0] += float(mb); a[1] += float(cpu)
for t in ("one", "three", "dist"):
    push = acc.get((t, "push"), [1, 0]); pull = acc.get((t, "pull"), [1, 0])
    print(f"  {t:<5} push {push[1] * 1024 / push[0]:6.2f}   pull {pull[1] * 1024 / pull[0]:6.2f}")
PY
rss() { awk '/VmHWM/ {printf "%.0f MB", $2/1024}' "/proc/$1/status"; }
echo "peak RSS: x1 $(rss "$pids_one");  x3 $(for p in $pids_three; do printf '%s  ' "$(rss "$p")"; done); dist $(rss "$pids_dist")"
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
