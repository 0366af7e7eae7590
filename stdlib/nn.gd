// nn — neural-network building blocks: dense layers, activations, softmax, normalisation,
// embeddings and attention (LANGUAGE.md §9). Bring it in with `use nn;`; every name is also
// reachable as `nn::name`.
//
// Conventions
// - Every function is generic over the float type `F` (`f32` or `f64`) and, where it makes
//   sense, over any leading batch shape `..S`: `dense` takes `F[I]`, `F[B, I]`, `F[B, T, I]`, …
// - Compile-time options (`axis`, `eps`, `slope`, …) have defaults and are passed by name:
//   `softmax(x, axis = 0)`, `leaky_relu(x, slope = 0.2)`. A float option is a compile-time
//   number and works for `f32` as well as `f64` values.
// - Features run along the LAST axis: weights are `F[in, out]` and a layer is `x @ w + b`.
// - `relu`, `gelu`, `tanh`, `sigmoid` and `softplus` are built-ins (LANGUAGE.md §6); this module
//   adds the layers built on them and the activations the language does not have.
// - Reductions drop their axis; `stack([r], axis = k)` puts it back with length 1 (a
//   "keepdims"), so a reduced value broadcasts against the value it was reduced from.
// - Names do not clash with `loss`, `sort`, `circuits` or `pde`: all five may be used together.

// ---------------------------------------------------------------------------------------------
// Layers

// The affine layer without bias: `x @ w`. `x: F[..S, I]`, `w: F[I, O]` -> `F[..S, O]`.
fn linear[F: float, ..S, I, O](x: F[..S, I], w: F[I, O]) -> F[..S, O] {
    x @ w
}

// The dense (fully connected) layer `x @ w + b`, no activation.
// `x: F[..S, I]`, `w: F[I, O]`, `b: F[O]` -> `F[..S, O]`.
fn dense[F: float, ..S, I, O](x: F[..S, I], w: F[I, O], b: F[O]) -> F[..S, O] {
    x @ w + b
}

// A dense layer followed by `relu`.
fn dense_relu[F: float, ..S, I, O](x: F[..S, I], w: F[I, O], b: F[O]) -> F[..S, O] {
    relu(dense(x, w, b))
}

// A dense layer followed by `gelu`.
fn dense_gelu[F: float, ..S, I, O](x: F[..S, I], w: F[I, O], b: F[O]) -> F[..S, O] {
    gelu(dense(x, w, b))
}

// A dense layer followed by `tanh`.
fn dense_tanh[F: float, ..S, I, O](x: F[..S, I], w: F[I, O], b: F[O]) -> F[..S, O] {
    tanh(dense(x, w, b))
}

// A dense layer followed by `sigmoid`.
fn dense_sigmoid[F: float, ..S, I, O](x: F[..S, I], w: F[I, O], b: F[O]) -> F[..S, O] {
    sigmoid(dense(x, w, b))
}

// A residual block `x + relu(x @ w + b)`; the layer keeps the width `N`.
fn residual_relu[F: float, ..S, N](x: F[..S, N], w: F[N, N], b: F[N]) -> F[..S, N] {
    x + relu(x @ w + b)
}

// An embedding lookup: row `ids[…]` of `table`, as a one-hot product (its derivative with
// respect to `table` scatters into the looked-up rows). `ids: i64[..S]` with values in 0..V,
// `table: F[V, E]` -> `F[..S, E]`.
fn embedding[F: float, ..S, V, E](ids: i64[..S], table: F[V, E]) -> F[..S, E] {
    one_hot(ids, V) @ table
}

// ---------------------------------------------------------------------------------------------
// Activations (elementwise, any shape)

// Leaky ReLU: `x` where `x > 0`, else `slope * x`.
fn leaky_relu[F: float, ..S](x: F[..S], slope: f64 = 0.01) -> F[..S] {
    if x > 0 { x } else { slope * x }
}

// ReLU capped at 6: `clamp(x, 0, 6)`.
fn relu6[F: float, ..S](x: F[..S]) -> F[..S] {
    clamp(x, 0, 6)
}

// ELU: `x` where `x > 0`, else `alpha * (exp(x) - 1)`. The `exp` is of `min(x, 0)` so that the
// branch not taken cannot overflow (and leak an infinite derivative).
fn elu[F: float, ..S](x: F[..S], alpha: f64 = 1.0) -> F[..S] {
    if x > 0 { x } else { alpha * (exp(min(x, 0)) - 1) }
}

// SELU (Klambauer et al. 2017) with its standard constants.
fn selu[F: float, ..S](x: F[..S]) -> F[..S] {
    1.0507009873554805 * (if x > 0 { x } else { 1.6732632423543772 * (exp(min(x, 0)) - 1) })
}

// SiLU / swish: `x * sigmoid(x)`.
fn silu[F: float, ..S](x: F[..S]) -> F[..S] {
    x * sigmoid(x)
}

// Mish: `x * tanh(softplus(x))`.
fn mish[F: float, ..S](x: F[..S]) -> F[..S] {
    x * tanh(softplus(x))
}

// Softsign: `x / (1 + |x|)`.
fn softsign[F: float, ..S](x: F[..S]) -> F[..S] {
    x / (1 + abs(x))
}

// Hard tanh: `clamp(x, -1, 1)`.
fn hard_tanh[F: float, ..S](x: F[..S]) -> F[..S] {
    clamp(x, -1, 1)
}

// Hard sigmoid: `clamp(x / 6 + 1/2, 0, 1)` (the piecewise-linear sigmoid of MobileNetV3).
fn hard_sigmoid[F: float, ..S](x: F[..S]) -> F[..S] {
    clamp(x / 6 + 0.5, 0, 1)
}

// ---------------------------------------------------------------------------------------------
// Softmax and normalisation

// Softmax along `axis` (default: the last), computed as `exp(x - max) / sum(exp(x - max))` so
// that large inputs do not overflow. Each slice along `axis` sums to 1.
fn softmax[F: float, ..S](x: F[..S], axis: i64 = -1) -> F[..S] {
    let e = exp(x - stack([max(x, axis = axis)], axis = axis));
    e / stack([sum(e, axis = axis)], axis = axis)
}

// Log-softmax along `axis` (default: the last): `x - logsumexp(x)`, stable for large inputs.
fn log_softmax[F: float, ..S](x: F[..S], axis: i64 = -1) -> F[..S] {
    x - stack([logsumexp(x, axis = axis)], axis = axis)
}

// Softmax with a temperature: `softmax(x / temperature)` along the last axis.
fn softmax_t[F: float, ..S](x: F[..S], temperature: f64 = 1.0) -> F[..S] {
    softmax(x / temperature)
}

// Layer normalisation over the last axis (Ba et al. 2016): each row is shifted to mean 0 and
// scaled to variance 1 (biased variance, plus `eps`), then `* gamma + beta`.
// `x: F[..S, N]`, `gamma: F[N]`, `beta: F[N]` -> `F[..S, N]`.
fn layer_norm[F: float, ..S, N](x: F[..S, N], gamma: F[N], beta: F[N], eps: f64 = 1e-5) -> F[..S, N] {
    let mu = stack([mean(x, axis = -1)], axis = -1);
    let d = x - mu;
    let var = stack([mean(d ^ 2, axis = -1)], axis = -1);
    d / sqrt(var + eps) * gamma + beta
}

// Root-mean-square normalisation over the last axis (Zhang & Sennrich 2019):
// `x / sqrt(mean(x^2) + eps) * gamma`.
fn rms_norm[F: float, ..S, N](x: F[..S, N], gamma: F[N], eps: f64 = 1e-6) -> F[..S, N] {
    x / sqrt(stack([mean(x ^ 2, axis = -1)], axis = -1) + eps) * gamma
}

// Scales each slice along `axis` (default: the last) to unit Euclidean norm; `eps` keeps the
// zero vector (and its derivative) finite.
fn l2_normalize[F: float, ..S](x: F[..S], axis: i64 = -1, eps: f64 = 1e-12) -> F[..S] {
    x / sqrt(stack([sum(x ^ 2, axis = axis)], axis = axis) + eps)
}

// ---------------------------------------------------------------------------------------------
// Attention

// Scaled dot-product attention: `softmax(q @ k.T / sqrt(D)) @ v`, one head, no mask.
// `q: F[T, D]` (queries), `k: F[U, D]` (keys), `v: F[U, E]` (values) -> `F[T, E]`.
// For a batch of sequences use `vmap(attention)`.
fn attention[F: float, T, U, D, E](q: F[T, D], k: F[U, D], v: F[U, E]) -> F[T, E] {
    softmax(q @ k.T / sqrt(D)) @ v
}
