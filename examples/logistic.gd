// examples/logistic.gd — logistic regression on a linearly separable 2-D data set.
//
// logistic.csv has columns x1, x2 and a text label; a text column becomes class indices in
// order of first appearance, so `neg` (the first row) is 0 and `pos` is 1. The classes are
// split by the line 2 x1 - x2 + 0.5 = 0 with a margin, so a linear model separates them.
use loss;

data pts = csv("logistic.csv", header = true);     // f64[300, 3]

param w: f64[2] = zeros();
param b: f64 = 0.0;

fn logit[B](x: f64[B, 2]) -> f64[B] { x @ w + b }

// Binary cross entropy on logits (stable for large |z|), plus a little L2 so that the weights
// of separable data stay finite.
fn objective[B](x: f64[B, 2], y: f64[B]) -> f64 {
    binary_cross_entropy_logits(logit(x), y) + 1e-4 * sum(w ^ 2)
}

fn accuracy() -> f64 {
    mean(f64((logit(pts[:, :2]) > 0) == (pts[:, 2] > 0.5)))
}

print "before: loss", objective(pts[:, :2], pts[:, 2]), "accuracy", accuracy();

train objective(pts[:, :2], pts[:, 2]) {
    optimizer = adam(lr = 0.1),
    steps = 300,
    batch = 64,
    seed = 1,
}

print "after: loss", objective(pts[:, :2], pts[:, 2]), "accuracy", accuracy();
print "w", w, "b", b, "boundary slope", -w[0] / w[1];
// The true boundary is x2 = 2 x1 + 0.5: w points along (2, -1) up to scale.
assert w[0] > 0 & w[1] < 0;
assert accuracy() >= 0.95;
