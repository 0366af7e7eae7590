//! Elementwise first-order optimizers: `sgd` (momentum, Nesterov), `adagrad`, `rmsprop`, and
//! the Adam family (`adam`, `adamw`, `amsgrad`). Formulas are in the [module docs](super).
//!
//! Each update runs in the param's own element type (state tensors have the param's dtype and
//! shape); scalar coefficients (`lr`, bias corrections, …) are computed in `f64` and rounded
//! once to that type.

use super::real::{with_real, Real};
use super::{ConfigError, StateReader, StateWriter};
use crate::tensor::{Buffer, Tensor};

/// `g + wd · p` when weight decay is on (coupled L2, as PyTorch's `weight_decay`).
#[inline(always)]
fn l2<T: Real>(g: T, p: T, wd: Option<T>) -> T {
    match wd {
        Some(wd) => g + wd * p,
        None => g,
    }
}

fn nonzero<T: Real>(x: f64) -> Option<T> {
    (x != 0.0).then(|| T::of(x))
}

#[derive(Clone, Debug)]
pub(crate) struct Sgd {
    pub momentum: f64,
    pub nesterov: bool,
    pub weight_decay: f64,
    /// Momentum buffers (none when `momentum == 0`).
    pub buf: Vec<Tensor>,
}

impl Sgd {
    pub fn update(&mut self, lr: f64, params: &mut [Tensor], grads: &[Buffer]) {
        for (i, p) in params.iter_mut().enumerate() {
            with_real!(p.dtype(), T => {
                let (lr, mu, wd) = (T::of(lr), T::of(self.momentum), nonzero::<T>(self.weight_decay));
                let p = T::slice_mut(p.data_mut());
                let g = T::slice(&grads[i]);
                match self.buf.get_mut(i) {
                    None => p.iter_mut().zip(g).for_each(|(p, &g)| {
                        *p -= lr * l2(g, *p, wd);
                    }),
                    Some(b) => {
                        let b = T::slice_mut(b.data_mut());
                        let nesterov = self.nesterov;
                        p.iter_mut().zip(g).zip(b).for_each(|((p, &g), b)| {
                            let g = l2(g, *p, wd);
                            *b = mu * *b + g;
                            let u = if nesterov { g + mu * *b } else { *b };
                            *p -= lr * u;
                        })
                    }
                }
            })
        }
    }

    pub fn save(&self, w: &mut StateWriter) {
        w.tensors("momentum", &self.buf);
    }

    pub fn load(&mut self, r: &mut StateReader) -> Result<(), ConfigError> {
        self.buf = r.tensors_like("momentum", &self.buf)?;
        Ok(())
    }
}

#[derive(Clone, Debug)]
pub(crate) struct Adagrad {
    pub eps: f64,
    pub weight_decay: f64,
    /// Sums of squared gradients.
    pub sum: Vec<Tensor>,
}

impl Adagrad {
    pub fn update(&mut self, lr: f64, params: &mut [Tensor], grads: &[Buffer]) {
        for (i, p) in params.iter_mut().enumerate() {
            with_real!(p.dtype(), T => {
                let (lr, eps, wd) = (T::of(lr), T::of(self.eps), nonzero::<T>(self.weight_decay));
                let p = T::slice_mut(p.data_mut());
                let s = T::slice_mut(self.sum[i].data_mut());
                p.iter_mut().zip(T::slice(&grads[i])).zip(s).for_each(|((p, &g), s)| {
                    let g = l2(g, *p, wd);
                    *s += g * g;
                    *p -= lr * (g / (s.sqrt() + eps));
                })
            })
        }
    }

    pub fn save(&self, w: &mut StateWriter) {
        w.tensors("sum", &self.sum);
    }

    pub fn load(&mut self, r: &mut StateReader) -> Result<(), ConfigError> {
        self.sum = r.tensors_like("sum", &self.sum)?;
        Ok(())
    }
}

#[derive(Clone, Debug)]
pub(crate) struct RmsProp {
    pub alpha: f64,
    pub eps: f64,
    pub weight_decay: f64,
    /// Running averages of squared gradients.
    pub v: Vec<Tensor>,
}

impl RmsProp {
    pub fn update(&mut self, lr: f64, params: &mut [Tensor], grads: &[Buffer]) {
        for (i, p) in params.iter_mut().enumerate() {
            with_real!(p.dtype(), T => {
                let (lr, eps, wd) = (T::of(lr), T::of(self.eps), nonzero::<T>(self.weight_decay));
                let (alpha, one_minus_alpha) = (T::of(self.alpha), T::of(1.0 - self.alpha));
                let p = T::slice_mut(p.data_mut());
                let v = T::slice_mut(self.v[i].data_mut());
                p.iter_mut().zip(T::slice(&grads[i])).zip(v).for_each(|((p, &g), v)| {
                    let g = l2(g, *p, wd);
                    *v = alpha * *v + one_minus_alpha * (g * g);
                    *p -= lr * (g / (v.sqrt() + eps));
                })
            })
        }
    }

    pub fn save(&self, w: &mut StateWriter) {
        w.tensors("v", &self.v);
    }

    pub fn load(&mut self, r: &mut StateReader) -> Result<(), ConfigError> {
        self.v = r.tensors_like("v", &self.v)?;
        Ok(())
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum AdamKind {
    Adam,
    /// Decoupled weight decay (Loshchilov and Hutter 2019).
    AdamW,
    /// The running maximum of `v` in the denominator (Reddi et al. 2018).
    AmsGrad,
}

#[derive(Clone, Debug)]
pub(crate) struct Adam {
    pub kind: AdamKind,
    pub beta1: f64,
    pub beta2: f64,
    pub eps: f64,
    pub weight_decay: f64,
    /// Steps taken (the `t` of the bias corrections).
    pub t: u64,
    pub m: Vec<Tensor>,
    pub v: Vec<Tensor>,
    /// `max(v)` so far (`amsgrad` only; empty otherwise).
    pub v_max: Vec<Tensor>,
}

/// The per-step scalars of an Adam update, rounded to the param's type.
struct AdamCoef<T> {
    beta1: T,
    one_minus_beta1: T,
    beta2: T,
    one_minus_beta2: T,
    step_size: T,
    bc2_sqrt: T,
    eps: T,
    /// Coupled L2 (`adam`, `amsgrad`).
    l2: Option<T>,
    /// `1 - lr · weight_decay` (`adamw`).
    decay: Option<T>,
}

fn adam_tensor<T: Real>(p: &mut [T], g: &[T], m: &mut [T], v: &mut [T], v_max: Option<&mut [T]>, c: &AdamCoef<T>) {
    // One loop per variant rather than a branch per element, so that each vectorises.
    let moments = |p: &mut T, g: T, m: &mut T, v: &mut T| {
        let g = l2(g, *p, c.l2);
        if let Some(d) = c.decay {
            *p *= d;
        }
        *m = c.beta1 * *m + c.one_minus_beta1 * g;
        *v = c.beta2 * *v + c.one_minus_beta2 * (g * g);
    };
    let apply = |p: &mut T, m: T, v: T| {
        let denom = v.sqrt() / c.bc2_sqrt + c.eps;
        *p -= c.step_size * (m / denom);
    };
    match v_max {
        None => p.iter_mut().zip(g).zip(m).zip(v).for_each(|(((p, &g), m), v)| {
            moments(p, g, m, v);
            apply(p, *m, *v);
        }),
        Some(v_max) => {
            let it = p.iter_mut().zip(g).zip(m).zip(v).zip(v_max);
            it.for_each(|((((p, &g), m), v), vm)| {
                moments(p, g, m, v);
                *vm = vm.max_nan(*v);
                apply(p, *m, *vm);
            })
        }
    }
}

impl Adam {
    pub fn update(&mut self, lr: f64, params: &mut [Tensor], grads: &[Buffer]) {
        self.t += 1;
        let t = self.t as f64;
        let bc1 = 1.0 - libm::pow(self.beta1, t);
        let bc2 = 1.0 - libm::pow(self.beta2, t);
        let (step_size, bc2_sqrt) = (lr / bc1, bc2.sqrt());
        let decoupled = self.kind == AdamKind::AdamW;
        for (i, p) in params.iter_mut().enumerate() {
            with_real!(p.dtype(), T => {
                let c = AdamCoef::<T> {
                    beta1: T::of(self.beta1),
                    one_minus_beta1: T::of(1.0 - self.beta1),
                    beta2: T::of(self.beta2),
                    one_minus_beta2: T::of(1.0 - self.beta2),
                    step_size: T::of(step_size),
                    bc2_sqrt: T::of(bc2_sqrt),
                    eps: T::of(self.eps),
                    l2: if decoupled { None } else { nonzero::<T>(self.weight_decay) },
                    decay: (decoupled && self.weight_decay != 0.0).then(|| T::of(1.0 - lr * self.weight_decay)),
                };
                adam_tensor::<T>(
                    T::slice_mut(p.data_mut()),
                    T::slice(&grads[i]),
                    T::slice_mut(self.m[i].data_mut()),
                    T::slice_mut(self.v[i].data_mut()),
                    self.v_max.get_mut(i).map(|t| T::slice_mut(t.data_mut())),
                    &c,
                )
            })
        }
    }

    pub fn save(&self, w: &mut StateWriter) {
        w.count("t", self.t);
        w.tensors("m", &self.m);
        w.tensors("v", &self.v);
        w.tensors("v_max", &self.v_max);
    }

    pub fn load(&mut self, r: &mut StateReader) -> Result<(), ConfigError> {
        self.t = r.count("t")?;
        self.m = r.tensors_like("m", &self.m)?;
        self.v = r.tensors_like("v", &self.v)?;
        self.v_max = r.tensors_like("v_max", &self.v_max)?;
        Ok(())
    }
}
