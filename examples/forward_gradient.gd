// examples/forward_gradient.gd — "gradients without backpropagation" (Baydin et al. 2022):
// `forward_gradient` estimates the gradient from one forward-mode directional derivative
// along a random direction, times that direction. The same small MLP (examples/mlp.gd's
// circle) trains once with it and once with Adam's reverse-mode gradient, from the same start,
// for the same number of steps; the closing note of issue 6 compares losses and times.
//
//     gradc run examples/forward_gradient.gd
use nn;
use loss;

data pts = uniform([512, 2], -1, 1, seed = 100);

// Two copies of the network, initialised from the same distribution: `a` trains by forward
// gradients (plain SGD steps along the estimate), `b` by Adam.
param a1: f64[2, 16] = uniform(-1, 1);
param a2: f64[16] = uniform(-1, 1);
param a3: f64[16] = zeros();
param b1: f64[2, 16] = uniform(-1, 1);
param b2: f64[16] = uniform(-1, 1);
param b3: f64[16] = zeros();

fn inside[B](x: f64[B, 2]) -> f64[B] { f64(sum(x ^ 2, axis = 1) < 0.5) }
fn net[B](x: f64[B, 2], w1: f64[2, 16], w2: f64[16], c: f64[16]) -> f64[B] { tanh(x @ w1 + c) @ w2 }

fn loss_a[B](x: f64[B, 2]) -> f64 { binary_cross_entropy_logits(net(x, a1, a2, a3), inside(x)) }
fn loss_b[B](x: f64[B, 2]) -> f64 { binary_cross_entropy_logits(net(x, b1, b2, b3), inside(x)) }

print "start: forward-gradient net", loss_a(pts), "adam net", loss_b(pts);

train loss_a(pts) { optimizer = forward_gradient(lr = 0.1), steps = 2000, batch = 64, seed = 5 }
train loss_b(pts) { optimizer = adam(lr = 0.02), steps = 2000, batch = 64, seed = 5 }

print "after 2000 steps: forward gradient", loss_a(pts), "adam", loss_b(pts);
assert loss_a(pts) < 0.3;
assert loss_b(pts) < loss_a(pts);
