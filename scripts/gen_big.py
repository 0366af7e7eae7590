#!/usr/bin/env python3
"""Writes a 10,000-line gd program for timing the front end at scale.

    python3 scripts/gen_big.py > big.gd && time ./target/release/gradc check big.gd

1,000 differently named copies of a 10-line network function (`net_0` … `net_999`, each with
its own constants), 100 functions that each sum ten of them, and a `print` of the sum of
those, so that every function is instantiated and checked. tests/scale.rs generates the same
program in Rust (keep the two in step) and checks it in the test suite.

`python3 scripts/gen_big.py N` writes N copies instead; the final sum has N / 10 terms, so N
must stay below about 9,000 (an expression is at most 1,000 operators deep).
"""
import sys

COPIES = 1000
GROUP = 10


def program(copies=COPIES):
    out = []
    w = out.append
    w("// A generated program: %d copies of a 10-line network (scripts/gen_big.py)." % copies)
    w("const D = 16;")
    w("data xs = normal([32, D], seed = 1);")
    for k in (1, 2, 3):
        w(f"param w{k}: f64[D, D] = glorot();")
        w(f"param b{k}: f64[D] = zeros();")
    w("param w4: f64[D] = glorot();")
    w("fn layer[B, I, O](x: f64[B, I], w: f64[I, O], b: f64[O]) -> f64[B, O] { tanh(x @ w + b) }")
    for i in range(copies):
        scale = (i + 1) / 1000
        w(f"fn net_{i}[B](x: f64[B, D]) -> f64 {{")
        w("    let h1 = layer(x, w1, b1);")
        w("    let h2 = layer(h1, w2, b2);")
        w("    let g = sigmoid(h2 @ w3 + b3);")
        w(f"    let z = g * {scale!r} + h1 * 0.5;")
        w("    let n = sum(z ^ 2, axis = 1);")
        w(f"    let m = mean(n) + max(n) * {scale!r};")
        w("    let r = if m > 0 { m } else { -m };")
        w("    r + sum(w4 * z[0])")
        w("}")
    groups = (copies + GROUP - 1) // GROUP
    for g in range(groups):
        terms = " + ".join(f"net_{i}(x)" for i in range(g * GROUP, min(copies, (g + 1) * GROUP)))
        w(f"fn group_{g}[B](x: f64[B, D]) -> f64 {{ {terms} }}")
    w('print "total", ' + " + ".join(f"group_{g}(xs)" for g in range(groups)) + ";")
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    copies = int(sys.argv[1]) if len(sys.argv) > 1 else COPIES
    sys.stdout.write(program(copies))
