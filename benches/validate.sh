#!/usr/bin/env bash
# Benchmark: `wcomp validate` against `wasm-tools component targets` on the same inputs,
# in one run, and a large component against the time to read and hash it (sha256sum).
# Prints medians and ratios. Run on demand (not part of CI): benches/validate.sh [runs]
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-15}
tools=target/bench-tools
work=target/bench/validate
mkdir -p "$work"

if [ -x "$tools/bin/wasm-tools" ]; then
  wasm_tools=$tools/bin/wasm-tools
elif command -v wasm-tools >/dev/null 2>&1; then
  wasm_tools=$(command -v wasm-tools)
else
  echo "== installing wasm-tools 1.263.0 into $tools (a few minutes, once)"
  cargo install --locked wasm-tools --version 1.263.0 --root "$tools"
  wasm_tools=$tools/bin/wasm-tools
fi

echo "== building wcomp (release)"
cargo build --release --locked -p wcomp
wcomp=target/release/wcomp

echo "== generating inputs"
python3 benches/gen_components.py "$work"
for name in greeter data-heavy code-heavy; do
  "$wasm_tools" parse "$work/$name.wat" -o "$work/$name.wasm"
done
wit=examples/getting-started/wit

python3 - "$runs" "$wcomp" "$wasm_tools" "$wit" "$work" <<'PY'
import os, statistics, subprocess, sys, time
runs, wcomp, wasm_tools, wit, work = int(sys.argv[1]), *sys.argv[2:]

def median_time(cmd, expect=0):
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        p = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        times.append(time.perf_counter() - t)
        if p.returncode != expect:
            sys.exit(f"{' '.join(cmd)} exited {p.returncode}, expected {expect}")
    return statistics.median(times)

print(f"\n{runs} runs each, median wall time\n")
print(f"{'input':<18}{'size':>12}{'wcomp':>11}{'wasm-tools':>12}{'ratio':>8}{'sha256sum':>11}{'wcomp/hash':>12}")
for name in ["greeter", "data-heavy", "code-heavy"]:
    path = os.path.join(work, name + ".wasm")
    size = os.path.getsize(path)
    ours = median_time([wcomp, "validate", path, "--wit", wit, "--strict-versions"])
    theirs = median_time([wasm_tools, "component", "targets", wit, path])
    hashing = median_time(["sha256sum", path])
    print(f"{name:<18}{size:>12,}{ours*1000:>9.1f}ms{theirs*1000:>10.1f}ms{ours/theirs:>8.2f}{hashing*1000:>9.1f}ms{ours/hashing:>12.2f}")
print("\nratio = wcomp / wasm-tools (below 1: wcomp is faster); wcomp/hash = wcomp / sha256sum")
PY
