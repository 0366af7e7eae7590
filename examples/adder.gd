// examples/adder.gd — Boolean circuits from the standard library, evaluated: the full
// adder against its truth table (full_adder.csv: a, b, cin, sum, carry), and a 4-bit
// ripple-carry adder against integer addition for every pair of 4-bit numbers.
//
//     gradc run examples/adder.gd
use circuits;

data table = csv("full_adder.csv");             // f64[8, 5]

// The adder applied to all eight rows at once (the circuits are elementwise over any shape).
fn adder_errors(t: f64[8, 5]) -> i64 {
    let bits = t > 0.5;
    let (s, c) = full_adder(bits[:, 0], bits[:, 1], bits[:, 2]);
    sum(i64(xor(s, bits[:, 3]) | xor(c, bits[:, 4])))
}
print "full adder rows that disagree with the table:", adder_errors(table);
assert adder_errors(table) == 0;

// Little-endian bits of 0..15 and back.
fn bits4(n: i64) -> bool[4] { stack([n % 2 == 1, n / 2 % 2 == 1, n / 4 % 2 == 1, n / 8 % 2 == 1]) }
fn value(bits: bool[4], carry: bool) -> i64 { sum(i64(bits) * [1, 2, 4, 8]) + 16 * i64(carry) }

fn add4(a: i64, b: i64) -> i64 {
    let (s, c) = ripple_add(bits4(a), bits4(b));
    value(s, c)
}
print "11 + 6 =", add4(11, 6), "and 15 + 15 =", add4(15, 15);

// Every pair: 256 additions, unrolled into one graph.
fn wrong_sums() -> i64 {
    let mut wrong = 0;
    for a in 0..16 {
        for b in 0..16 {
            wrong = wrong + i64(add4(a, b) != a + b);
        }
    }
    wrong
}
print "wrong sums over all 256 pairs:", wrong_sums();
assert wrong_sums() == 0;
print "parity of 1011:", parity([true, false, true, true]), "and majority(1, 0, 1):", majority(true, false, true);
