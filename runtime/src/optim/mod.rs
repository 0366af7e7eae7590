//! The optimizers of `train` blocks (LANGUAGE.md §8). They see the loss only through the
//! [`Objective`] trait (the train loop implements it with compiled derivative graphs), update
//! the params in place, and can checkpoint and restore their state exactly.
//!
//! # Optimizers, options and defaults
//!
//! `lr` is a number or a [`Schedule`]; an option without a default must be given. `clip = c`
//! (off by default) is accepted by every optimizer but `rda`: see [Clipping](#clipping).
//! `rda` (reverse derivative ascent) trains `bool` params, every other optimizer f64 and f32
//! ones; `rda` has no `lr` and no `clip` (a Z2 update flips bits, it cannot be scaled).
//!
//! | optimizer | `lr` | options (default) | calls per step |
//! |---|---|---|---|
//! | `sgd` | required | `momentum` (0), `nesterov` (0; 1 = on, needs `momentum > 0`), `weight_decay` (0) | `value_and_grad` |
//! | `adagrad` | 0.01 | `eps` (1e-10), `weight_decay` (0) | `value_and_grad` |
//! | `rmsprop` | 0.01 | `alpha` (0.99), `eps` (1e-8), `weight_decay` (0) | `value_and_grad` |
//! | `adam` | 0.001 | `beta1` (0.9), `beta2` (0.999), `eps` (1e-8), `weight_decay` (0) | `value_and_grad` |
//! | `adamw` | 0.001 | as `adam`, but `weight_decay` (0.01) is decoupled | `value_and_grad` |
//! | `amsgrad` | 0.001 | as `adam` | `value_and_grad` |
//! | `lbfgs` | 1 | `history` (10) | `value_and_grad` × (1 + line search, ≤ 25) |
//! | `newton` | 1 | `damping` (0) | `value_and_grad`, `hessian` |
//! | `forward_gradient` | required | `samples` (1) | `value_and_jvp` × `samples` |
//! | `spsa` | required | `c` (required) | `value` × 2 |
//! | `adahessian` | required | `beta1` (0.9), `beta2` (0.999), `eps` (1e-4), `weight_decay` (0), `hessian_power` (1) | `value_and_grad`, `hvp` |
//! | `rda` | none | `samples` (off: every marked bit flips); no `clip` | `errors_and_rgrad` |
//!
//! Defaults are PyTorch's (`torch.optim`, 2.x) where it has the optimizer, and the authors'
//! reference code for AdaHessian; `lr` is required where LANGUAGE.md writes it without a default.
//! Checks: rates, `eps`, `momentum`, `weight_decay`, `damping` finite and ≥ 0; `beta1`,
//! `beta2`, `alpha` in `[0, 1)`; `c`, `clip` finite and > 0; `hessian_power` in `(0, 1]`;
//! `history`, `samples` whole numbers ≥ 1; `nesterov` 0 or 1.
//!
//! # Updates
//!
//! `g` is the gradient after clipping; where `weight_decay` is coupled (all but `adamw` and
//! `adahessian`) it is then `g + weight_decay · p`. `t` counts the optimizer's own steps from 1
//! (saved in its state); `lr` is the schedule's value at the step the train loop passes.
//! - `sgd`: without momentum `p ← p − lr·g`; with momentum μ, `b ← μ·b + g` (from `b = 0`) and
//!   `p ← p − lr·(g + μ·b)` (Nesterov) or `p ← p − lr·b` (PyTorch with `dampening = 0`).
//! - `adagrad`: `s ← s + g²`, `p ← p − lr · g / (√s + eps)` (no `lr_decay`, initial sum 0).
//! - `rmsprop`: `v ← α·v + (1 − α)·g²`, `p ← p − lr · g / (√v + eps)` (not centered, no momentum).
//! - `adam`: `m ← β₁·m + (1 − β₁)·g`, `v ← β₂·v + (1 − β₂)·g²`,
//!   `p ← p − (lr / (1 − β₁ᵗ)) · (m / (√v / √(1 − β₂ᵗ) + eps))` (PyTorch's arrangement).
//! - `adamw`: first `p ← p · (1 − lr·weight_decay)`, then the `adam` update (Loshchilov and
//!   Hutter 2019).
//! - `amsgrad`: `v̂ ← max(v̂, v)` and `v̂` in place of `v` in the denominator (Reddi et al. 2018).
//! - `lbfgs`: one L-BFGS iteration per step with a **strong Wolfe** line search
//!   (see `lbfgs.rs` for the details).
//! - `newton`: `(H + λI) d = g` by Cholesky, falling back to larger λ when `H + λI` is not
//!   positive definite, then `p ← p − lr·d` (see `newton.rs`).
//! - `forward_gradient` (Baydin et al. 2022, "Gradients without backpropagation"): for each of
//!   `samples` probes `v ~ N(0, I)`, `(f, ∂) = value_and_jvp(p, v)`; `ĝ = (1/samples)·Σ ∂·v`;
//!   `p ← p − lr·ĝ`. Forward mode only: no other call.
//! - `spsa` (Spall 1992): `Δ` with independent ±1 entries, `f± = value(p ± c·Δ)`,
//!   `ĝ = (f₊ − f₋) / (2c) · Δ`, `p ← p − lr·ĝ`. Two calls per step; the loss it returns is
//!   `(f₊ + f₋)/2`, which differs from `f(p)` by O(c²) (SPSA never evaluates `f(p)` itself).
//! - `rda` (Wilson and Zanasi 2021): `(e, dp) = errors_and_rgrad(p)`, the number of error bits
//!   and the reverse derivative over Z2 at them; `p ← p ⊕ dp`, or only `samples` of the marked
//!   bits chosen at random (see `rda.rs`). The loss it returns is the error count `e`.
//! - `adahessian` (Yao et al. 2021): `z` with ±1 entries, `D = z ⊙ hvp(p, z)` (Hutchinson's
//!   estimate of diag H), `m ← β₁·m + (1 − β₁)·g`, `v ← β₂·v + (1 − β₂)·D²`,
//!   `p ← p − (lr / (1 − β₁ᵗ)) · (m / ((√v)ᵏ / (√(1 − β₂ᵗ))ᵏ + eps) + weight_decay·p)`, k =
//!   `hessian_power`. No spatial averaging (every element is its own block).
//!
//! # Clipping
//!
//! `clip = c` rescales the gradient (or the gradient estimate: `forward_gradient`, `spsa`) to
//! global L2 norm `c` when its norm is larger, before weight decay, as `optax.clip_by_global_norm`
//! (see `clip.rs`). For `lbfgs` it only scales the first trial step (the line search and the
//! curvature pairs use true gradients); for `newton` it clips the right-hand side `g`.
//!
//! # Numbers and determinism
//!
//! - Elementwise optimizers (all but `lbfgs` and `newton`) compute **in each param's own type**,
//!   as PyTorch does: an f32 param has f32 state and is updated with f32 arithmetic. Scalar
//!   coefficients (`lr`, bias corrections, `1 − β`, …) are computed in f64 and rounded once to the
//!   param's type. Gradients of another type than their param are rounded to it first.
//! - `lbfgs` and `newton` compute in f64 over all param elements flattened in order, and round
//!   each new param once to its type.
//! - Every reduction (norms, dot products, the Cholesky factorisation) is a sequential sum in a
//!   fixed order; `pow`, `cos` are `libm`'s; no hash-map order is involved anywhere. The same
//!   params, gradients, state and random state give the same bits on every machine.
//! - Random draws come from the `Rng` passed to [`Optimizer::step`], params in order and
//!   elements row-major, each value rounded to its param's type: `forward_gradient` draws
//!   `rng.normal_f64()` for probe 1 (all params), then probe 2, …; `spsa` and `adahessian` draw
//!   one ±1 per element from the top bit of one `rng.next_u64()` (1 → +1), before any objective
//!   call; `rda` with `samples` draws as `rda.rs` says. Other optimizers draw nothing.
//! - A step whose loss (at the params before the update) is not finite changes neither the params
//!   nor the optimizer's state (random draws already taken stay taken): the train loop reports
//!   it and the last good params are still there.
//!
//! # State
//!
//! [`Optimizer::state`] names every tensor `"{optimizer}.{slot}.{param index}"`, with the param's
//! dtype and shape, plus i64 scalar counters `"{optimizer}.t"`:
//! `sgd.momentum.i` (only with momentum), `adagrad.sum.i`, `rmsprop.v.i`,
//! `adam.t`, `adam.m.i`, `adam.v.i` (likewise `adamw.*`; `amsgrad.*` also has `amsgrad.v_max.i`),
//! `adahessian.t`, `adahessian.m.i`, `adahessian.v.i`, and for `lbfgs` the curvature pairs oldest
//! first, `lbfgs.s.k` and `lbfgs.y.k`, f64 vectors over all param elements. `newton`,
//! `forward_gradient`, `spsa` and `rda` have no state (their randomness lives in the `Rng`, which the
//! train loop checkpoints). [`Optimizer::load_state`] ignores names that do not start with
//! `"{optimizer}."` and rejects a missing, extra or mis-shaped one; a run resumed from a saved
//! state (with the saved `Rng` and the same step numbers) continues bit for bit.

mod clip;
mod first_order;
mod lbfgs;
mod newton;
mod rda;
mod real;
mod schedule;
mod stochastic;

pub use schedule::Schedule;

use crate::rng::Rng;
use crate::tensor::{Buffer, DType, Tensor};
use first_order::{Adagrad, Adam, AdamKind, RmsProp, Sgd};
use lbfgs::Lbfgs;
use newton::Newton;
use rda::Rda;
use real::like_params;
use std::collections::BTreeMap;
use std::fmt;
use stochastic::{AdaHessian, ForwardGradient, Spsa};

/// What an optimizer may ask about the loss at the current batch. `params` are the trained
/// tensors in a fixed order (f64 or f32, any shapes); a returned per-param tensor (gradient,
/// Hessian-vector product) must have its param's number of elements, in either float type.
/// Each method is called only by the optimizers listed under "calls per step" in the module
/// docs, so an objective need only provide what [`Optimizer::uses`] says.
pub trait Objective {
    type Error;
    /// The loss.
    fn value(&mut self, params: &[Tensor]) -> Result<f64, Self::Error>;
    /// The loss and its gradient.
    fn value_and_grad(&mut self, params: &[Tensor]) -> Result<(f64, Vec<Tensor>), Self::Error>;
    /// The loss and its directional derivative along `direction` (tensors shaped and typed as
    /// the params): forward mode; `forward_gradient` uses nothing else.
    fn value_and_jvp(&mut self, params: &[Tensor], direction: &[Tensor]) -> Result<(f64, f64), Self::Error>;
    /// The Hessian times `v` (shaped and typed as the params): `adahessian`'s Hutchinson probe.
    fn hvp(&mut self, params: &[Tensor], v: &[Tensor]) -> Result<Vec<Tensor>, Self::Error>;
    /// `rda` only (its params are `bool`): the number of error bits the loss returns, and the
    /// reverse derivative over Z2 of the loss at those bits with respect to each param (one
    /// `bool` tensor per param, of its shape).
    fn errors_and_rgrad(&mut self, params: &[Tensor]) -> Result<(f64, Vec<Tensor>), Self::Error>;
    /// The dense Hessian over all param elements flattened in order, row-major `n × n`
    /// (`newton`, small problems only). By default built from `n` calls of [`hvp`](Self::hvp)
    /// with the unit vectors (column `j` from `e_j`).
    fn hessian(&mut self, params: &[Tensor]) -> Result<Vec<f64>, Self::Error> {
        let n: usize = params.iter().map(Tensor::len).sum();
        let mut h = vec![0.0; n * n];
        let mut e: Vec<Tensor> = params.iter().map(real::zeros_like).collect();
        let mut j = 0;
        for t in 0..e.len() {
            for k in 0..e[t].len() {
                set(&mut e[t], k, 1.0);
                let column = real::flat_like(params, self.hvp(params, &e)?, "hvp");
                set(&mut e[t], k, 0.0);
                for (i, x) in column.into_iter().enumerate() {
                    h[i * n + j] = x;
                }
                j += 1;
            }
        }
        Ok(h)
    }
}

fn set(t: &mut Tensor, k: usize, value: f64) {
    match t.data_mut() {
        Buffer::F64(v) => v[k] = value,
        Buffer::F32(v) => v[k] = value as f32,
        other => unreachable!("optimizer on a {} tensor", other.dtype()),
    }
}

/// An optimizer as written in a `train` block: `adam(lr = 1e-3)`, `sgd(lr = 0.1, momentum = 0.9,
/// nesterov = 1)`, `lbfgs(history = 10)`, `adam(lr = cosine(0.01, 1000), clip = 1.0)`.
/// `lr` may come either in `lr` or as a plain number among `options`, not both.
#[derive(Clone, Debug, PartialEq)]
pub struct OptimizerConfig {
    pub name: String,
    pub lr: Option<Schedule>,
    pub options: Vec<(String, f64)>,
}

/// An optimizer that cannot be built or a state that cannot be loaded, in plain words.
/// `option` names the option at fault, when one is (for pointing at it in the source).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError {
    pub message: String,
    pub option: Option<String>,
}

impl ConfigError {
    pub fn new(message: impl Into<String>) -> ConfigError {
        ConfigError { message: message.into(), option: None }
    }

    pub fn option(option: &str, message: impl Into<String>) -> ConfigError {
        ConfigError { message: message.into(), option: Some(option.to_string()) }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ConfigError {}

/// Which [`Objective`] methods an optimizer calls (so the train loop compiles only those).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Uses {
    pub value: bool,
    pub value_and_grad: bool,
    pub value_and_jvp: bool,
    pub hvp: bool,
    pub hessian: bool,
    pub errors_and_rgrad: bool,
}

const GRAD: Uses = Uses { value: false, value_and_grad: true, value_and_jvp: false, hvp: false, hessian: false, errors_and_rgrad: false };

#[derive(Clone, Copy, Debug)]
enum Preset {
    Required,
    Value(f64),
    Off,
}

#[derive(Clone, Copy, Debug)]
enum Check {
    /// Finite, ≥ 0.
    NonNegative,
    /// Finite, > 0.
    Positive,
    /// In [0, 1).
    Decay,
    /// 0 or 1.
    Flag,
    /// A whole number ≥ 1.
    Count,
    /// In (0, 1].
    Power,
}

impl Check {
    fn holds(self, x: f64) -> bool {
        match self {
            Check::NonNegative => x.is_finite() && x >= 0.0,
            Check::Positive => x.is_finite() && x > 0.0,
            Check::Decay => (0.0..1.0).contains(&x),
            Check::Flag => x == 0.0 || x == 1.0,
            Check::Count => x >= 1.0 && x.fract() == 0.0 && x <= u32::MAX as f64,
            Check::Power => x > 0.0 && x <= 1.0,
        }
    }

    fn wants(self) -> &'static str {
        match self {
            Check::NonNegative => "a finite number ≥ 0",
            Check::Positive => "a finite number > 0",
            Check::Decay => "in [0, 1)",
            Check::Flag => "0 or 1",
            Check::Count => "a whole number ≥ 1",
            Check::Power => "in (0, 1]",
        }
    }
}

#[derive(Debug)]
struct OptionSpec {
    name: &'static str,
    default: Preset,
    check: Check,
}

const fn opt(name: &'static str, default: Preset, check: Check) -> OptionSpec {
    OptionSpec { name, default, check }
}

#[derive(Debug)]
struct Spec {
    name: &'static str,
    lr: Preset,
    options: &'static [OptionSpec],
    uses: Uses,
    /// Whether `clip` is an option (all but `rda`, whose update cannot be scaled).
    clips: bool,
}

use Check::*;
use Preset::{Required, Value};

const WD: OptionSpec = opt("weight_decay", Value(0.0), NonNegative);
const ADAM: &[OptionSpec] =
    &[opt("beta1", Value(0.9), Decay), opt("beta2", Value(0.999), Decay), opt("eps", Value(1e-8), NonNegative), WD];

const SPECS: &[Spec] = &[
    Spec {
        name: "sgd",
        lr: Required,
        options: &[opt("momentum", Value(0.0), NonNegative), opt("nesterov", Value(0.0), Flag), WD],
        uses: GRAD,
        clips: true,
    },
    Spec { name: "adagrad", lr: Value(1e-2), options: &[opt("eps", Value(1e-10), NonNegative), WD], uses: GRAD, clips: true },
    Spec {
        name: "rmsprop",
        lr: Value(1e-2),
        options: &[opt("alpha", Value(0.99), Decay), opt("eps", Value(1e-8), NonNegative), WD],
        uses: GRAD,
        clips: true,
    },
    Spec { name: "adam", lr: Value(1e-3), options: ADAM, uses: GRAD, clips: true },
    Spec {
        name: "adamw",
        lr: Value(1e-3),
        options: &[
            opt("beta1", Value(0.9), Decay),
            opt("beta2", Value(0.999), Decay),
            opt("eps", Value(1e-8), NonNegative),
            opt("weight_decay", Value(0.01), NonNegative),
        ],
        uses: GRAD,
        clips: true,
    },
    Spec { name: "amsgrad", lr: Value(1e-3), options: ADAM, uses: GRAD, clips: true },
    Spec { name: "lbfgs", lr: Value(1.0), options: &[opt("history", Value(10.0), Count)], uses: GRAD, clips: true },
    Spec {
        name: "newton",
        lr: Value(1.0),
        options: &[opt("damping", Value(0.0), NonNegative)],
        uses: Uses { hessian: true, ..GRAD },
        clips: true,
    },
    Spec {
        name: "forward_gradient",
        lr: Required,
        options: &[opt("samples", Value(1.0), Count)],
        uses: Uses { value_and_jvp: true, ..Uses::NONE },
        clips: true,
    },
    Spec {
        name: "spsa",
        lr: Required,
        options: &[opt("c", Required, Positive)],
        uses: Uses { value: true, ..Uses::NONE },
        clips: true,
    },
    Spec {
        name: "adahessian",
        lr: Required,
        options: &[
            opt("beta1", Value(0.9), Decay),
            opt("beta2", Value(0.999), Decay),
            opt("eps", Value(1e-4), NonNegative),
            WD,
            opt("hessian_power", Value(1.0), Power),
        ],
        uses: Uses { hvp: true, ..GRAD },
        clips: true,
    },
    Spec {
        name: "rda",
        lr: Preset::Off,
        options: &[opt("samples", Preset::Off, Count)],
        uses: Uses { errors_and_rgrad: true, ..Uses::NONE },
        clips: false,
    },
];

const CLIP: OptionSpec = opt("clip", Preset::Off, Positive);

impl Uses {
    const NONE: Uses = Uses { value: false, value_and_grad: false, value_and_jvp: false, hvp: false, hessian: false, errors_and_rgrad: false };
}

/// The optimizer names, in the order of the module docs.
pub fn optimizer_names() -> Vec<&'static str> {
    SPECS.iter().map(|s| s.name).collect()
}

/// The options `optimizer` accepts (`lr` and `clip` included), or `None` for an unknown name.
pub fn option_names(optimizer: &str) -> Option<Vec<&'static str>> {
    let spec = SPECS.iter().find(|s| s.name == optimizer)?;
    Some(option_list(spec))
}

/// Whether `optimizer` needs an `lr` (has no default), or `None` for an unknown name.
pub fn requires_lr(optimizer: &str) -> Option<bool> {
    SPECS.iter().find(|s| s.name == optimizer).map(|s| matches!(s.lr, Required))
}

fn option_list(spec: &Spec) -> Vec<&'static str> {
    let lr = (!matches!(spec.lr, Preset::Off)).then_some("lr");
    let clip = spec.clips.then_some("clip");
    lr.into_iter().chain(spec.options.iter().map(|o| o.name)).chain(clip).collect()
}

/// Levenshtein distance (for "did you mean").
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let here = (prev + usize::from(ca != cb)).min(row[j] + 1).min(row[j + 1] + 1);
            prev = row[j + 1];
            row[j + 1] = here;
        }
    }
    row[b.len()]
}

fn did_you_mean<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> String {
    candidates
        .into_iter()
        .map(|c| (distance(word, c), c))
        .filter(|&(d, _)| d <= 2)
        .min_by_key(|&(d, _)| d)
        .map_or(String::new(), |(_, c)| format!("did you mean `{c}`? "))
}

/// The option values of a config, checked against its spec.
struct Options {
    lr: Schedule,
    values: Vec<(&'static str, f64)>,
    clip: Option<f64>,
}

impl Options {
    fn parse(spec: &Spec, config: &OptimizerConfig) -> Result<Options, ConfigError> {
        let name = spec.name;
        let mut given: BTreeMap<&str, f64> = BTreeMap::new();
        for (key, value) in &config.options {
            let known = option_list(spec).contains(&key.as_str());
            if !known {
                let list = option_list(spec);
                return Err(ConfigError::option(
                    key,
                    format!(
                        "`{name}` has no option `{key}`; {}its options are {}",
                        did_you_mean(key, list.iter().copied()),
                        list.join(", ")
                    ),
                ));
            }
            if given.insert(key, *value).is_some() || (key == "lr" && config.lr.is_some()) {
                return Err(ConfigError::option(key, format!("`{key}` is given twice")));
            }
        }
        if config.lr.is_some() && matches!(spec.lr, Preset::Off) {
            return Err(ConfigError::option("lr", format!("`{name}` has no learning rate")));
        }
        let lr = match (config.lr, given.get("lr"), spec.lr) {
            (Some(s), _, _) => s,
            (None, Some(&v), _) => Schedule::Constant(v),
            (None, None, Value(v)) => Schedule::Constant(v),
            // No rate at all (`rda`): the schedule is never read.
            (None, None, Preset::Off) => Schedule::Constant(0.0),
            _ => return Err(ConfigError::option("lr", format!("`{name}` needs `lr`, e.g. `{name}(lr = 0.01)`"))),
        };
        lr.validate()?;
        let mut values = Vec::new();
        let mut clip = None;
        for o in spec.options.iter().chain(spec.clips.then_some(&CLIP)) {
            let value = match (given.get(o.name), o.default) {
                (Some(&v), _) | (None, Value(v)) => v,
                (None, Required) => {
                    return Err(ConfigError::option(
                        o.name,
                        format!("`{name}` needs `{}`, e.g. `{name}(lr = 0.01, {} = 0.01)`", o.name, o.name),
                    ))
                }
                (None, Preset::Off) => continue,
            };
            if !o.check.holds(value) {
                return Err(ConfigError::option(
                    o.name,
                    format!("`{}` of `{name}` must be {}, not {value}", o.name, o.check.wants()),
                ));
            }
            if o.name == "clip" {
                clip = Some(value);
            } else {
                values.push((o.name, value));
            }
        }
        Ok(Options { lr, values, clip })
    }

    /// An option without a default that was not given is absent.
    fn get_opt(&self, name: &str) -> Option<f64> {
        self.values.iter().find(|(n, _)| *n == name).map(|&(_, v)| v)
    }

    fn get(&self, name: &str) -> f64 {
        self.values.iter().find(|(n, _)| *n == name).map(|&(_, v)| v).expect("an option of the spec")
    }
}

#[derive(Clone, Debug)]
enum Kind {
    Sgd(Sgd),
    Adagrad(Adagrad),
    RmsProp(RmsProp),
    Adam(Adam),
    Lbfgs(Lbfgs),
    Newton(Newton),
    ForwardGradient(ForwardGradient),
    Spsa(Spsa),
    AdaHessian(AdaHessian),
    Rda(Rda),
}

/// An optimizer and its state, for one fixed list of params.
#[derive(Clone, Debug)]
pub struct Optimizer {
    spec: &'static Spec,
    lr: Schedule,
    clip: Option<f64>,
    /// Dtype and shape of each param, as given to [`Optimizer::new`].
    layout: Vec<(DType, Vec<usize>)>,
    kind: Kind,
}

impl Optimizer {
    /// Checks `config` (name, options, values) and allocates the state for `params` (which
    /// must be f64 or f32).
    pub fn new(config: &OptimizerConfig, params: &[Tensor]) -> Result<Optimizer, ConfigError> {
        let Some(spec) = SPECS.iter().find(|s| s.name == config.name) else {
            return Err(ConfigError::new(format!(
                "unknown optimizer `{}`; {}the optimizers are {}",
                config.name,
                did_you_mean(&config.name, SPECS.iter().map(|s| s.name)),
                optimizer_names().join(", ")
            )));
        };
        let o = Options::parse(spec, config)?;
        let bool_params = spec.name == "rda";
        for (i, p) in params.iter().enumerate() {
            let fits = if bool_params { p.dtype() == DType::Bool } else { p.dtype().is_float() };
            if !fits {
                return Err(ConfigError::new(format!(
                    "param {i} is {}{:?}: `{}` trains {} params only",
                    p.dtype(),
                    p.shape(),
                    spec.name,
                    if bool_params { "bool" } else { "f64 and f32" }
                )));
            }
        }
        let zeros = || -> Result<Vec<Tensor>, ConfigError> {
            params
                .iter()
                .map(|p| {
                    Tensor::try_filled(p.dtype(), p.shape(), 0.0)
                        .map_err(|e| ConfigError::new(format!("no memory for the state of `{}`: {e}", spec.name)))
                })
                .collect()
        };
        let adam = |kind| -> Result<Kind, ConfigError> {
            Ok(Kind::Adam(Adam {
                kind,
                beta1: o.get("beta1"),
                beta2: o.get("beta2"),
                eps: o.get("eps"),
                weight_decay: o.get("weight_decay"),
                t: 0,
                m: zeros()?,
                v: zeros()?,
                v_max: if kind == AdamKind::AmsGrad { zeros()? } else { Vec::new() },
            }))
        };
        let kind = match spec.name {
            "sgd" => {
                let momentum = o.get("momentum");
                let nesterov = o.get("nesterov") == 1.0;
                if nesterov && momentum == 0.0 {
                    return Err(ConfigError::option("nesterov", "`nesterov = 1` needs `momentum` > 0"));
                }
                Kind::Sgd(Sgd {
                    momentum,
                    nesterov,
                    weight_decay: o.get("weight_decay"),
                    buf: if momentum != 0.0 { zeros()? } else { Vec::new() },
                })
            }
            "adagrad" => {
                Kind::Adagrad(Adagrad { eps: o.get("eps"), weight_decay: o.get("weight_decay"), sum: zeros()? })
            }
            "rmsprop" => Kind::RmsProp(RmsProp {
                alpha: o.get("alpha"),
                eps: o.get("eps"),
                weight_decay: o.get("weight_decay"),
                v: zeros()?,
            }),
            "adam" => adam(AdamKind::Adam)?,
            "adamw" => adam(AdamKind::AdamW)?,
            "amsgrad" => adam(AdamKind::AmsGrad)?,
            "lbfgs" => Kind::Lbfgs(Lbfgs::new(o.get("history") as usize, params.iter().map(Tensor::len).sum())),
            "newton" => Kind::Newton(Newton { damping: o.get("damping") }),
            "forward_gradient" => Kind::ForwardGradient(ForwardGradient { samples: o.get("samples") as usize }),
            "spsa" => Kind::Spsa(Spsa { c: o.get("c") }),
            "adahessian" => Kind::AdaHessian(AdaHessian {
                beta1: o.get("beta1"),
                beta2: o.get("beta2"),
                eps: o.get("eps"),
                weight_decay: o.get("weight_decay"),
                hessian_power: o.get("hessian_power"),
                t: 0,
                m: zeros()?,
                v: zeros()?,
            }),
            "rda" => Kind::Rda(Rda { samples: o.get_opt("samples").map(|s| s as usize) }),
            other => unreachable!("optimizer `{other}` in SPECS without a constructor"),
        };
        Ok(Optimizer {
            spec,
            lr: o.lr,
            clip: o.clip,
            layout: params.iter().map(|p| (p.dtype(), p.shape().to_vec())).collect(),
            kind,
        })
    }

    /// The optimizer's name (`"adam"`): also the prefix of its state's names.
    pub fn name(&self) -> &'static str {
        self.spec.name
    }

    /// Which [`Objective`] methods [`step`](Self::step) calls.
    pub fn uses(&self) -> Uses {
        self.spec.uses
    }

    /// The learning rate at `step` (0-based).
    pub fn lr_at(&self, step: usize) -> f64 {
        self.lr.at(step)
    }

    /// One step at `step` (0-based: it picks the scheduled `lr`). Updates `params` in place and
    /// returns the loss at the params before the update (`spsa`: see the module docs). `params`
    /// must have the dtypes and shapes given to [`new`](Self::new) (panics otherwise: a bug in
    /// the caller). An objective's error stops the step and is returned; the params and state are
    /// then unchanged, except for random draws already taken.
    pub fn step<O: Objective>(
        &mut self,
        step: usize,
        params: &mut [Tensor],
        objective: &mut O,
        rng: &mut Rng,
    ) -> Result<f64, O::Error> {
        assert!(
            params.len() == self.layout.len()
                && params.iter().zip(&self.layout).all(|(p, (d, s))| p.dtype() == *d && p.shape() == s),
            "Optimizer::step: the params differ from those the optimizer was made for"
        );
        let lr = self.lr.at(step);
        let clip = self.clip;
        let first_order = match &mut self.kind {
            Kind::Lbfgs(o) => return o.step(lr, clip, params, objective),
            Kind::Newton(o) => return o.step(lr, clip, params, objective),
            Kind::ForwardGradient(o) => return o.step(lr, clip, params, objective, rng),
            Kind::Spsa(o) => return o.step(lr, clip, params, objective, rng),
            Kind::AdaHessian(o) => return o.step(lr, clip, params, objective, rng),
            Kind::Rda(o) => return o.step(params, objective, rng),
            first_order => first_order,
        };
        let (loss, grads) = objective.value_and_grad(params)?;
        if !loss.is_finite() {
            return Ok(loss);
        }
        let mut g = like_params(params, grads, "value_and_grad");
        clip::clip_buffers(&mut g, clip);
        match first_order {
            Kind::Sgd(o) => o.update(lr, params, &g),
            Kind::Adagrad(o) => o.update(lr, params, &g),
            Kind::RmsProp(o) => o.update(lr, params, &g),
            Kind::Adam(o) => o.update(lr, params, &g),
            _ => unreachable!("handled above"),
        }
        Ok(loss)
    }

    /// The state to checkpoint, named as in the module docs, in a fixed order.
    pub fn state(&self) -> Vec<(String, Tensor)> {
        let mut w = StateWriter { prefix: self.spec.name, out: Vec::new() };
        match &self.kind {
            Kind::Sgd(o) => o.save(&mut w),
            Kind::Adagrad(o) => o.save(&mut w),
            Kind::RmsProp(o) => o.save(&mut w),
            Kind::Adam(o) => o.save(&mut w),
            Kind::Lbfgs(o) => o.save(&mut w),
            Kind::AdaHessian(o) => o.save(&mut w),
            Kind::Newton(_) | Kind::ForwardGradient(_) | Kind::Spsa(_) | Kind::Rda(_) => {}
        }
        w.out
    }

    /// Restores a state from [`state`](Self::state) (of an optimizer with the same config and
    /// params). Entries not named `"{name}.…"` are ignored; on an error nothing changes.
    pub fn load_state(&mut self, state: &[(String, Tensor)]) -> Result<(), ConfigError> {
        let mut r = StateReader::new(self.spec.name, state)?;
        let mut kind = self.kind.clone();
        match &mut kind {
            Kind::Sgd(o) => o.load(&mut r)?,
            Kind::Adagrad(o) => o.load(&mut r)?,
            Kind::RmsProp(o) => o.load(&mut r)?,
            Kind::Adam(o) => o.load(&mut r)?,
            Kind::Lbfgs(o) => o.load(&mut r)?,
            Kind::AdaHessian(o) => o.load(&mut r)?,
            Kind::Newton(_) | Kind::ForwardGradient(_) | Kind::Spsa(_) | Kind::Rda(_) => {}
        }
        r.finish()?;
        self.kind = kind;
        Ok(())
    }
}

/// Collects named state tensors under `"{prefix}."`.
pub(crate) struct StateWriter {
    prefix: &'static str,
    out: Vec<(String, Tensor)>,
}

impl StateWriter {
    /// `"{prefix}.{slot}.{i}"` for each tensor.
    fn tensors(&mut self, slot: &str, tensors: &[Tensor]) {
        for (i, t) in tensors.iter().enumerate() {
            self.out.push((format!("{}.{slot}.{i}", self.prefix), t.clone()));
        }
    }

    /// An i64 scalar `"{prefix}.{slot}"`.
    fn count(&mut self, slot: &str, n: u64) {
        let n = i64::try_from(n).expect("a step count below 2⁶³");
        self.out.push((format!("{}.{slot}", self.prefix), Tensor::scalar_i64(n)));
    }

    /// A 1-D f64 tensor `"{prefix}.{slot}"`.
    fn vector(&mut self, slot: &str, v: &[f64]) {
        let t = Tensor::new(vec![v.len()], Buffer::F64(v.to_vec())).expect("length matches");
        self.out.push((format!("{}.{slot}", self.prefix), t));
    }
}

/// Reads named state tensors under `"{prefix}."`, checking each and that none is left over.
pub(crate) struct StateReader<'a> {
    prefix: &'static str,
    entries: BTreeMap<&'a str, &'a Tensor>,
}

impl<'a> StateReader<'a> {
    fn new(prefix: &'static str, state: &'a [(String, Tensor)]) -> Result<StateReader<'a>, ConfigError> {
        let mut entries = BTreeMap::new();
        for (name, t) in state {
            let ours = name.strip_prefix(prefix).is_some_and(|rest| rest.starts_with('.'));
            if ours && entries.insert(name.as_str(), t).is_some() {
                return Err(ConfigError::new(format!("the optimizer state has `{name}` twice")));
            }
        }
        Ok(StateReader { prefix, entries })
    }

    fn name(&self, slot: &str) -> String {
        format!("{}.{slot}", self.prefix)
    }

    fn has(&self, slot: &str) -> bool {
        self.entries.contains_key(self.name(slot).as_str())
    }

    fn take(&mut self, slot: &str) -> Result<(String, &'a Tensor), ConfigError> {
        let name = self.name(slot);
        match self.entries.remove(name.as_str()) {
            Some(t) => Ok((name, t)),
            None => Err(ConfigError::new(format!("the optimizer state has no `{name}`"))),
        }
    }

    /// `"{slot}.{i}"` for each tensor of `like`, each of the same dtype and shape.
    fn tensors_like(&mut self, slot: &str, like: &[Tensor]) -> Result<Vec<Tensor>, ConfigError> {
        like.iter()
            .enumerate()
            .map(|(i, l)| {
                let (name, t) = self.take(&format!("{slot}.{i}"))?;
                if t.dtype() != l.dtype() || t.shape() != l.shape() {
                    return Err(ConfigError::new(format!(
                        "the optimizer state `{name}` is {}{:?}, expected {}{:?}",
                        t.dtype(),
                        t.shape(),
                        l.dtype(),
                        l.shape()
                    )));
                }
                Ok(t.clone())
            })
            .collect()
    }

    /// An i64 scalar ≥ 0.
    fn count(&mut self, slot: &str) -> Result<u64, ConfigError> {
        let (name, t) = self.take(slot)?;
        match t.as_i64() {
            Some(&[n]) if t.rank() == 0 && n >= 0 => Ok(n as u64),
            _ => Err(ConfigError::new(format!(
                "the optimizer state `{name}` must be an i64 scalar ≥ 0, not {}{:?}",
                t.dtype(),
                t.shape()
            ))),
        }
    }

    /// A 1-D f64 tensor of length `n`.
    fn vector(&mut self, slot: &str, n: usize) -> Result<Vec<f64>, ConfigError> {
        let (name, t) = self.take(slot)?;
        match t.as_f64() {
            Some(v) if t.shape() == [n] => Ok(v.to_vec()),
            _ => Err(ConfigError::new(format!(
                "the optimizer state `{name}` is {}{:?}, expected f64[{n}]",
                t.dtype(),
                t.shape()
            ))),
        }
    }

    fn finish(self) -> Result<(), ConfigError> {
        match self.entries.keys().next() {
            Some(name) => {
                Err(ConfigError::new(format!("the optimizer state has `{name}`, which `{}` does not use", self.prefix)))
            }
            None => Ok(()),
        }
    }
}
