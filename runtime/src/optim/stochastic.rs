//! Optimizers that estimate what they need from random probes: `forward_gradient` (forward
//! mode only), `spsa` (zeroth order) and `adahessian` (Hutchinson's diagonal from `hvp`).
//! Formulas, defaults and the order of the random draws are in the [module docs](super).

use super::clip::clip_buffers;
use super::real::{like_params, with_real, zeros_like, Real};
use super::{ConfigError, Objective, StateReader, StateWriter};
use crate::rng::Rng;
use crate::tensor::{Buffer, Tensor};

/// +1 or −1 with equal odds: the top bit of one `next_u64` (1 → +1).
fn rademacher(rng: &mut Rng) -> f64 {
    if rng.next_u64() >> 63 == 1 {
        1.0
    } else {
        -1.0
    }
}

/// Tensors shaped and typed as `params`, filled by `draw` (params in order, elements
/// row-major), each value rounded once to its param's type.
fn draw_like(params: &[Tensor], mut draw: impl FnMut() -> f64) -> Vec<Tensor> {
    params
        .iter()
        .map(|p| {
            let values: Vec<f64> = (0..p.len()).map(|_| draw()).collect();
            Tensor::from_f64s(p.dtype(), p.shape().to_vec(), &values).expect("same length as its param")
        })
        .collect()
}

/// `p ← p − lr·g` for every param.
fn descend(lr: f64, params: &mut [Tensor], grads: &[Buffer]) {
    for (p, g) in params.iter_mut().zip(grads) {
        with_real!(p.dtype(), T => {
            let lr = T::of(lr);
            T::slice_mut(p.data_mut()).iter_mut().zip(T::slice(g)).for_each(|(p, &g)| *p -= lr * g);
        })
    }
}

#[derive(Clone, Debug)]
pub(crate) struct ForwardGradient {
    pub samples: usize,
}

impl ForwardGradient {
    pub fn step<O: Objective>(
        &mut self,
        lr: f64,
        clip: Option<f64>,
        params: &mut [Tensor],
        objective: &mut O,
        rng: &mut Rng,
    ) -> Result<f64, O::Error> {
        let mut loss = f64::NAN;
        let mut acc: Vec<Buffer> = params.iter().map(|p| zeros_like(p).into_data()).collect();
        for sample in 0..self.samples {
            let v = draw_like(params, || rng.normal_f64());
            let (f, derivative) = objective.value_and_jvp(params, &v)?;
            if sample == 0 {
                loss = f;
                if !f.is_finite() {
                    return Ok(f);
                }
            }
            for (a, v) in acc.iter_mut().zip(&v) {
                with_real!(v.dtype(), T => {
                    let k = T::of(derivative);
                    T::slice_mut(a).iter_mut().zip(T::slice(v.data())).for_each(|(a, &v)| *a += k * v);
                })
            }
        }
        if self.samples > 1 {
            for a in &mut acc {
                with_real!(a.dtype(), T => {
                    let k = T::of(self.samples as f64);
                    T::slice_mut(a).iter_mut().for_each(|a| *a /= k);
                })
            }
        }
        clip_buffers(&mut acc, clip);
        descend(lr, params, &acc);
        Ok(loss)
    }
}

#[derive(Clone, Debug)]
pub(crate) struct Spsa {
    pub c: f64,
}

impl Spsa {
    pub fn step<O: Objective>(
        &mut self,
        lr: f64,
        clip: Option<f64>,
        params: &mut [Tensor],
        objective: &mut O,
        rng: &mut Rng,
    ) -> Result<f64, O::Error> {
        let delta = draw_like(params, || rademacher(rng));
        let shifted = |sign: f64| -> Vec<Tensor> {
            let mut out = params.to_vec();
            for (p, d) in out.iter_mut().zip(&delta) {
                with_real!(p.dtype(), T => {
                    let c = T::of(sign * self.c);
                    T::slice_mut(p.data_mut()).iter_mut().zip(T::slice(d.data())).for_each(|(p, &d)| *p += c * d);
                })
            }
            out
        };
        let f_plus = objective.value(&shifted(1.0))?;
        let f_minus = objective.value(&shifted(-1.0))?;
        let loss = 0.5 * (f_plus + f_minus);
        if !loss.is_finite() {
            return Ok(loss);
        }
        let k = (f_plus - f_minus) / (2.0 * self.c);
        let mut g: Vec<Buffer> = delta
            .into_iter()
            .map(|d| {
                let mut d = d.into_data();
                with_real!(d.dtype(), T => {
                    let k = T::of(k);
                    T::slice_mut(&mut d).iter_mut().for_each(|x| *x *= k);
                });
                d
            })
            .collect();
        clip_buffers(&mut g, clip);
        descend(lr, params, &g);
        Ok(loss)
    }
}

#[derive(Clone, Debug)]
pub(crate) struct AdaHessian {
    pub beta1: f64,
    pub beta2: f64,
    pub eps: f64,
    pub weight_decay: f64,
    pub hessian_power: f64,
    pub t: u64,
    pub m: Vec<Tensor>,
    /// Running average of the squared Hutchinson diagonal estimates.
    pub v: Vec<Tensor>,
}

impl AdaHessian {
    pub fn step<O: Objective>(
        &mut self,
        lr: f64,
        clip: Option<f64>,
        params: &mut [Tensor],
        objective: &mut O,
        rng: &mut Rng,
    ) -> Result<f64, O::Error> {
        let z = draw_like(params, || rademacher(rng));
        let (loss, grads) = objective.value_and_grad(params)?;
        if !loss.is_finite() {
            return Ok(loss);
        }
        let mut g = like_params(params, grads, "value_and_grad");
        clip_buffers(&mut g, clip);
        let hz = like_params(params, objective.hvp(params, &z)?, "hvp");

        self.t += 1;
        let t = self.t as f64;
        let bc1 = 1.0 - libm::pow(self.beta1, t);
        let bc2 = 1.0 - libm::pow(self.beta2, t);
        let k = self.hessian_power;
        let step_size = lr / bc1;
        let bc2_root = if k == 1.0 { bc2.sqrt() } else { libm::pow(bc2.sqrt(), k) };
        for (i, p) in params.iter_mut().enumerate() {
            with_real!(p.dtype(), T => {
                let (beta1, one_minus_beta1) = (T::of(self.beta1), T::of(1.0 - self.beta1));
                let (beta2, one_minus_beta2) = (T::of(self.beta2), T::of(1.0 - self.beta2));
                let (step_size, bc2_root, eps) = (T::of(step_size), T::of(bc2_root), T::of(self.eps));
                let wd = (self.weight_decay != 0.0).then(|| T::of(self.weight_decay));
                let power = (k != 1.0).then(|| T::of(k));
                let p = T::slice_mut(p.data_mut());
                let it = p
                    .iter_mut()
                    .zip(T::slice(&g[i]))
                    .zip(T::slice(z[i].data()))
                    .zip(T::slice(&hz[i]))
                    .zip(T::slice_mut(self.m[i].data_mut()))
                    .zip(T::slice_mut(self.v[i].data_mut()));
                it.for_each(|(((((p, &g), &z), &hz), m), v)| {
                    let diag = z * hz;
                    *m = beta1 * *m + one_minus_beta1 * g;
                    *v = beta2 * *v + one_minus_beta2 * (diag * diag);
                    let root = match power {
                        None => v.sqrt(),
                        Some(k) => v.sqrt().pow(k),
                    };
                    let denom = root / bc2_root + eps;
                    let u = match wd {
                        None => *m / denom,
                        Some(wd) => *m / denom + wd * *p,
                    };
                    *p -= step_size * u;
                })
            })
        }
        Ok(loss)
    }

    pub fn save(&self, w: &mut StateWriter) {
        w.count("t", self.t);
        w.tensors("m", &self.m);
        w.tensors("v", &self.v);
    }

    pub fn load(&mut self, r: &mut StateReader) -> Result<(), ConfigError> {
        self.t = r.count("t")?;
        self.m = r.tensors_like("m", &self.m)?;
        self.v = r.tensors_like("v", &self.v)?;
        Ok(())
    }
}
