//! L-BFGS (Nocedal and Wright, *Numerical Optimization*, 2nd ed., Algorithm 7.4) with a
//! strong-Wolfe line search (their Algorithms 3.5 and 3.6, with cubic interpolation and the
//! safeguards of PyTorch's `_strong_wolfe`).
//!
//! One [`Optimizer::step`](super::Optimizer::step) is one L-BFGS iteration:
//! 1. `value_and_grad` at the params: the loss `f₀` (returned) and gradient `g`. If `f₀` is
//!    not finite, `lr` is 0 or `g` is all zeros, nothing changes.
//! 2. The direction `d = −H·clip(g)` by the two-loop recursion over the last `history` pairs
//!    `(s, y)`, with the initial inverse Hessian `γI`, `γ = s·y / y·y` of the newest pair. With
//!    no pairs, `d = −clip(g) · min(1, 1/‖clip(g)‖₁)` (PyTorch's first step). If `d` is not a
//!    descent direction (`g·d ≥ 0`, from stale pairs) the pairs are dropped and the first-step
//!    rule is used. Clipping only scales the first trial step: the line search and the pairs
//!    use the true gradients.
//! 3. The line search along `d` from `t = lr`: strong Wolfe conditions with `c₁ = 1e-4`,
//!    `c₂ = 0.9`, at most 25 evaluations of `value_and_grad` (a non-finite loss at a trial point
//!    counts as too large). Extrapolation: cubic interpolation clamped to
//!    `[t + 0.01 (t − t_prev), 10 t]`; zoom: cubic interpolation inside the bracket, moved at
//!    least 10% of the bracket away from its ends when it lands too close twice in a row. Zoom
//!    stops when the bracket's extent along `d` is under the params' rounding resolution
//!    (machine epsilon of the coarsest param type times `max(1, max|x|)`). If the budget runs out,
//!    the best point that satisfies sufficient decrease is taken.
//! 4. The params move to the accepted point, exactly as the objective last evaluated it, and
//!    the pair `s = x₁ − x₀`, `y = g₁ − g₀` is kept if `s·y > ε‖s‖‖y‖` (ε = `f64::EPSILON`),
//!    evicting the oldest beyond `history`. If no trial point decreased the loss, the params stay
//!    and the pairs are dropped (the next step starts again from steepest descent).
//!
//! Every step evaluates the gradient at its own params (step 1) rather than reusing the line
//! search's last one, so each pair comes from one batch even when the train loop changes the
//! batch between steps, and the state is only the pairs.
//!
//! Arithmetic is in `f64` over all params flattened in order; a trial point is rounded once to
//! each param's type before it is evaluated.

use super::clip::clip_flat;
use super::real::{dot, flat_like, flatten, unflatten_into};
use super::{ConfigError, Objective, StateReader, StateWriter};
use crate::tensor::{DType, Tensor};
use std::collections::VecDeque;

const C1: f64 = 1e-4;
const C2: f64 = 0.9;
const MAX_EVALS: usize = 25;

#[derive(Clone, Debug)]
pub(crate) struct Pair {
    s: Vec<f64>,
    y: Vec<f64>,
    /// `1 / (s·y)`.
    rho: f64,
}

impl Pair {
    fn new(s: Vec<f64>, y: Vec<f64>) -> Pair {
        let rho = 1.0 / dot(&s, &y);
        Pair { s, y, rho }
    }
}

#[derive(Clone, Debug)]
pub(crate) struct Lbfgs {
    pub history: usize,
    /// Number of param elements.
    pub n: usize,
    /// Curvature pairs, oldest first.
    pub pairs: VecDeque<Pair>,
}

/// A trial point of the line search.
struct Point {
    t: f64,
    f: f64,
    /// The gradient there, flat.
    g: Vec<f64>,
    /// `g · d`.
    gtd: f64,
}

fn axpy(a: f64, x: &[f64], y: &mut [f64]) {
    y.iter_mut().zip(x).for_each(|(y, x)| *y += a * x);
}

fn norm(x: &[f64]) -> f64 {
    dot(x, x).sqrt()
}

impl Lbfgs {
    pub fn new(history: usize, n: usize) -> Lbfgs {
        Lbfgs { history, n, pairs: VecDeque::new() }
    }

    /// `−H·g` by the two-loop recursion (N&W Algorithm 7.4), or the scaled steepest descent
    /// direction without pairs.
    fn direction(&self, g: &[f64]) -> Vec<f64> {
        let Some(last) = self.pairs.back() else {
            let l1 = g.iter().fold(0.0f64, |a, x| a + x.abs());
            let k = -(1.0f64.min(1.0 / l1));
            return g.iter().map(|x| k * x).collect();
        };
        let mut q = g.to_vec();
        let mut alpha = vec![0.0; self.pairs.len()];
        for (i, p) in self.pairs.iter().enumerate().rev() {
            alpha[i] = p.rho * dot(&p.s, &q);
            axpy(-alpha[i], &p.y, &mut q);
        }
        let gamma = dot(&last.s, &last.y) / dot(&last.y, &last.y);
        q.iter_mut().for_each(|x| *x *= gamma);
        for (i, p) in self.pairs.iter().enumerate() {
            let beta = p.rho * dot(&p.y, &q);
            axpy(alpha[i] - beta, &p.s, &mut q);
        }
        q.iter_mut().for_each(|x| *x = -*x);
        q
    }

    pub fn step<O: Objective>(
        &mut self,
        lr: f64,
        clip: Option<f64>,
        params: &mut [Tensor],
        objective: &mut O,
    ) -> Result<f64, O::Error> {
        let (f0, grads) = objective.value_and_grad(params)?;
        let g0 = flat_like(params, grads, "value_and_grad");
        let mut gc = g0.clone();
        clip_flat(&mut gc, clip);
        if !f0.is_finite() || lr == 0.0 || gc.iter().all(|&x| x == 0.0) {
            return Ok(f0);
        }
        let mut d = self.direction(&gc);
        let mut gtd = dot(&g0, &d);
        if gtd >= 0.0 || gtd.is_nan() {
            self.pairs.clear();
            d = self.direction(&gc);
            gtd = dot(&g0, &d);
            if gtd >= 0.0 || gtd.is_nan() {
                return Ok(f0); // a non-finite gradient: nothing sensible to do
            }
        }

        let x0 = flatten(params);
        let coarsest = if params.iter().any(|p| p.dtype() == DType::F32) { f32::EPSILON as f64 } else { f64::EPSILON };
        let resolution = coarsest * x0.iter().fold(1.0f64, |a, x| a.max(x.abs()));
        let d_max = d.iter().fold(0.0f64, |a, x| a.max(x.abs()));
        let at = |t: f64| -> Vec<f64> { x0.iter().zip(&d).map(|(x, d)| x + t * d).collect() };
        let mut trial = params.to_vec();
        let mut eval = |t: f64| -> Result<Point, O::Error> {
            unflatten_into(&at(t), &mut trial);
            let (f, g) = objective.value_and_grad(&trial)?;
            let g = flat_like(&trial, g, "value_and_grad");
            Ok(Point { t, f, gtd: dot(&g, &d), g })
        };
        let start = Point { t: 0.0, f: f0, g: Vec::new(), gtd };
        match strong_wolfe(&mut eval, start, lr, d_max, resolution)? {
            Some(p) => {
                unflatten_into(&at(p.t), params);
                let s: Vec<f64> = flatten(params).iter().zip(&x0).map(|(x1, x0)| x1 - x0).collect();
                let y: Vec<f64> = p.g.iter().zip(&g0).map(|(g1, g0)| g1 - g0).collect();
                let sy = dot(&s, &y);
                if sy.is_finite() && sy > f64::EPSILON * norm(&s) * norm(&y) {
                    self.pairs.push_back(Pair::new(s, y));
                    if self.pairs.len() > self.history {
                        self.pairs.pop_front();
                    }
                }
            }
            None => self.pairs.clear(),
        }
        Ok(f0)
    }

    pub fn save(&self, w: &mut StateWriter) {
        for (k, p) in self.pairs.iter().enumerate() {
            w.vector(&format!("s.{k}"), &p.s);
            w.vector(&format!("y.{k}"), &p.y);
        }
    }

    pub fn load(&mut self, r: &mut StateReader) -> Result<(), ConfigError> {
        let mut pairs = VecDeque::new();
        let mut k = 0;
        while r.has(&format!("s.{k}")) {
            if k == self.history {
                return Err(ConfigError::new(format!(
                    "the saved state has more than `history = {}` curvature pairs",
                    self.history
                )));
            }
            let s = r.vector(&format!("s.{k}"), self.n)?;
            let y = r.vector(&format!("y.{k}"), self.n)?;
            pairs.push_back(Pair::new(s, y));
            k += 1;
        }
        self.pairs = pairs;
        Ok(())
    }
}

/// The minimiser of the cubic through `(x1, f1)`, `(x2, f2)` with slopes `g1`, `g2`, clamped to
/// `[lo, hi]`; the midpoint of `[lo, hi]` when the cubic has no minimum or a value is not finite.
#[allow(clippy::too_many_arguments)]
fn cubic_min(x1: f64, f1: f64, g1: f64, x2: f64, f2: f64, g2: f64, lo: f64, hi: f64) -> f64 {
    let mid = 0.5 * (lo + hi);
    let d1 = g1 + g2 - 3.0 * (f1 - f2) / (x1 - x2);
    let d2_square = d1 * d1 - g1 * g2;
    if d2_square < 0.0 || d2_square.is_nan() {
        return mid;
    }
    let d2 = d2_square.sqrt();
    let min_pos = if x1 <= x2 {
        x2 - (x2 - x1) * ((g2 + d2 - d1) / (g2 - g1 + 2.0 * d2))
    } else {
        x1 - (x1 - x2) * ((g1 + d2 - d1) / (g1 - g2 + 2.0 * d2))
    };
    if min_pos.is_finite() {
        min_pos.clamp(lo, hi)
    } else {
        mid
    }
}

/// A step `t > 0` along `d` from `start` (t = 0) that satisfies the strong Wolfe conditions, or
/// failing that the lowest point found with sufficient decrease; `None` if there is none.
fn strong_wolfe<E>(
    eval: &mut impl FnMut(f64) -> Result<Point, E>,
    start: Point,
    t0: f64,
    d_max: f64,
    resolution: f64,
) -> Result<Option<Point>, E> {
    let (f0, gtd0) = (start.f, start.gtd);
    let armijo = |p: &Point| p.f.is_finite() && p.f <= f0 + C1 * p.t * gtd0;
    let curvature = |p: &Point| p.gtd.abs() <= -C2 * gtd0;

    // Bracketing: grow t until a bracket [lo, hi] holds a strong Wolfe point.
    let mut prev = start;
    let mut cur = eval(t0)?;
    let mut evals = 1;
    let (mut lo, mut hi) = loop {
        if !armijo(&cur) || cur.f >= prev.f {
            break (prev, cur);
        }
        if curvature(&cur) {
            return Ok(Some(cur));
        }
        if cur.gtd >= 0.0 {
            break (cur, prev);
        }
        if evals == MAX_EVALS {
            return Ok(Some(cur));
        }
        let (min_step, max_step) = (cur.t + 0.01 * (cur.t - prev.t), 10.0 * cur.t);
        let t = cubic_min(prev.t, prev.f, prev.gtd, cur.t, cur.f, cur.gtd, min_step, max_step);
        prev = std::mem::replace(&mut cur, eval(t)?);
        evals += 1;
    };

    // Zoom: `lo` is the lowest point with sufficient decrease so far, `hi` the other end.
    let mut insufficient_progress = false;
    while evals < MAX_EVALS {
        let (a, b) = (lo.t.min(hi.t), lo.t.max(hi.t));
        if (b - a) * d_max < resolution {
            break;
        }
        let mut t = cubic_min(lo.t, lo.f, lo.gtd, hi.t, hi.f, hi.gtd, a, b);
        let eps = 0.1 * (b - a);
        if (b - t).min(t - a) < eps {
            if insufficient_progress || t >= b || t <= a {
                t = if (t - b).abs() < (t - a).abs() { b - eps } else { a + eps };
                insufficient_progress = false;
            } else {
                insufficient_progress = true;
            }
        } else {
            insufficient_progress = false;
        }
        let p = eval(t)?;
        evals += 1;
        if !armijo(&p) || p.f >= lo.f {
            hi = p;
        } else {
            if curvature(&p) {
                return Ok(Some(p));
            }
            if p.gtd * (hi.t - lo.t) >= 0.0 {
                hi = std::mem::replace(&mut lo, p);
            } else {
                lo = p;
            }
        }
    }
    Ok((lo.t > 0.0).then_some(lo))
}
