//! Gradient clipping by global L2 norm (`clip = c`), as `optax.clip_by_global_norm`: with
//! `n = ‖g‖₂` over every element of every param, `g ← g · (c / n)` when `n > c`, unchanged
//! otherwise (no epsilon, unlike PyTorch's `clip_grad_norm_`, so a clipped gradient has norm
//! exactly `c` up to rounding).
//!
//! The norm is a sequential sum of squares in `f64` (params in order, elements row-major), so
//! the same gradient always gives the same bits. The factor `c / n` is computed in `f64` and
//! rounded once to each param's type. A NaN norm clips nothing (the NaN reaches the update,
//! and the next loss shows it).

use super::real::{with_real, Real};
use crate::tensor::Buffer;

/// `‖g‖₂` over all elements of all `grads`, summed in order in `f64`.
pub(crate) fn global_norm(grads: &[Buffer]) -> f64 {
    let mut sum = 0.0f64;
    for g in grads {
        match g {
            Buffer::F64(v) => v.iter().for_each(|&x| sum += x * x),
            b => (0..b.len()).for_each(|i| {
                let x = b.get_f64(i);
                sum += x * x
            }),
        }
    }
    sum.sqrt()
}

/// The factor that brings a gradient of norm `norm` within `max_norm`, if it is over.
fn factor(norm: f64, max_norm: f64) -> Option<f64> {
    (norm > max_norm).then(|| max_norm / norm)
}

/// Clips per-param gradients (each in its param's type) in place.
pub(crate) fn clip_buffers(grads: &mut [Buffer], max_norm: Option<f64>) {
    let Some(max_norm) = max_norm else { return };
    let Some(k) = factor(global_norm(grads), max_norm) else { return };
    for g in grads {
        with_real!(g.dtype(), T => {
            let k = T::of(k);
            T::slice_mut(g).iter_mut().for_each(|x| *x *= k);
        })
    }
}

/// Clips a flat `f64` gradient in place.
pub(crate) fn clip_flat(g: &mut [f64], max_norm: Option<f64>) {
    let Some(max_norm) = max_norm else { return };
    let norm = g.iter().fold(0.0f64, |acc, x| acc + x * x).sqrt();
    if let Some(k) = factor(norm, max_norm) {
        g.iter_mut().for_each(|x| *x *= k);
    }
}
