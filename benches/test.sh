#!/usr/bin/env bash
# Benchmark for `wcomp test`: N tests (default 200) against the Rust template component,
# in one `wcomp test` process, against the same calls made one by one with
# `wcomp run --invoke` (one process per call, the only way before `wcomp test`) and with
# `wasmtime run --invoke` when it is installed; then 50 tests against the example
# pipeline's composition, and `wcomp test --watch` rounds after an edit of its Rust
# member. Prints total wall time, time per test, the ratios and the rounds' times.
# On demand, not part of CI: benches/test.sh [tests] [profile]
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
root=$PWD
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

# The example pipeline: 50 tests against its composition (adapter + validator +
# normaliser, a real SQLite database per test), against 50 `wcomp run --invoke`; then
# watch rounds: an edit of the Rust member, rebuilt, re-composed and re-tested by
# `wcomp test --watch`, timed from the save to the round's status line.
pipeline_tests=${PIPELINE_TESTS:-50}
echo "== building the example pipeline (a copy in $work/pipeline)"
cp -r "$root/examples/pipeline" "$work/pipeline"
rm -rf "$work/pipeline/build"
(cd "$work/pipeline" && "$wcomp" build >/dev/null)
composition=$work/pipeline/build/pipeline-api.wasm
record() {
  printf '[{email: "user%s@example.com", name: "User %s", age: 30, country: "gb"}]' "$1" "$1"
}
{
  echo "component = \"$composition\""
  for i in $(seq 1 "$pipeline_tests"); do
    printf '\n[[test]]\nname = "ingests %s"\ninvoke = '"'"'ingest(%s)'"'"'\ndb = "sqlite::memory:"\nexpect = '"'"'ok({stored: 1, rejected: []})'"'"'\n' "$i" "$(record "$i")"
  done
} > pipeline.bench.test.toml
"$wcomp" test --no-build pipeline.bench.test.toml >/dev/null

python3 - "$pipeline_tests" "$wcomp" "$composition" "$work/pipeline" <<'PY'
import subprocess, sys, time, statistics, pathlib, select, os
n, wcomp, component, ws = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]

def timed(cmds):
    t = time.perf_counter()
    for cmd in cmds:
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - t

def record(i):
    return f'[{{email: "user{i}@example.com", name: "User {i}", age: 30, country: "gb"}}]'

one = timed([[wcomp, "test", "--no-build", "pipeline.bench.test.toml"]])
runs = timed([[wcomp, "run", component, "--db", "sqlite::memory:", "--invoke", f"ingest({record(i)})"]
              for i in range(1, n + 1)])
size = os.path.getsize(component) / 1e6
print(f"\n{n} tests against the pipeline composition ({size:.1f} MB)")
print(f"{'wcomp test (one process)':34} {one:8.2f} s  {one / n * 1000:8.2f} ms/test")
print(f"{'wcomp run --invoke (one per call)':34} {runs:8.2f} s  {runs / n * 1000:8.2f} ms/test")
print(f"ratio: wcomp test is {runs / one:.1f}x faster per test")

# Watch rounds: edit the Rust member (the validator), wait for the status line.
src = pathlib.Path(ws, "validator/src/lib.rs")
original = src.read_text()
proc = subprocess.Popen([wcomp, "test", "--watch"], cwd=ws, stdout=subprocess.PIPE,
                        stderr=subprocess.DEVNULL, text=True, bufsize=1)
def status_line(timeout):
    deadline = time.time() + timeout
    while time.time() < deadline:
        r, _, _ = select.select([proc.stdout], [], [], deadline - time.time())
        if r:
            line = proc.stdout.readline()
            if line.startswith("["):
                return line.strip()
    raise SystemExit("no status line from wcomp test --watch")
try:
    status_line(600)  # the first round: everything up to date, tests run
    rounds = []
    for i in range(int(os.environ.get("WATCH_ROUNDS", "5"))):
        src.write_text(original + f"\n// edit {i}\n")
        t = time.perf_counter()
        line = status_line(600)
        rounds.append(time.perf_counter() - t)
        print(f"  round {i + 1}: {rounds[-1]:.2f} s  {line}")
    print(f"watch round (save -> status line), median of {len(rounds)}: "
          f"{statistics.median(rounds):.2f} s (includes the {0.2:.1f} s quiet wait)")
finally:
    proc.terminate()
    proc.wait()
    src.write_text(original)
PY
