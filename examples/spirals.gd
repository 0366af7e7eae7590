// examples/spirals.gd — the two-spirals problem: two interleaved spirals, one per class,
// separated by a small tanh network. The points are computed in gd from a generated set of
// angles, so the example needs no data file.
//
//     gradc run examples/spirals.gd
use nn;
use loss;

const N = 200;                                   // points per spiral
data t = uniform([N], 0, 1, seed = 3);

// Spiral k (0 or 1): radius r = t, angle 3πt (+ π for the second spiral).
fn spiral(k: f64, t: f64[N]) -> f64[N, 2] {
    let a = 3.0 * 3.141592653589793 * t + k * 3.141592653589793;
    stack([t * cos(a), t * sin(a)], axis = 1)
}
fn points() -> f64[400, 2] { concat([spiral(0.0, t), spiral(1.0, t)], axis = 0) }
fn labels() -> f64[400] { concat([zeros([N]), ones([N])], axis = 0) }

param w1: f64[2, 32] = glorot();
param b1: f64[32] = zeros();
param w2: f64[32, 32] = glorot();
param b2: f64[32] = zeros();
param w3: f64[32] = glorot();
param b3: f64 = 0.0;

fn net[B](x: f64[B, 2]) -> f64[B] {
    let h = dense_tanh(dense_tanh(3.0 * x, w1, b1), w2, b2);
    h @ w3 + b3
}

fn objective[B](x: f64[B, 2], y: f64[B]) -> f64 { binary_cross_entropy_logits(net(x), y) }
fn accuracy() -> f64 { mean(f64((net(points()) > 0) == (labels() > 0.5))) }

train objective(points(), labels()) {
    optimizer = adam(lr = 0.01),
    steps = 1500,
    batch = 100,
    seed = 2,
}

print "accuracy", accuracy();
assert accuracy() >= 0.95;
