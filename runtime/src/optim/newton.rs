//! Newton's method for small problems: `x ← x − lr · d` with `(H + λI) d = clip(g)`.
//!
//! Each step calls `value_and_grad` and then `hessian` at the params (the dense `n × n`
//! Hessian over all param elements flattened in order). `H` is symmetrised (`(H + Hᵀ)/2`) and
//! factored by Cholesky with `λ = damping`. If that fails (`H + λI` is not positive definite,
//! e.g. at a saddle), the factorisation is retried with `λ = max(2·damping, 10⁻³·‖H‖_F)` (10⁻³ if
//! `H = 0`), doubling `λ` until it succeeds: Nocedal and Wright's "Cholesky with added multiple
//! of the identity" (Algorithm 3.3), which ends with a descent direction because
//! `λ > ‖H‖_F ≥ |λ_min(H)|` is positive definite. A Hessian with a non-finite entry never
//! factors; then `d` is NaN, the params become NaN and the next step's loss is non-finite.
//!
//! No line search: `lr` (default 1, the full Newton step) scales the step. Arithmetic is in
//! `f64`; the new params are rounded once to each param's type. There is no state.

use super::clip::clip_flat;
use super::real::{flat_like, flatten, unflatten_into};
use super::Objective;
use crate::tensor::Tensor;

/// Doublings of λ before giving up (only a non-finite Hessian gets there).
const MAX_TRIES: usize = 64;

#[derive(Clone, Debug)]
pub(crate) struct Newton {
    pub damping: f64,
}

/// The lower Cholesky factor of `a + lambda·I` (`a` symmetric, row-major `n × n`), or `None`
/// if it is not (numerically) positive definite.
fn cholesky(a: &[f64], n: usize, lambda: f64) -> Option<Vec<f64>> {
    let mut l = vec![0.0; n * n];
    for j in 0..n {
        let mut diag = a[j * n + j] + lambda;
        for k in 0..j {
            diag -= l[j * n + k] * l[j * n + k];
        }
        if diag <= 0.0 || diag.is_nan() {
            return None;
        }
        let ljj = diag.sqrt();
        l[j * n + j] = ljj;
        for i in j + 1..n {
            let mut sum = a[i * n + j];
            for k in 0..j {
                sum -= l[i * n + k] * l[j * n + k];
            }
            l[i * n + j] = sum / ljj;
        }
    }
    Some(l)
}

/// Solves `L Lᵀ x = b`.
fn cholesky_solve(l: &[f64], n: usize, b: &[f64]) -> Vec<f64> {
    let mut x = b.to_vec();
    for i in 0..n {
        for k in 0..i {
            x[i] -= l[i * n + k] * x[k];
        }
        x[i] /= l[i * n + i];
    }
    for i in (0..n).rev() {
        for k in i + 1..n {
            x[i] -= l[k * n + i] * x[k];
        }
        x[i] /= l[i * n + i];
    }
    x
}

/// `d` with `(H + λI) d = g` (see the module docs for how λ is chosen).
pub(crate) fn newton_direction(h: &[f64], n: usize, g: &[f64], damping: f64) -> Vec<f64> {
    let mut a = h.to_vec();
    for i in 0..n {
        for j in 0..i {
            let m = 0.5 * (h[i * n + j] + h[j * n + i]);
            a[i * n + j] = m;
            a[j * n + i] = m;
        }
    }
    if let Some(l) = cholesky(&a, n, damping) {
        return cholesky_solve(&l, n, g);
    }
    let frobenius = a.iter().fold(0.0f64, |s, x| s + x * x).sqrt();
    let base = if frobenius > 0.0 { 1e-3 * frobenius } else { 1e-3 };
    let mut lambda = (2.0 * damping).max(base);
    for _ in 0..MAX_TRIES {
        if let Some(l) = cholesky(&a, n, lambda) {
            return cholesky_solve(&l, n, g);
        }
        lambda *= 2.0;
    }
    vec![f64::NAN; n]
}

impl Newton {
    pub fn step<O: Objective>(
        &mut self,
        lr: f64,
        clip: Option<f64>,
        params: &mut [Tensor],
        objective: &mut O,
    ) -> Result<f64, O::Error> {
        let (f0, grads) = objective.value_and_grad(params)?;
        if !f0.is_finite() {
            return Ok(f0);
        }
        let mut g = flat_like(params, grads, "value_and_grad");
        clip_flat(&mut g, clip);
        let n = g.len();
        let h = objective.hessian(params)?;
        assert_eq!(h.len(), n * n, "Objective::hessian returned {} entries for {n} params", h.len());
        let d = newton_direction(&h, n, &g, self.damping);
        let x: Vec<f64> = flatten(params).iter().zip(&d).map(|(x, d)| x - lr * d).collect();
        unflatten_into(&x, params);
        Ok(f0)
    }
}
