// examples/rosenbrock.gd — the Rosenbrock valley, f(x, y) = (1 - x)² + 100 (y - x²)², whose
// minimum is at (1, 1), by two second-order methods: L-BFGS with a line search, and
// Newton's method with the exact Hessian from the `hessian` pass.
//
//     gradc run examples/rosenbrock.gd
param p: f64[2] = [-1.2, 1.0];
param q: f64[2] = [-1.2, 1.0];

fn rosenbrock(v: f64[2]) -> f64 { (1 - v[0]) ^ 2 + 100 * (v[1] - v[0] ^ 2) ^ 2 }
fn with_lbfgs() -> f64 { rosenbrock(p) }
fn with_newton() -> f64 { rosenbrock(q) }

train with_lbfgs() { optimizer = lbfgs(history = 10), steps = 100 }
print "lbfgs:", p, "f =", rosenbrock(p);
assert abs(p[0] - 1) < 1e-6 & abs(p[1] - 1) < 1e-6;

train with_newton() { optimizer = newton(), steps = 40 }
print "newton:", q, "f =", rosenbrock(q);
assert abs(q[0] - 1) < 1e-6 & abs(q[1] - 1) < 1e-6;
