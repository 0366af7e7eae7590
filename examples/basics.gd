// examples/basics.gd — the language without derivatives: tensors, broadcasting, matrix
// products, reductions, indexing, loops, tuples and the standard library.
//
//     gradc run examples/basics.gd
use nn;

const N = 4;
param w: f64[3, 2] = [[1, 2], [3, 4], [5, 6]];
param b: f64[2] = [0.5, -0.5];

// Arithmetic broadcasts like NumPy: [3, 2] + [2] adds b to every row.
print "w + b =", w + b;
assert sum(w + b) == 21;

// `@` is the matrix product: a vector times a matrix, a matrix times a vector.
print "[1, 0, 1] @ w =", [1.0, 0.0, 1.0] @ w;
assert ([1.0, 0.0, 1.0] @ w)[1] == 8;
print "w @ [1, -1] =", w @ [1.0, -1.0];
assert sum(w @ [1.0, -1.0]) == -3;

// Reductions over all axes or one.
print "mean", mean(w), "column sums", sum(w, axis = 0), "row max", max(w, axis = 1);
assert mean(w) == 3.5;
assert argmax([0.1, 0.7, 0.2]) == 1;

// A loop is unrolled at compile time; its variable indexes statically.
fn horner[K](coeffs: f64[K], x: f64) -> f64 {
    let mut acc = 0.0;
    for i in 0..K {
        acc = acc * x + coeffs[i];
    }
    acc
}
print "2x^2 - 3x + 1 at x = 2:", horner([2.0, -3.0, 1.0], 2.0);
assert horner([2.0, -3.0, 1.0], 2.0) == 3;

// An index computed at run time is a gather; out of range would be an error (E090).
fn pick(xs: f64[N], i: i64) -> f64 { xs[i] }
print "pick", pick([10.0, 20.0, 30.0, 40.0], argmax([3.0, 9.0, 1.0]));
assert pick([10.0, 20.0, 30.0, 40.0], 3) == 40;

// A scalar `if` takes one branch; a tensor condition selects elementwise.
fn safe_div(a: i64, d: i64) -> i64 { if d == 0 { 0 } else { a / d } }
print "7 / 2 =", safe_div(7, 2), "7 / 0 guarded =", safe_div(7, 0), "-7 % 3 =", -7 % 3;
assert safe_div(7, 0) == 0;
print "relu by select:", if [-1.0, 2.0] > 0.0 { [-1.0, 2.0] } else { zeros([2]) };

// Tuples, destructured by `let`.
fn min_max[K](x: f64[K]) -> (f64, f64) { (min(x), max(x)) }
print "min and max", min_max([3.0, -1.0, 7.0]);
fn spread[K](x: f64[K]) -> f64 {
    let (lo, hi) = min_max(x);
    hi - lo
}
assert spread([3.0, -1.0, 7.0]) == 8;

// The standard library is gd: a softmax sums to one.
print "softmax", softmax([1.0, 2.0, 3.0]);
assert abs(sum(softmax([1.0, 2.0, 3.0])) - 1) < 1e-12;
print "one_hot", one_hot(2, N), "range", range(N);
assert sum(one_hot(2, N) * range(N)) == 2;

// f32 is a separate type; conversions are explicit.
print "f32", f32(0.1) + f32(0.2), "f64", 0.1 + 0.2, "i64", i64(2.9), "bool", bool(3);
assert f32(0.1) + f32(0.2) == f32(0.3);
