#!/usr/bin/env bash
# Benchmark: `wcomp compose` against wac on the same parts, in one run: `wac plug` for a
# root and plugs that only satisfy the root's imports (the one shape `wac plug` can do),
# and `wac compose` with the WAC file `wcomp compose --emit-wac` writes for the whole
# pipeline (plugs feeding plugs). Two input sets: small parts (wit-component's dummy
# modules for the example pipeline's worlds) and the real pipeline parts, whose JavaScript
# normaliser is ~12 MB; for those it also times `cp` of the output file.
# The four commands of a case take turns, run by run, so drift in the machine load
# touches them alike. Prints medians and ratios. Run on demand (not part of CI):
# benches/compose.sh [runs]
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-11}
tools=$PWD/target/bench-tools
work=$PWD/target/bench/compose
mkdir -p "$work"

WAC_VERSION=0.12.0
WASM_TOOLS_VERSION=1.263.0
have() { [ -x "$tools/bin/$1" ] && "$tools/bin/$1" --version 2>/dev/null | grep -q "$2"; }
if ! have wac "$WAC_VERSION"; then
  echo "== installing wac-cli $WAC_VERSION into $tools (several minutes, once)"
  cargo install --locked wac-cli --version "$WAC_VERSION" --root "$tools"
fi
if ! have wasm-tools "$WASM_TOOLS_VERSION"; then
  echo "== installing wasm-tools $WASM_TOOLS_VERSION into $tools (a few minutes, once)"
  cargo install --locked wasm-tools --version "$WASM_TOOLS_VERSION" --root "$tools"
fi
wac=$tools/bin/wac
wasm_tools=$tools/bin/wasm-tools

echo "== building wcomp (release)"
cargo build --release --locked -p wcomp
# Run a copy, as `cargo install` would leave it (and as wac is run): the linker's own
# output file takes about 60 more page faults to start than a copy of it (its page cache
# is in smaller pieces), 0.5-1.3 ms per run here, which is not wcomp's work.
install -m 755 target/release/wcomp "$tools/bin/wcomp"
wcomp=$tools/bin/wcomp

echo "== small parts: dummy components for the pipeline's worlds"
small=$work/small
mkdir -p "$small"
wit=examples/pipeline/wit
for world in normaliser validator adapter; do
  "$wasm_tools" component embed --dummy --world "$world" "$wit" \
    | "$wasm_tools" component new -o "$small/$world.wasm"
done

echo "== large parts: the example pipeline built with its real toolchains"
large=$work/large
if [ ! -f "$large/normaliser/build/normaliser.wasm" ] \
   || [ ! -f "$large/validator/build/validator.wasm" ] \
   || [ ! -f "$large/adapter/build/adapter.wasm" ]; then
  scripts/install-toolchains.sh >/dev/null
  rm -rf "$large"
  cp -r examples/pipeline "$large"
  for part in normaliser validator adapter; do
    (cd "$large/$part" && "$wcomp" build >/dev/null)
  done
fi
for part in normaliser validator adapter; do
  cp "$large/$part/build/$part.wasm" "$large/$part.wasm"
done

python3 - "$runs" "$wcomp" "$wac" "$work" <<'PY'
import os, shutil, statistics, subprocess, sys, time
runs, wcomp, wac, work = int(sys.argv[1]), *sys.argv[2:]

# wcomp remembers the digests of components it validated in full (its validation memory,
# under WCOMP_CACHE_DIR) and then skips their function bodies. "cold" deletes the cache
# before every run (every part is validated in full, as wac does, and the cache's
# directories are created, as on a machine's first run); "new" empties it of every file
# but keeps its directories (parts new to a machine wcomp has run on); "warm" keeps it, as
# after a `wcomp build` or an earlier compose of the same parts.
cold_cache = os.path.join(work, "cache-cold")
new_cache = os.path.join(work, "cache-new")
warm_cache = os.path.join(work, "cache-warm")
shutil.rmtree(warm_cache, ignore_errors=True)

def empty_files(top):
    for root, _, files in os.walk(top):
        for f in files:
            os.remove(os.path.join(root, f))

def timed(cmd, cwd, cache=None):
    env = dict(os.environ)
    if cache:
        env["WCOMP_CACHE_DIR"] = cache
        if cache == cold_cache:
            shutil.rmtree(cold_cache, ignore_errors=True)
        if cache == new_cache:
            empty_files(new_cache)
    t = time.perf_counter()
    p = subprocess.run(cmd, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    elapsed = time.perf_counter() - t
    if p.returncode != 0:
        sys.exit(f"{' '.join(cmd)} exited {p.returncode}:\n{p.stderr.decode()}")
    return elapsed

def medians(variants, cwd):
    """Median wall time of each (cmd, cache) variant, the variants taking turns run by run,
    so that a machine getting busier or quieter affects them all alike."""
    for cmd, cache in variants:  # one unmeasured run each: page cache, warm memory
        timed(cmd, cwd, cache)
    times = [[] for _ in variants]
    for _ in range(runs):
        for i, (cmd, cache) in enumerate(variants):
            times[i].append(timed(cmd, cwd, cache))
    return [statistics.median(t) for t in times]

def ms(t):
    return f"{t*1000:8.1f}ms"

print(f"\n{runs} runs each, median wall time; ratio = wcomp / wac (below 1: wcomp is faster)\n")
print(f"{'case':<48}{'inputs':>12}{'output':>12}{'cold':>11}{'new':>11}{'warm':>11}{'wac':>11}{'cold/wac':>9}{'new/wac':>9}{'warm/wac':>9}{'cp out':>11}{'cold/cp':>8}{'warm/cp':>8}")
for kind in ["small", "large"]:
    d = os.path.join(work, kind)
    parts = {p: os.path.getsize(os.path.join(d, p + ".wasm")) for p in ["normaliser", "validator", "adapter"]}
    # The WAC file for the whole pipeline, as wcomp chose the wiring.
    subprocess.run([wcomp, "compose", "adapter.wasm", "--plug", "validator.wasm", "--plug",
                    "normaliser.wasm", "--emit-wac", "pipeline.wac", "-o", "auto.wasm"],
                   cwd=d, check=True, stdout=subprocess.DEVNULL)
    deps = ["--dep", "compose:adapter=adapter.wasm", "--dep", "compose:validator=validator.wasm",
            "--dep", "compose:normaliser=normaliser.wasm"]
    cases = [
        ("plug: validator <- normaliser",
         parts["validator"] + parts["normaliser"],
         [wcomp, "compose", "validator.wasm", "--plug", "normaliser.wasm", "-o", "ours.wasm"],
         [wac, "plug", "validator.wasm", "--plug", "normaliser.wasm", "-o", "theirs.wasm"]),
        ("plug: adapter <- validator",
         parts["adapter"] + parts["validator"],
         [wcomp, "compose", "adapter.wasm", "--plug", "validator.wasm", "-o", "ours.wasm"],
         [wac, "plug", "adapter.wasm", "--plug", "validator.wasm", "-o", "theirs.wasm"]),
        ("pipeline (3 parts): auto vs wac compose",
         sum(parts.values()),
         [wcomp, "compose", "adapter.wasm", "--plug", "validator.wasm", "--plug", "normaliser.wasm",
          "-o", "ours.wasm"],
         [wac, "compose", "pipeline.wac", *deps, "-o", "theirs.wasm"]),
        ("pipeline (3 parts): both from the WAC",
         sum(parts.values()),
         [wcomp, "compose", "pipeline.wac", *deps, "-o", "ours.wasm"],
         [wac, "compose", "pipeline.wac", *deps, "-o", "theirs.wasm"]),
    ]
    for name, insize, ours_cmd, theirs_cmd in cases:
        out = os.path.join(d, "ours.wasm")
        copy_cmd = ["cp", out, os.path.join(d, "copy.wasm")]
        subprocess.run(ours_cmd, cwd=d, check=True, stdout=subprocess.DEVNULL)
        cold, new, warm, theirs, copy = medians(
            [(ours_cmd, cold_cache), (ours_cmd, new_cache), (ours_cmd, warm_cache),
             (theirs_cmd, None), (copy_cmd, None)], d)
        size = os.path.getsize(out)
        print(f"{kind + ' ' + name:<48}{insize:>12,}{size:>12,}{ms(cold)}{ms(new)}{ms(warm)}{ms(theirs)}{cold/theirs:>9.2f}{new/theirs:>9.2f}{warm/theirs:>9.2f}{ms(copy)}{cold/copy:>8.1f}{warm/copy:>8.1f}")
print("\ncold = wcomp with no cache directory, new = its directories there but empty,")
print("warm = with the parts remembered;")
print("cp out = `cp` of wcomp's output file (page cache warm)")
print(f"load average: {os.getloadavg()}")
PY
