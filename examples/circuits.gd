// examples/circuits.gd — Boolean circuits and their reverse derivatives over Z2.
//
// `rgrad(f)(x, dy)` is the compositional reverse derivative of a `bool` circuit (ORACLES.md
// R1–R3); reverse derivative ascent (`rda`) trains the `bool` params of a circuit with it. Here
// a 3-input lookup table learns the carry of a full adder, then the sum.
use circuits;

fn and2(x: bool, y: bool) -> bool { x & y }
fn or2(x: bool, y: bool) -> bool { x | y }

// R1: R[AND]((1,0), 1) = (0, 1) and R[OR]((1,0), 1) = (1, 0).
print "R[AND]((1,0), 1) =", rgrad(and2)(true, false, true), rgrad(and2, wrt = 1)(true, false, true);
assert !rgrad(and2)(true, false, true) & rgrad(and2, wrt = 1)(true, false, true);
assert rgrad(or2)(true, false, true) & !rgrad(or2, wrt = 1)(true, false, true);
// R1, half adder with both outputs: R((1,0), (ds, dc) = (0,1)) = (0, 1).
fn half_adder_bits(x: bool[2]) -> bool[2] {
    let (s, c) = half_adder(x[0], x[1]);
    stack([s, c])
}
print "R[half adder]((1,0), (0,1)) =", rgrad(half_adder_bits)([true, false], [false, true]);
assert !rgrad(half_adder_bits)([true, false], [false, true])[0];
assert rgrad(half_adder_bits)([true, false], [false, true])[1];
// R2: x & x computes x, but its compositional reverse derivative is 2x = 0 over Z2.
assert !rgrad(|x: bool| x & x)(true, true);

// Training: full_adder.csv lists a, b, cin, sum, carry (no header row).
data table = csv("full_adder.csv");             // f64[8, 5]

param carry_lut: bool[8] = bernoulli(0.5);
param sum_lut: bool[8] = bernoulli(0.5);

// An 8-entry lookup table as a circuit: a tree of multiplexers selected by the three inputs.
fn lut3[B](t: bool[8], a: bool[B], b: bool[B], c: bool[B]) -> bool[B] {
    let e = |k: i64| broadcast(t[k], [B]);
    mux(a, mux4(b, c, e(0), e(1), e(2), e(3)), mux4(b, c, e(4), e(5), e(6), e(7)))
}

fn bits[B](rows: f64[B, 5], k: i64) -> bool[B] { rows[:, k] > 0.5 }

// The error bits: where the table's output differs from the target column.
fn carry_errors[B](rows: f64[B, 5]) -> bool[B] {
    xor(lut3(carry_lut, bits(rows, 0), bits(rows, 1), bits(rows, 2)), bits(rows, 4))
}
fn sum_errors[B](rows: f64[B, 5]) -> bool[B] {
    xor(lut3(sum_lut, bits(rows, 0), bits(rows, 1), bits(rows, 2)), bits(rows, 3))
}

// Each row selects one table entry, and the reverse derivative of the multiplexer tree is 1
// exactly at the selected entry: one step flips a wrong entry, so one pass learns the table.
train carry_errors(table) { optimizer = rda(), epochs = 1, batch = 1, shuffle = false }
train sum_errors(table) { optimizer = rda(), epochs = 1, batch = 1, shuffle = false }

print "carry table", carry_lut, "sum table", sum_lut;
assert !any(carry_errors(table));
assert !any(sum_errors(table));
// The learned tables are majority and parity.
fn learned_ok(a: bool, b: bool, c: bool) -> bool {
    let (s, cout) = full_adder(a, b, c);
    (cout == majority(a, b, c)) & (s == xor3(a, b, c))
}
assert learned_ok(true, false, true) & learned_ok(false, false, true);
