// examples/pinn.gd — a physics-informed network for the Poisson equation on the unit square,
//     -Δu = f  in (0, 1)²,    u = 0  on the boundary,
// with f = 2π² sin(πx) sin(πy), whose solution is u* = sin(πx) sin(πy).
//
// The loss is the mean squared PDE residual at random collocation points (fresh at every
// step), computed with the exact Laplacian of the network, plus the boundary error on random
// points of the four edges. The residual comes from stdlib/pde.gd (see its header for the
// pattern).
use pde;

const PI = 3.141592653589793;

param w1: f64[2, 32] = glorot();
param b1: f64[32] = zeros();
param w2: f64[32, 32] = glorot();
param b2: f64[32] = zeros();
param w3: f64[32] = glorot();

fn u(x: f64[2]) -> f64 {
    let h = tanh(x @ w1 + b1);
    tanh(h @ w2 + b2) @ w3
}

fn source(x: f64[2]) -> f64 { 2 * PI ^ 2 * sin(PI * x[0]) * sin(PI * x[1]) }
fn u_exact(x: f64[2]) -> f64 { sin(PI * x[0]) * sin(PI * x[1]) }

fn residual(x: f64[2]) -> f64 { poisson_residual(laplacian(u)(x), source(x)) }

// Boundary points: t in [0, 1] on each of the four edges.
fn edges[Q](t: f64[Q]) -> f64[4, Q, 2] {
    let zs = zeros([Q], dtype = f64);
    let os = ones([Q], dtype = f64);
    stack([stack([t, zs], axis = 1), stack([t, os], axis = 1), stack([zs, t], axis = 1), stack([os, t], axis = 1)])
}

fn objective[P, Q](inner: f64[P, 2], t: f64[Q]) -> f64 {
    let boundary = reshape(edges(t), [4 * Q, 2]);
    pinn_loss(vmap(residual)(inner), vmap(u)(boundary), zeros([4 * Q], dtype = f64), weight = 10.0)
}

// The exact solution satisfies the equation: its residual is 0 up to rounding.
fn exact_residual(x: f64[2]) -> f64 { poisson_residual(laplacian(u_exact)(x), source(x)) }
assert abs(exact_residual([0.3, 0.6])) < 1e-9;
assert abs(exact_residual([0.5, 0.5])) < 1e-9;
assert abs(exact_residual([0.9, 0.1])) < 1e-9;

// The error against u* on a fixed grid of test points.
data test_pts = uniform([200, 2], 0, 1, seed = 5);
fn error() -> f64 { sqrt(mean((vmap(u)(test_pts) - vmap(u_exact)(test_pts)) ^ 2)) }

print "before: rms error", error();

train objective(uniform([128, 2], 0, 1), uniform([16], 0, 1)) {
    optimizer = adam(lr = cosine(3e-3, 3000)),
    steps = 3000,
    seed = 0,
    log_every = 500,
}

print "after: rms error", error(), "u(1/2, 1/2)", u([0.5, 0.5]), "(exact 1)";
