#!/usr/bin/env bash
# Benchmark for `wcomp build`: cold and warm build times per language, output sizes, and
# the no-op rebuild of a 6-member workspace (Rust, Go, Python, JS, C, C++) against
# `cargo build` no-op on the Rust member alone (the anchor), in one run. On demand, not
# part of CI: benches/build.sh [runs]
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-21}
scripts/install-toolchains.sh >/dev/null
echo "== building wcomp (release)"
cargo build --release --locked -p wcomp
wcomp=$PWD/target/release/wcomp
work=$PWD/target/bench/build
rm -rf "$work"
mkdir -p "$work"
cd "$work"

printf '\n%-11s %10s %10s %14s\n' language cold warm size
for lang in rust go python js c cpp; do
  "$wcomp" new "$lang" "$lang" --name "bench:$lang-member" >/dev/null
  start=$(date +%s.%N)
  (cd "$lang" && "$wcomp" build >/dev/null)
  cold=$(echo "$(date +%s.%N) - $start" | bc)
  start=$(date +%s.%N)
  (cd "$lang" && "$wcomp" build --force >/dev/null)
  warm=$(echo "$(date +%s.%N) - $start" | bc)
  size=$(stat -c %s "$lang/build/$lang-member.wasm")
  printf '%-11s %9.1fs %9.1fs %14s\n' "$lang" "$cold" "$warm" "$size"
done
printf '[workspace]\nmembers = ["rust", "go", "python", "js", "c", "cpp"]\n' > wcomp.toml
"$wcomp" build >/dev/null

python3 - "$runs" "$wcomp" "$work" <<'PY'
import statistics, subprocess, sys, time
runs, wcomp, work = int(sys.argv[1]), sys.argv[2], sys.argv[3]
def median(cmd, cwd):
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        subprocess.run(cmd, cwd=cwd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        times.append(time.perf_counter() - t)
    return statistics.median(times)
ours = median([wcomp, "build"], work)
anchor = median(["cargo", "build", "--target", "wasm32-wasip2", "--release"], work + "/rust")
print(f"\nno-op rebuild, median of {runs}:")
print(f"  wcomp build (6-member workspace)        {ours*1000:7.1f} ms   (goal: under 50 ms)")
print(f"  cargo build (the Rust member alone)     {anchor*1000:7.1f} ms")
print(f"  ratio wcomp/cargo                       {ours/anchor:7.2f}")
PY
