#!/usr/bin/env bash
# Benchmark: `wcomp serve` against `wasmtime serve` (wasmtime-cli of the same wasmtime
# version) on the same component, driven by the same load generator (wrk, from Debian) in
# one run: requests per second and p50/p99 latency at 1 and 64 connections, the server's
# peak RSS, the time from exec to the first answered request with an empty and a warm
# compile cache, and wcomp's per-request instantiation time (p50/p99, from its JSON
# access log). Goals: at 64 connections at least wasmtime serve's requests per second and
# no worse p99; instantiation p50 under 50 us. Not part of CI.
#
#   benches/serve.sh [COMPONENT.wasm]   default: the `rust-http` template, built here
#   DURATION=10s benches/serve.sh       wrk run length per case (default 10s)
#   PROFILE=debug benches/serve.sh      use the debug build of wcomp as is (no rebuild;
#                                       figures then say nothing about release speed)
#
# wasmtime-cli is installed once into wcomp's tools dir with `cargo install --locked`
# (a long build: ~10-15 minutes on 2 cores); never by CI.
set -euo pipefail
cd "$(dirname "$0")/.."
duration=${DURATION:-10s}
work=$PWD/target/bench/serve
rm -rf "$work"
mkdir -p "$work"
tools=${WCOMP_TOOLS_DIR:-${XDG_DATA_HOME:-$HOME/.local/share}/wcomp/tools}

wasmtime_version=$(sed -n '/^name = "wasmtime"$/{n;s/^version = "\(.*\)"/\1/p}' Cargo.lock)
wasmtime_bin=$tools/wasmtime-$wasmtime_version/bin/wasmtime
if [ ! -x "$wasmtime_bin" ]; then
  echo "== cargo install wasmtime-cli@$wasmtime_version (once, into $tools)"
  cargo install --locked --quiet "wasmtime-cli@$wasmtime_version" --root "$tools/wasmtime-$wasmtime_version"
fi
if ! command -v wrk >/dev/null 2>&1; then
  echo "== apt-get install wrk"
  if [ "$(id -u)" = 0 ]; then sudo=""; else sudo="sudo"; fi
  $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq wrk >/dev/null
fi

profile=${PROFILE:-release}
if [ "$profile" = release ]; then
  echo "== building wcomp (release)"
  cargo build --release --locked -p wcomp
fi
wcomp=$PWD/target/$profile/wcomp

component=${1:-}
if [ -z "$component" ]; then
  echo "== the rust-http template, built by wcomp"
  (cd "$work" && "$wcomp" new rust-http app >/dev/null && cd app && "$wcomp" build >/dev/null)
  component=$(ls "$work"/app/build/*.wasm | head -1)
fi
component=$(realpath "$component")
echo "component: $component ($(stat -c %s "$component") bytes)"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# Starts a server ($@ with PORT replaced), waits for its first answer; prints the pid and
# the ms from exec to the first 200.
start() {
  local port=$1; shift
  local log=$1; shift
  local t0 t1
  t0=$(date +%s%N)
  "$@" >"$log" 2>&1 &
  local pid=$!
  for _ in $(seq 3000); do
    if curl -fsS -o /dev/null "http://127.0.0.1:$port/" 2>/dev/null; then
      t1=$(date +%s%N)
      echo "$pid $(( (t1 - t0) / 1000000 ))"
      return
    fi
    sleep 0.005
  done
  echo "server did not answer: $*" >&2
  cat "$log" >&2
  kill "$pid" 2>/dev/null || true
  exit 2
}

peak_rss_kib() { awk '/VmHWM/ {print $2}' "/proc/$1/status"; }

# wrk's summary -> "rps p50 p99"
load() {
  local port=$1 conns=$2 threads=$(( $2 < 2 ? 1 : 2 ))
  wrk -t"$threads" -c"$conns" -d"$duration" --latency "http://127.0.0.1:$port/" >"$work/wrk.txt"
  awk '
    /Requests\/sec/ {rps=$2}
    /^ +50%/ {p50=$2}
    /^ +99%/ {p99=$2}
    END {print rps, p50, p99}' "$work/wrk.txt"
}

to_ms() { # 1.23ms / 456.00us / 1.2s -> ms
  awk -v v="$1" 'BEGIN{ if (v ~ /us$/) {sub(/us$/,"",v); print v/1000} else if (v ~ /ms$/) {sub(/ms$/,"",v); print v} else if (v ~ /s$/) {sub(/s$/,"",v); print v*1000} else print v }'
}

declare -A rps p50 p99 rss cold warm

run_server() { # name, command... (PORT placeholder)
  local name=$1; shift
  local cache=$work/cache-$name
  rm -rf "$cache"
  for phase in cold warm; do
    local port
    port=$(free_port)
    local cmd=()
    for a in "$@"; do cmd+=("${a//PORT/$port}"); done
    read -r pid ms < <(WCOMP_CACHE_DIR=$cache XDG_CACHE_HOME=$cache start "$port" "$work/$name-$phase.log" "${cmd[@]}")
    if [ "$phase" = cold ]; then cold[$name]=$ms; kill "$pid"; wait "$pid" 2>/dev/null || true; continue; fi
    warm[$name]=$ms
    for c in 1 64; do
      read -r r a b < <(load "$port" "$c")
      rps[$name,$c]=$r; p50[$name,$c]=$(to_ms "$a"); p99[$name,$c]=$(to_ms "$b")
    done
    rss[$name]=$(peak_rss_kib "$pid")
    kill -INT "$pid"; wait "$pid" 2>/dev/null || true
  done
}

echo "== wcomp serve"
# wasmtime serve's cache is the user cache dir's; point both at a fresh one per phase.
run_server wcomp "$wcomp" serve "$component" --listen 127.0.0.1:PORT --json --max-concurrency 128
echo "== wasmtime serve $wasmtime_version"
run_server wasmtime "$wasmtime_bin" serve --addr 127.0.0.1:PORT -S cli "$component"

# Instantiation times from wcomp's access log of the warm run (64-connection case
# included).
inst=$(python3 - "$work/wcomp-warm.log" <<'PY'
import json, sys
xs = []
for line in open(sys.argv[1]):
    try:
        v = json.loads(line)
    except ValueError:
        continue
    if "instantiate_us" in v:
        xs.append(v["instantiate_us"])
xs.sort()
if not xs:
    print("- -")
else:
    q = lambda p: xs[min(len(xs) - 1, int(p * len(xs)))]
    print(q(0.5), q(0.99))
PY
)
read -r inst50 inst99 <<<"$inst"

ratio() { awk -v a="$1" -v b="$2" 'BEGIN{ if (b > 0) printf "%.2f", a / b; else print "-" }'; }
echo
echo "| | wcomp serve | wasmtime serve | ratio (wcomp / wasmtime) |"
echo "| --- | --- | --- | --- |"
for c in 1 64; do
  echo "| req/s, $c conn | ${rps[wcomp,$c]} | ${rps[wasmtime,$c]} | $(ratio "${rps[wcomp,$c]}" "${rps[wasmtime,$c]}") |"
  echo "| p50 ms, $c conn | ${p50[wcomp,$c]} | ${p50[wasmtime,$c]} | $(ratio "${p50[wcomp,$c]}" "${p50[wasmtime,$c]}") |"
  echo "| p99 ms, $c conn | ${p99[wcomp,$c]} | ${p99[wasmtime,$c]} | $(ratio "${p99[wcomp,$c]}" "${p99[wasmtime,$c]}") |"
done
echo "| peak RSS MiB | $(( ${rss[wcomp]} / 1024 )) | $(( ${rss[wasmtime]} / 1024 )) | $(ratio "${rss[wcomp]}" "${rss[wasmtime]}") |"
echo "| exec to first answer, empty cache, ms | ${cold[wcomp]} | ${cold[wasmtime]} | $(ratio "${cold[wcomp]}" "${cold[wasmtime]}") |"
echo "| exec to first answer, warm cache, ms | ${warm[wcomp]} | ${warm[wasmtime]} | $(ratio "${warm[wcomp]}" "${warm[wasmtime]}") |"
echo
echo "wcomp instantiation per request: p50 ${inst50} us, p99 ${inst99} us"
