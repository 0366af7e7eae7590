// examples/derivatives.gd — a tour of gd's derivative operators, each checked against a value
// known in closed form (ORACLES.md: T = Taylor mode, S = Laplacians and jets).

// Reverse mode: gradients.
print "d/dx x^3 at 2:", grad(|x| x ^ 3)(2.0);
assert abs(grad(|x| x ^ 3)(2.0) - 12) < 1e-9;

fn rosenbrock(p: f64[2]) -> f64 { (1 - p[0]) ^ 2 + 100 * (p[1] - p[0] ^ 2) ^ 2 }
// At the minimum (1, 1) the gradient vanishes and the Hessian is [[802, -400], [-400, 200]].
print "rosenbrock at (1, 1):", value_and_grad(rosenbrock)([1.0, 1.0]), hessian(rosenbrock)([1.0, 1.0]);
assert abs(grad(rosenbrock)([1.0, 1.0])[0]) < 1e-12;
assert abs(hessian(rosenbrock)([1.0, 1.0])[0, 0] - 802) < 1e-9;
assert abs(hessian(rosenbrock)([1.0, 1.0])[0, 1] + 400) < 1e-9;
// A Hessian-vector product without forming the Hessian: H (1, 1) = (402, -200).
assert abs(hvp(rosenbrock)([1.0, 1.0], [1.0, 1.0])[0] - 402) < 1e-9;

// Forward mode: a directional derivative, and a Jacobian.
fn polar(r: f64[2]) -> f64[2] { [r[0] * cos(r[1]), r[0] * sin(r[1])] }
// det J = r; at (2, 0) the Jacobian is [[1, 0], [0, 2]].
print "jacobian of polar at (2, 0):", jacobian(polar)([2.0, 0.0]);
assert abs(jacobian(polar)([2.0, 0.0])[1, 1] - 2) < 1e-12;
assert abs(jvp(polar)([2.0, 0.0], [0.0, 1.0])[1] - 2) < 1e-12;
assert abs(vjp(polar)([2.0, 0.0], [0.0, 1.0])[1] - 2) < 1e-12;

// Taylor mode. T1: exp(sin t) at 0 has coefficients 1, 1, 1/2, 0, -1/8, -1/15, -1/240.
fn es(t: f64) -> f64 { exp(sin(t)) }
print "taylor of exp(sin t):", taylor(es, order = 6)(0.0, 1.0);
assert abs(taylor(es, order = 6)(0.0, 1.0)[4] + 0.125) < 1e-12;
assert abs(taylor(es, order = 6)(0.0, 1.0)[5] + 1.0 / 15.0) < 1e-12;
assert abs(taylor(es, order = 6)(0.0, 1.0)[6] + 1.0 / 240.0) < 1e-12;
// diff gives the derivatives themselves: y4 = -3, y5 = -8.
assert abs(diff(es, 4)(0.0) + 3) < 1e-9;
assert abs(diff(es, 5)(0.0) + 8) < 1e-9;
// T2: log(2 + t): y3 = 0.25, so c3 = 0.25 / 6.
assert abs(taylor(|t| log(2 + t), order = 3)(0.0, 1.0)[3] - 0.25 / 6) < 1e-12;
// T5: t^3 at 0 has y3 = 6 (a known wrong answer elsewhere is 0).
assert abs(diff(|t| t ^ 3, 3)(0.0) - 6) < 1e-12;

// Laplacians. S1: u = (Σ x_i²)(Σ x_j) at (1, 2, 3) has Laplacian 60; the stochastic estimate is
// unbiased (its mean over random directions is 60).
fn u(x: f64[3]) -> f64 { sum(x ^ 2) * sum(x) }
print "laplacian of u at (1, 2, 3):", laplacian(u)([1.0, 2.0, 3.0]), "estimate from 16 directions:", laplacian(u, samples = 16)([1.0, 2.0, 3.0]);
assert abs(laplacian(u)([1.0, 2.0, 3.0]) - 60) < 1e-9;
// S2: the 2-jet of u along the curve x + e1 t + e2 t² has c2 = u11 / 2 + u2 = 46.
assert abs(taylor(u, order = 2)([1.0, 2.0, 3.0], [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])[2] - 46) < 1e-9;
// S3: a mixed third derivative from one jet: c7 = ½ ∂³g/∂x1²∂x2 = -1.30686414466.
fn g(x: f64[3]) -> f64 { sin(x[0]) * x[1] ^ 2 + x[0] ^ 2 * x[1] * x[2] }
fn s3() -> f64 {
    let z: f64[3] = [0.0, 0.0, 0.0];
    taylor(g, order = 7)([0.3, 0.7, -1.1], [z, [1.0, 0.0, 0.0], [0.0, 1.0, 0.0], z, z, z, z])[7]
}
print "S3:", s3();
assert abs(s3() + 1.30686414466) < 1e-9;

// Composition: operators nest, vmap included.
fn quartic(x: f64) -> f64 { x ^ 4 }
assert abs(grad(grad(quartic))(1.0) - 12) < 1e-9;                 // 12 x²
assert abs(grad(|x| taylor(exp, order = 3)(x, x)[3])(1.0) - 2 * exp(1.0) / 3) < 1e-9;
fn cubes[N](x: f64[N]) -> f64 { sum(x ^ 3) / 6 }
print "a batch of Hessians:", vmap(hessian(cubes))([[1.0, 2.0], [3.0, 4.0]]);
assert abs(vmap(hessian(cubes))([[1.0, 2.0], [3.0, 4.0]])[1, 1, 1] - 4) < 1e-12;
assert abs(jvp(grad(cubes))([1.0, 2.0], [1.0, 1.0])[1] - 2) < 1e-12;

// A function with its own derivative: the straight-through estimator.
fn ste_round(x: f64) -> f64 { floor(x + 0.5) } with jvp(x, dx) { dx }
assert grad(ste_round)(2.4) == 1;
assert grad(floor)(2.4) == 0;
