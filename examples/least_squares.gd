// examples/least_squares.gd — fit y = a x + b to linear.csv in closed form, no training:
// a = cov(x, y) / var(x), b = mean(y) - a mean(x). examples/linear.gd reaches the same
// line by gradient descent.
//
//     gradc run examples/least_squares.gd
data pts = csv("linear.csv", header = true);   // columns x, y  ->  f64[200, 2]

fn centered[R](v: f64[R]) -> f64[R] { v - mean(v) }

fn fit[R](x: f64[R], y: f64[R]) -> (f64, f64) {
    let a = sum(centered(x) * centered(y)) / sum(centered(x) ^ 2);
    (a, mean(y) - a * mean(x))
}

fn r_squared[R](x: f64[R], y: f64[R]) -> f64 {
    let (a, b) = fit(x, y);
    1 - sum((y - (a * x + b)) ^ 2) / sum(centered(y) ^ 2)
}

print "slope and intercept", fit(pts[:, 0], pts[:, 1]);
print "R^2", r_squared(pts[:, 0], pts[:, 1]);
print "rows", shape(pts)[0], "first row", pts[0], "last x", pts[199, 0];

fn slope[R](x: f64[R], y: f64[R]) -> f64 { let (a, _) = fit(x, y); a }
fn intercept[R](x: f64[R], y: f64[R]) -> f64 { let (_, b) = fit(x, y); b }
assert abs(slope(pts[:, 0], pts[:, 1]) - 3) < 0.05;
assert abs(intercept(pts[:, 0], pts[:, 1]) + 1) < 0.05;
assert r_squared(pts[:, 0], pts[:, 1]) > 0.95;
