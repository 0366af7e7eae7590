// examples/iris.gd — an MLP classifies Fisher's iris flowers (examples/iris.csv: four
// measurements in cm and the species; the species column becomes class ids 0, 1, 2 in order
// of first appearance: setosa, versicolor, virginica).
//
//     gradc run examples/iris.gd
use nn;
use loss;

data iris = csv("iris.csv", header = true);      // f64[150, 5]

param w1: f64[4, 16] = glorot();
param b1: f64[16] = zeros();
param w2: f64[16, 3] = glorot();
param b2: f64[3] = zeros();

// Measurements centred and scaled by rough per-feature statistics of the data set.
fn features[B](x: f64[B, 4]) -> f64[B, 4] { (x - [5.8, 3.0, 3.8, 1.2]) / [0.8, 0.4, 1.8, 0.8] }

fn logits[B](x: f64[B, 4]) -> f64[B, 3] { dense(dense_tanh(features(x), w1, b1), w2, b2) }

fn objective[B](x: f64[B, 4], y: f64[B]) -> f64 { cross_entropy(logits(x), i64(y)) }

fn accuracy[B](x: f64[B, 4], y: f64[B]) -> f64 {
    mean(f64(argmax(logits(x), axis = 1) == i64(y)))
}

print "before: loss", objective(iris[:, :4], iris[:, 4]), "accuracy", accuracy(iris[:, :4], iris[:, 4]);

train objective(iris[:, :4], iris[:, 4]) {
    optimizer = adam(lr = 0.02),
    epochs = 60,
    batch = 30,
    seed = 7,
}

print "after: loss", objective(iris[:, :4], iris[:, 4]), "accuracy", accuracy(iris[:, :4], iris[:, 4]);
assert accuracy(iris[:, :4], iris[:, 4]) >= 0.95;
