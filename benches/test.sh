#!/usr/bin/env bash
# Benchmark for `wcomp test`: N tests (default 200) against the Rust template component,
# in one `wcomp test` process, against the same calls made one by one with
# `wcomp run --invoke` (one process per call, the only way before `wcomp test`) and with
# `wasmtime run --invoke` when it is installed. Prints total wall time, time per test and
# the ratio. On demand, not part of CI: benches/test.sh [tests] [profile]
# (profile: release (default) or debug, the build of wcomp to use).
set -euo pipefail
cd "$(dirname "$0")/.."
tests=${1:-200}
profile=${2:-release}
if [ "$profile" = release ]; then
  echo "== building wcomp (release)"
  cargo build --release --locked -p wcomp
fi
wcomp=$PWD/target/$profile/wcomp
work=$PWD/target/bench/test
rm -rf "$work"
mkdir -p "$work"
cd "$work"

"$wcomp" new rust app --name bench:greeter >/dev/null
(cd app && "$wcomp" build >/dev/null)
component=$work/app/build/greeter.wasm
# One test file with $tests tests, each a different argument.
{
  echo "component = \"$component\""
  for i in $(seq 1 "$tests"); do
    printf '\n[[test]]\nname = "greets %s"\ninvoke = '"'"'greet("n%s")'"'"'\nexpect = '"'"'"Hello, n%s!"'"'"'\n' "$i" "$i" "$i"
  done
} > bench.test.toml
# The compiled-code cache is warm for both sides (the first run fills it).
"$wcomp" test --no-build bench.test.toml >/dev/null

python3 - "$tests" "$wcomp" "$component" <<'PY'
import shutil, subprocess, sys, time
n, wcomp, component = int(sys.argv[1]), sys.argv[2], sys.argv[3]

def timed(cmds):
    t = time.perf_counter()
    for cmd in cmds:
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - t

one = timed([[wcomp, "test", "--no-build", "bench.test.toml"]])
runs = timed([[wcomp, "run", component, "--invoke", f'greet("n{i}")'] for i in range(1, n + 1)])
print(f"\n{n} tests against {component}")
print(f"{'wcomp test (one process)':34} {one:8.2f} s  {one / n * 1000:8.2f} ms/test")
print(f"{'wcomp run --invoke (one per call)':34} {runs:8.2f} s  {runs / n * 1000:8.2f} ms/test")
print(f"ratio: wcomp test is {runs / one:.1f}x faster per test")
wasmtime = shutil.which("wasmtime")
if wasmtime:
    w = timed([[wasmtime, "run", "--invoke", f'greet("n{i}")', component] for i in range(1, n + 1)])
    print(f"{'wasmtime run --invoke (one per call)':34} {w:8.2f} s  {w / n * 1000:8.2f} ms/test")
PY
