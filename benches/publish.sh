#!/usr/bin/env bash
# Benchmark: `wcomp publish` / `wcomp pull` of 1, 10 and 100 MB components against a
# local wcomp-registry, signed + attested vs plain (`--no-sign` / `--insecure-skip-verify`),
# to measure what signing, attesting and verifying cost over the transfer alone
# (goal: <= 1.1x), with the key unlocked per publish (passphrase) and held by
# `wcomp key agent`. Prints medians and ratios. Not part of CI.
#
#   benches/publish.sh [runs]                  release build of wcomp + wcomp-registry
#   PROFILE=debug benches/publish.sh [runs]    use the debug build as is (no rebuild)
#   WKG=/path/to/wkg benches/publish.sh        also time `wkg oci push/pull` (wkg 0.16:
#                                              `cargo install --locked wkg`, many minutes)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-5}
profile=${PROFILE:-release}
work=target/bench/publish
rm -rf "$work"
mkdir -p "$work"

if [ "$profile" = release ]; then
  echo "== building wcomp and wcomp-registry (release)"
  cargo build --release --locked -p wcomp -p wcomp-registry
fi
wcomp=$PWD/target/$profile/wcomp
registry=$PWD/target/$profile/wcomp-registry

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$registry" serve --listen "127.0.0.1:$port" --data-dir "$work/data" --insecure-no-auth >"$work/registry.log" 2>&1 &
reg_pid=$!
trap 'kill $reg_pid 2>/dev/null || true' EXIT
for _ in $(seq 100); do
  (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null && break
  sleep 0.1
done
host=127.0.0.1:$port

export WCOMP_CONFIG_DIR=$PWD/$work/config WCOMP_KEY_PASSWORD=bench NO_COLOR=1
"$wcomp" key generate --name bench >/dev/null
"$wcomp" key export bench >"$work/bench.pub"
# A key agent holding the key, for the "signed via agent" column; the passphrase column
# points WCOMP_AGENT_SOCK at nothing so it unlocks the key file every time.
"$wcomp" key agent bench --socket "$work/agent.sock" >/dev/null 2>"$work/agent.log" &
agent_pid=$!
trap 'kill $reg_pid $agent_pid 2>/dev/null || true' EXIT
for _ in $(seq 100); do [ -S "$work/agent.sock" ] && break; sleep 0.1; done
no_agent=(env "WCOMP_AGENT_SOCK=$work/no-agent.sock")
with_agent=(env "WCOMP_AGENT_SOCK=$work/agent.sock")

# An empty component with one custom section of N bytes of pseudo-random data (valid,
# incompressible, and no time spent compiling anything).
gen() {
  python3 - "$1" "$2" <<'PY'
import os, sys
size, out = int(sys.argv[1]), sys.argv[2]
def leb(n):
    b = bytearray()
    while True:
        x = n & 0x7f; n >>= 7
        b.append(x | (0x80 if n else 0))
        if not n: return bytes(b)
name = b"bench-data"
data = os.urandom(size)
body = leb(len(name)) + name + data
with open(out, "wb") as f:
    f.write(b"\0asm\x0d\x00\x01\x00" + b"\x00" + leb(len(body)) + body)
PY
}

median() { sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }

# secs <cmd...>: wall time of one run, in seconds.
secs() {
  local t0 t1
  t0=$(date +%s.%N)
  "$@" >/dev/null 2>"$work/last.err" || { cat "$work/last.err" >&2; exit 1; }
  t1=$(date +%s.%N)
  echo "$t1 - $t0" | bc -l
}

wkg=${WKG:-$(command -v wkg || true)}
if [ -n "$wkg" ]; then echo "wkg: $wkg ($("$wkg" --version))"; fi

printf '%-6s %12s %12s %7s %12s %7s %12s %12s %7s\n' size "push plain" "push signed" ratio "signed/agent" ratio "pull plain" "pull verify" ratio >"$work/table1"
printf '%-6s %12s %12s %7s %12s %12s %7s\n' size "wkg push" "wcomp signed" ratio "wkg pull" "wcomp verify" ratio >"$work/table2"
for mb in 1 10 100; do
  pp=(); ps=(); pa=(); lp=(); lv=(); wp=(); wl=()
  for i in $(seq "$runs"); do
    # Fresh content each run, so the registry's blob dedupe never skips an upload.
    gen $((mb * 1024 * 1024)) "$work/p.wasm"
    gen $((mb * 1024 * 1024)) "$work/s.wasm"
    gen $((mb * 1024 * 1024)) "$work/a.wasm"
    pp+=("$(secs "$wcomp" publish "$work/p.wasm" "$host/bench/c$mb:plain$i" --no-sign)")
    ps+=("$(secs "${no_agent[@]}" "$wcomp" publish "$work/s.wasm" "$host/bench/c$mb:signed$i")")
    pa+=("$(secs "${with_agent[@]}" "$wcomp" publish "$work/a.wasm" "$host/bench/c$mb:agent$i")")
    lp+=("$(secs "$wcomp" pull "$host/bench/c$mb:signed$i" -o "$work/out.wasm" --insecure-skip-verify)")
    lv+=("$(secs "$wcomp" pull "$host/bench/c$mb:signed$i" -o "$work/out.wasm" --key "$work/bench.pub")")
    if [ -n "$wkg" ]; then
      gen $((mb * 1024 * 1024)) "$work/w.wasm"
      wp+=("$(secs "$wkg" oci push --insecure "$host" "$host/bench/w$mb:v$i" "$work/w.wasm")")
      wl+=("$(secs "$wkg" oci pull --insecure "$host" "$host/bench/w$mb:v$i" -o "$work/wout.wasm")")
    fi
  done
  a=$(printf '%s\n' "${pp[@]}" | median); b=$(printf '%s\n' "${ps[@]}" | median)
  c=$(printf '%s\n' "${lp[@]}" | median); d=$(printf '%s\n' "${lv[@]}" | median)
  g=$(printf '%s\n' "${pa[@]}" | median)
  printf '%-6s %11.3fs %11.3fs %6.2fx %11.3fs %6.2fx %11.3fs %11.3fs %6.2fx\n' "${mb}MB" "$a" "$b" \
    "$(echo "$b / $a" | bc -l)" "$g" "$(echo "$g / $a" | bc -l)" "$c" "$d" "$(echo "$d / $c" | bc -l)" | tee -a "$work/table1"
  if [ -n "$wkg" ]; then
    e=$(printf '%s\n' "${wp[@]}" | median); f=$(printf '%s\n' "${wl[@]}" | median)
    printf '%-6s %11.3fs %11.3fs %6.2fx %11.3fs %11.3fs %6.2fx\n' "${mb}MB" "$e" "$b" \
      "$(echo "$b / $e" | bc -l)" "$f" "$d" "$(echo "$d / $f" | bc -l)" >>"$work/table2"
  fi
done
echo
echo "== signing + attesting + verifying overhead (wcomp vs wcomp)"
cat "$work/table1"
if [ -n "$wkg" ]; then
  echo
  echo "== wcomp (signed, verified) vs wkg (neither)"
  cat "$work/table2"
fi
if [ -n "$wkg" ]; then wkg_note="wkg: $wkg"; else wkg_note="wkg not found: set WKG=/path/to/wkg"; fi
echo "(wcomp profile: $profile, $runs runs each, medians; $wkg_note)"
