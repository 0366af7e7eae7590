// sort — differentiable sorting and ranking (LANGUAGE.md §9). Bring it in with `use sort;`;
// every name is also reachable as `sort::name`.
//
// The building block is a SOFT compare-and-swap: for a pair (a, b) with d = b - a and a
// sigmoid f of steepness `beta`,
//     soft_min2(a, b) = f(d) a + (1 - f(d)) b,     soft_max2(a, b) = (1 - f(d)) a + f(d) b.
// The pair's sum is kept exactly, and as `beta` grows both tend to the hard min and max.
//
// The sigmoid is the RECIPROCAL sigmoid f(d) = 1/2 + beta d / (1 + 2 beta |d|) of Petersen et
// al., "Monotonic Differentiable Sorting Networks" (ICLR 2022), not the logistic one: its
// derivative decays like 1/d², which makes every soft min/max, and so the whole network,
// MONOTONIC (each output is non-decreasing in every input: ∂min/∂a = f + d f' > 0 and
// ∂min/∂b = 1 - f - d f' = 1 / (2 (1 + 2 beta |d|)²) > 0), so that gradients never point the
// wrong way. f(0) = 1/2 (a tie averages the pair), f(-d) = 1 - f(d), f'(0) = beta.
//
// `soft_sort` runs the odd–even transposition network (N rounds of compare-and-swap on
// neighbours; with hard swaps it sorts any N inputs). It costs N² soft swaps, vectorised as N
// rounds of elementwise work, so it is meant for short vectors (tens of entries).
// `soft_rank` compares all pairs (N² elementwise work, one round).
//
// `beta` is a compile-time steepness; SORT_BETA is the default. Larger is closer to the hard
// sort but has larger, more local derivatives. Scale `beta` with the spacing of your data:
// beta · (typical gap) ≫ 1 means nearly hard.
// Names do not clash with the built-ins `min`/`max` or with `nn`, `loss`, `circuits`, `pde`.

// The default steepness of the soft comparisons.
const SORT_BETA = 10.0;

// The reciprocal sigmoid: 1/2 + beta d / (1 + 2 beta |d|), in (0, 1), elementwise.
fn soft_step[F: float, ..S](d: F[..S], beta: f64 = SORT_BETA) -> F[..S] {
    0.5 + beta * d / (1 + 2 * beta * abs(d))
}

// The soft minimum of `a` and `b`, elementwise (with broadcasting of equal shapes).
fn soft_min2[F: float, ..S](a: F[..S], b: F[..S], beta: f64 = SORT_BETA) -> F[..S] {
    let s = soft_step(b - a, beta = beta);
    s * a + (1 - s) * b
}

// The soft maximum of `a` and `b`, elementwise; `soft_min2(a, b) + soft_max2(a, b) = a + b`.
fn soft_max2[F: float, ..S](a: F[..S], b: F[..S], beta: f64 = SORT_BETA) -> F[..S] {
    let s = soft_step(b - a, beta = beta);
    (1 - s) * a + s * b
}

// Soft sort, ascending: the odd–even transposition network with soft swaps. In round r entry
// i is paired with i + 1 when i + r is even and with i - 1 otherwise (an entry without a
// partner is kept). The result has the same sum as `x`; as `beta` grows it tends to the
// sorted `x`.
fn soft_sort[F: float, N](x: F[N], beta: f64 = SORT_BETA) -> F[N] {
    let i = range(N, dtype = i64);
    let mut z = x;
    for r in 0..N {
        let lower = (i + r) % 2 == 0;           // this entry is the lower of its pair
        let next = concat([z[1:], z[N - 1:]]);  // z[i + 1], or z[i] at the end
        let prev = concat([z[:1], z[:N - 1]]);  // z[i - 1], or z[i] at the start
        let other = if lower { next } else { prev };
        let s = soft_step(other - z, beta = beta);
        z = if lower { s * z + (1 - s) * other } else { (1 - s) * z + s * other };
    }
    z
}

// Soft sort, descending: `-soft_sort(-x)`.
fn soft_sort_desc[F: float, N](x: F[N], beta: f64 = SORT_BETA) -> F[N] {
    -soft_sort(-x, beta = beta)
}

// Soft ranks, ascending and 1-based: rank_i = 1/2 + Σ_j f(x_i - x_j) (the j = i term is 1/2).
// The smallest entry has rank about 1 and the largest about N; tied entries share the mean of
// their ranks; the ranks always sum to N (N + 1) / 2. Each rank is non-decreasing in its own
// entry and non-increasing in the others.
fn soft_rank[F: float, N](x: F[N], beta: f64 = SORT_BETA) -> F[N] {
    let d = reshape(x, [N, 1]) - reshape(x, [1, N]);
    0.5 + sum(soft_step(d, beta = beta), axis = 1)
}

// The soft k-th smallest entry (k counts from 0): entry k of `soft_sort(x)`.
fn soft_kth[F: float, N](x: F[N], k: i64, beta: f64 = SORT_BETA) -> F {
    soft_sort(x, beta = beta)[k]
}

// The soft median: the middle entry of `soft_sort(x)` (the mean of the two middle ones for
// an even N).
fn soft_median[F: float, N](x: F[N], beta: f64 = SORT_BETA) -> F {
    let z = soft_sort(x, beta = beta);
    0.5 * (z[(N - 1) / 2] + z[N / 2])
}
