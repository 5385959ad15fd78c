#!/usr/bin/env python3
"""Writes the WAT inputs for benches/validate.sh into the directory given as argv[1].

- greeter.wat      the getting-started greeter (hundreds of bytes)
- data-heavy.wat   the greeter with ~30 MB of data segments (what big components with
                   embedded runtimes and assets look like to a validator: mostly data)
- code-heavy.wat   the greeter with ~20,000 extra functions (~5 MB of code to validate)

All conform to examples/getting-started/wit.
"""
import os
import sys

out = sys.argv[1]
os.makedirs(out, exist_ok=True)
here = os.path.dirname(os.path.abspath(__file__))
greeter = open(os.path.join(here, "..", "examples", "getting-started", "greeter.wat")).read()
with open(os.path.join(out, "greeter.wat"), "w") as f:
    f.write(greeter)

marker = '    (data (i32.const 16) "hello")\n'
assert marker in greeter

# ~30 MB of data: 30 segments of 1 MiB, written as hex escapes (a deterministic pattern,
# so the file hashes the same every run).
chunk = "".join("\\%02x" % ((i * 31 + 7) % 256) for i in range(1 << 20))
segments = "".join(
    '    (data (i32.const %d) "%s")\n' % (65536 + i * (1 << 20), chunk) for i in range(30)
)
data_heavy = greeter.replace("(memory (export \"memory\") 1)", "(memory (export \"memory\") 600)")
data_heavy = data_heavy.replace(marker, marker + segments)
with open(os.path.join(out, "data-heavy.wat"), "w") as f:
    f.write(data_heavy)

# ~20,000 small functions, each with some arithmetic and control flow to validate.
body = "\n".join(
    "      (local.set $x (i32.add (i32.mul (local.get $x) (i32.const %d)) (i32.const %d)))"
    "\n      (if (i32.gt_u (local.get $x) (i32.const %d)) (then (local.set $x (i32.const 0))))"
    % (i + 3, i * 7, 1000 + i)
    for i in range(12)
)
funcs = "".join(
    "    (func $f%d (param $x i32) (result i32)\n%s\n      (local.get $x))\n" % (n, body)
    for n in range(20000)
)
code_heavy = greeter.replace(marker, marker + funcs)
with open(os.path.join(out, "code-heavy.wat"), "w") as f:
    f.write(code_heavy)
