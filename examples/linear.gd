// examples/linear.gd — fit y = 3x - 1 by gradient descent
data pts = csv("linear.csv", header = true);   // columns x, y  ->  f64[n, 2]

param w: f64 = 0.0;
param b: f64 = 0.0;

fn model[B](x: f64[B]) -> f64[B] { w * x + b }

fn loss[B](x: f64[B], y: f64[B]) -> f64 {
    mean((model(x) - y) ^ 2)
}

train loss(pts[:, 0], pts[:, 1]) {
    optimizer = adam(lr = 0.1),
    steps = 500,
    batch = 32,
    seed = 1,
}

print "w", w, "b", b;
assert abs(w - 3) < 0.05;
