// loss — loss functions (LANGUAGE.md §9). Bring it in with `use loss;`; every name is also
// reachable as `loss::name` (a program may still have its own function called `loss`).
//
// Conventions
// - Every loss returns a scalar of the input's float type `F` (`f32` or `f64`): the MEAN over
//   every element (regression losses) or over every example (classification losses), so its
//   size does not depend on the batch.
// - Predictions and targets have the same type and shape, except for `cross_entropy`.
// - `cross_entropy(logits, labels)` takes INTEGER class labels (`i64`), the common case and the
//   cheap one. For one-hot or soft (probability) targets use `soft_cross_entropy`. A label
//   column read by `csv` is `f64`: convert it, `cross_entropy(z, i64(d[:, 4]))`.
// - The classification losses take LOGITS (unnormalised scores) and normalise with
//   `logsumexp`, which is stable where `log(softmax(z))` would overflow or give `log(0)`.
//   `binary_cross_entropy` is the exception that takes probabilities (as PyTorch's `BCELoss`);
//   `binary_cross_entropy_logits` takes logits.
// - Names do not clash with `nn`, `sort`, `circuits` or `pde`.

// Mean squared error: `mean((pred - target)^2)`.
fn mse[F: float, ..S](pred: F[..S], target: F[..S]) -> F {
    mean((pred - target) ^ 2)
}

// Mean absolute error: `mean(|pred - target|)` (its derivative at a tie is 0).
fn mae[F: float, ..S](pred: F[..S], target: F[..S]) -> F {
    mean(abs(pred - target))
}

// Root mean squared error: `sqrt(mse)`, with `eps` under the root so that the derivative at a
// perfect fit is finite.
fn rmse[F: float, ..S](pred: F[..S], target: F[..S], eps: f64 = 1e-12) -> F {
    sqrt(mean((pred - target) ^ 2) + eps)
}

// Huber loss with threshold `delta`: `d^2 / 2` where `|d| <= delta`, else
// `delta * (|d| - delta / 2)`, averaged; `d = pred - target`. Quadratic near 0, linear in the
// tails, continuous with a continuous derivative.
fn huber[F: float, ..S](pred: F[..S], target: F[..S], delta: f64 = 1.0) -> F {
    let d = pred - target;
    let a = abs(d);
    mean(if a <= delta { 0.5 * d ^ 2 } else { delta * (a - 0.5 * delta) })
}

// Softmax cross entropy with integer labels: the mean over examples of
// `logsumexp(logits) - logits[label]`. `logits: F[..S, C]` (the classes along the last axis),
// `labels: i64[..S]` with values in 0..C -> `F`. `S` may be empty: one example.
fn cross_entropy[F: float, ..S, C](logits: F[..S, C], labels: i64[..S]) -> F {
    mean(logsumexp(logits, axis = -1) - sum(logits * one_hot(labels, C), axis = -1))
}

// Softmax cross entropy with a target distribution per example (one-hot or soft labels, each
// row summing to 1): the mean over examples of `-sum(target * log_softmax(logits))`.
// `logits: F[..S, C]`, `target: F[..S, C]` -> `F`.
fn soft_cross_entropy[F: float, ..S, C](logits: F[..S, C], target: F[..S, C]) -> F {
    let logp = logits - stack([logsumexp(logits, axis = -1)], axis = -1);
    -mean(sum(target * logp, axis = -1))
}

// Negative log-likelihood of integer labels given LOG-probabilities (e.g. from
// `nn::log_softmax`): the mean of `-log_probs[label]`. `log_probs: F[..S, C]`, `labels: i64[..S]`.
fn nll[F: float, ..S, C](log_probs: F[..S, C], labels: i64[..S]) -> F {
    -mean(sum(log_probs * one_hot(labels, C), axis = -1))
}

// Binary cross entropy of PROBABILITIES `p` in [0, 1] against targets `y` in [0, 1]:
// `-mean(y log p + (1 - y) log(1 - p))`. `p` is clamped to [eps, 1 - eps] so a saturated
// prediction gives a large finite loss, not `inf`. Prefer `binary_cross_entropy_logits`.
fn binary_cross_entropy[F: float, ..S](p: F[..S], y: F[..S], eps: f64 = 1e-7) -> F {
    let q = clamp(p, eps, 1 - eps);
    -mean(y * log(q) + (1 - y) * log(1 - q))
}

// Binary cross entropy of LOGITS `z` (so `p = sigmoid(z)`) against targets `y` in [0, 1], in
// the stable form `max(z, 0) - z y + log(1 + exp(-|z|))`, averaged.
fn binary_cross_entropy_logits[F: float, ..S](z: F[..S], y: F[..S]) -> F {
    mean(max(z, 0) - z * y + softplus(-abs(z)))
}

// Hinge loss of scores `s` against labels `y` in {-1, +1} (floats): `mean(max(0, 1 - y s))`.
// The margin is 1; its derivative at the margin is 0 (`relu'(0) = 0`).
fn hinge[F: float, ..S](s: F[..S], y: F[..S]) -> F {
    mean(relu(1 - y * s))
}

// Squared hinge loss: `mean(max(0, 1 - y s)^2)`, labels in {-1, +1}.
fn squared_hinge[F: float, ..S](s: F[..S], y: F[..S]) -> F {
    mean(relu(1 - y * s) ^ 2)
}

// Kullback–Leibler divergence KL(p || q) of distributions given as LOG-probabilities along the
// last axis, averaged over the leading axes: `mean(sum(exp(log_p) * (log_p - log_q)))`.
fn kl_divergence[F: float, ..S, C](log_p: F[..S, C], log_q: F[..S, C]) -> F {
    mean(sum(exp(log_p) * (log_p - log_q), axis = -1))
}
