//! Truncated power series arithmetic on graph nodes: the building blocks of the Taylor rules.
//!
//! A [`Series`] holds the *normalised* coefficients `c_0 … c_K` of `t ↦ x(t)` (`c_k = x⁽ᵏ⁾(0) / k!`),
//! each a node of the value's type; `c_0` is always present, a higher coefficient is `None`
//! when it is symbolically zero (no work is emitted for it). Working in normalised
//! coefficients makes the Cauchy product binomial-free, `(uw)_k = Σ_j u_j w_{k−j}`, and turns
//! DESIGN.md §3's recurrences (stated for `y_k = k! c_k`) into the textbook forms of Griewank
//! & Walther (*Evaluating Derivatives*, ch. 13), e.g. for `y' = g(u) u'`:
//! `y_k = (1/k) Σ_{j=1..k} j u_j g_{k−j}` ([`ode`]). Each nonlinear rule costs O(K²) nodes.

use crate::ir::{NodeId, UnaryOp};
use crate::passes::emit::Emitter;

/// Normalised Taylor coefficients `c_0 … c_K`; `None` is a symbolic zero (never `c_0`).
pub type Series = Vec<Option<NodeId>>;

/// A series with only its constant term.
pub fn constant(c0: NodeId, order: usize) -> Series {
    let mut s = vec![None; order + 1];
    s[0] = Some(c0);
    s
}

/// The constant term (always present).
pub fn c0(s: &Series) -> NodeId {
    s[0].expect("a series always has its constant term")
}

/// Whether every coefficient above the constant term is zero.
pub fn is_constant(s: &Series) -> bool {
    s[1..].iter().all(Option::is_none)
}

/// `Σ terms`, or a symbolic zero when there are none.
pub fn total(e: &mut Emitter, terms: Vec<NodeId>) -> Option<NodeId> {
    terms.into_iter().reduce(|a, b| e.add2(a, b))
}

/// `a − b` where either may be symbolically zero.
pub fn minus(e: &mut Emitter, a: Option<NodeId>, b: Option<NodeId>) -> Option<NodeId> {
    match (a, b) {
        (Some(a), Some(b)) => Some(e.sub(a, b)),
        (a, None) => a,
        (None, Some(b)) => Some(e.neg(b)),
    }
}

/// `x · c` for a constant `c`, skipping the multiplication by 1.
pub fn scaled(e: &mut Emitter, x: NodeId, c: f64) -> NodeId {
    if c == 1.0 { x } else { e.scale(x, c) }
}

/// The Cauchy product `(a ⊙ b)_k = Σ_j op(a_j, b_{k−j})` for a bilinear `op` (elementwise
/// `mul`, `matmul`): the coefficients `1..=K`; the caller supplies `c_0`.
pub fn cauchy(e: &mut Emitter, a: &Series, b: &Series, op: &dyn Fn(&mut Emitter, NodeId, NodeId) -> NodeId) -> Vec<Option<NodeId>> {
    let order = a.len() - 1;
    (1..=order)
        .map(|k| {
            let terms = (0..=k).filter_map(|j| Some(op(e, a[j]?, b[k - j]?))).collect();
            total(e, terms)
        })
        .collect()
}

/// The elementwise product of two series.
pub fn mul(e: &mut Emitter, a: &Series, b: &Series) -> Series {
    let first = e.mul(c0(a), c0(b));
    std::iter::once(Some(first)).chain(cauchy(e, a, b, &|e, x, y| e.mul(x, y))).collect()
}

/// `u / w`: `v_k = (u_k − Σ_{j<k} v_j w_{k−j}) / w_0`.
pub fn div(e: &mut Emitter, u: &Series, w: &Series, v0: NodeId) -> Series {
    let mut v = constant(v0, u.len() - 1);
    let w0 = c0(w);
    for k in 1..u.len() {
        let terms = (0..k).filter_map(|j| Some(e.mul(v[j]?, w[k - j]?))).collect();
        let s = total(e, terms);
        v[k] = minus(e, u[k], s).map(|n| e.div(n, w0));
    }
    v
}

/// `y` with `y' = g(u) u'`, `y_0 = v0`: `y_k = (1/k) Σ_{j=1..k} j u_j g_{k−j}`. `g(e, y, m)`
/// gives `g_m` from `y_0 … y_m` (so `g` may depend on `y` itself, as `tanh' = 1 − tanh²`).
pub fn ode(e: &mut Emitter, u: &Series, v0: NodeId, g: &mut dyn FnMut(&mut Emitter, &Series, usize) -> Option<NodeId>) -> Series {
    let order = u.len() - 1;
    let mut y = constant(v0, order);
    let mut gs: Vec<Option<NodeId>> = Vec::with_capacity(order);
    for k in 1..=order {
        gs.push(g(e, &y, k - 1));
        let terms = (1..=k)
            .filter_map(|j| {
                let t = e.mul(u[j]?, gs[k - j]?);
                Some(scaled(e, t, j as f64 / k as f64))
            })
            .collect();
        y[k] = total(e, terms);
    }
    y
}

/// `(y²)_m` from `y_0 … y_m`.
pub fn square_at(e: &mut Emitter, y: &Series, m: usize) -> Option<NodeId> {
    let terms = (0..=m).filter_map(|i| Some(e.mul(y[i]?, y[m - i]?))).collect();
    total(e, terms)
}

/// `exp(u)` with `exp(u_0) = v0`.
pub fn exp(e: &mut Emitter, u: &Series, v0: NodeId) -> Series {
    ode(e, u, v0, &mut |_, y, m| y[m])
}

/// `log(u)`: `v_k = (u_k − (1/k) Σ_{j=1..k−1} j v_j u_{k−j}) / u_0`.
pub fn log(e: &mut Emitter, u: &Series, v0: NodeId) -> Series {
    let mut v = constant(v0, u.len() - 1);
    let u0 = c0(u);
    for k in 1..u.len() {
        let terms = (1..k)
            .filter_map(|j| {
                let t = e.mul(v[j]?, u[k - j]?);
                Some(scaled(e, t, j as f64 / k as f64))
            })
            .collect();
        let s = total(e, terms);
        v[k] = minus(e, u[k], s).map(|n| e.div(n, u0));
    }
    v
}

/// `(sin u, cos u)` jointly: `s_k = (1/k) Σ j u_j c_{k−j}`, `c_k = −(1/k) Σ j u_j s_{k−j}`.
pub fn sin_cos(e: &mut Emitter, u: &Series) -> (Series, Series) {
    let order = u.len() - 1;
    let s0 = e.unary(UnaryOp::Sin, c0(u));
    let k0 = e.unary(UnaryOp::Cos, c0(u));
    let (mut s, mut c) = (constant(s0, order), constant(k0, order));
    for k in 1..=order {
        let mut st = Vec::new();
        let mut ct = Vec::new();
        for j in 1..=k {
            let Some(uj) = u[j] else { continue };
            let w = j as f64 / k as f64;
            if let Some(ck) = c[k - j] {
                let t = e.mul(uj, ck);
                st.push(scaled(e, t, w));
            }
            if let Some(sk) = s[k - j] {
                let t = e.mul(uj, sk);
                ct.push(scaled(e, t, -w));
            }
        }
        s[k] = total(e, st);
        c[k] = total(e, ct);
    }
    (s, c)
}

/// `sqrt(u)`: `v_k = (u_k − Σ_{j=1..k−1} v_j v_{k−j}) / (2 v_0)`.
pub fn sqrt(e: &mut Emitter, u: &Series, v0: NodeId) -> Series {
    let mut v = constant(v0, u.len() - 1);
    let two_v0 = e.scale(v0, 2.0);
    for k in 1..u.len() {
        let terms = (1..k).filter_map(|j| Some(e.mul(v[j]?, v[k - j]?))).collect();
        let s = total(e, terms);
        v[k] = minus(e, u[k], s).map(|n| e.div(n, two_v0));
    }
    v
}

/// `sigmoid(u)`, from `σ' = σ (1 − σ)`.
pub fn sigmoid(e: &mut Emitter, u: &Series, v0: NodeId) -> Series {
    ode(e, u, v0, &mut |e, y, m| {
        if m == 0 {
            let one = e.splat_like(v0, 1.0);
            let c = e.sub(one, v0);
            Some(e.mul(v0, c))
        } else {
            let sq = square_at(e, y, m);
            minus(e, y[m], sq)
        }
    })
}

/// `erf(u)`, from `erf'(u) = (2/√π) exp(−u²)` (a series of `u` alone).
pub fn erf(e: &mut Emitter, u: &Series, v0: NodeId) -> Series {
    let sq = mul(e, u, u);
    let neg: Series = sq.iter().map(|c| c.map(|n| e.neg(n))).collect();
    let ex0 = e.unary(UnaryOp::Exp, c0(&neg));
    let ex = exp(e, &neg, ex0);
    let g: Series = ex.iter().map(|c| c.map(|n| e.scale(n, std::f64::consts::FRAC_2_SQRT_PI))).collect();
    ode(e, u, v0, &mut |_, _, m| g[m])
}

/// `u^r` for an exponent `r` without a series (a node of `u`'s type):
/// `v_k = Σ_{j=1..k} (r j − (k − j)) u_j v_{k−j} / (k u_0)`, from `u v' = r v u'`.
pub fn pow_const(e: &mut Emitter, u: &Series, r: NodeId, v0: NodeId) -> Series {
    let order = u.len() - 1;
    let mut v = constant(v0, order);
    let u0 = c0(u);
    for k in 1..=order {
        let mut terms = Vec::new();
        for j in 1..=k {
            let (Some(uj), Some(vk)) = (u[j], v[k - j]) else { continue };
            let rj = scaled(e, r, j as f64);
            let off = e.splat_like(r, (k - j) as f64);
            let coef = e.sub(rj, off);
            let t = e.mul(uj, vk);
            terms.push(e.mul(coef, t));
        }
        v[k] = total(e, terms).map(|s| {
            let d = e.scale(u0, k as f64);
            e.div(s, d)
        });
    }
    v
}
