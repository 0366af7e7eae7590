//! Learning-rate schedules: `lr = 0.1`, `lr = cosine(0.1, 1000)`, `lr = step_decay(0.1, 100, 0.5)`.
//!
//! `step` is the 0-based step the train loop passes to [`Optimizer::step`](super::Optimizer::step).
//! - `Constant(lr)`: `lr` at every step.
//! - `Cosine { lr, steps }` (optax `cosine_decay_schedule` with `alpha = 0`):
//!   `lr · ½ · (1 + cos(π · min(step, steps) / steps))`: `lr` at step 0, `lr / 2` halfway, and
//!   0 from `steps` on.
//! - `StepDecay { lr, every, factor }` (PyTorch `StepLR`): `lr · factor^⌊step / every⌋`.
//!
//! `cos` and `pow` are `libm`'s (pure Rust), so a schedule gives the same bits on every machine.

use super::ConfigError;

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Schedule {
    Constant(f64),
    Cosine { lr: f64, steps: usize },
    StepDecay { lr: f64, every: usize, factor: f64 },
}

impl Schedule {
    /// The learning rate at `step` (0-based).
    pub fn at(&self, step: usize) -> f64 {
        match *self {
            Schedule::Constant(lr) => lr,
            Schedule::Cosine { lr, steps } => {
                let progress = step.min(steps) as f64 / steps as f64;
                lr * (0.5 * (1.0 + libm::cos(std::f64::consts::PI * progress)))
            }
            Schedule::StepDecay { lr, every, factor } => lr * libm::pow(factor, (step / every) as f64),
        }
    }

    /// The initial rate, finite and ≥ 0; `steps`, `every` ≥ 1; `factor` finite and ≥ 0.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let (lr, what) = match *self {
            Schedule::Constant(lr) => (lr, "lr"),
            Schedule::Cosine { lr, steps } => {
                if steps == 0 {
                    return Err(ConfigError::option("lr", "`cosine` needs `steps` ≥ 1"));
                }
                (lr, "the rate of `cosine`")
            }
            Schedule::StepDecay { lr, every, factor } => {
                if every == 0 {
                    return Err(ConfigError::option("lr", "`step_decay` needs `every` ≥ 1"));
                }
                if !(factor.is_finite() && factor >= 0.0) {
                    return Err(ConfigError::option(
                        "lr",
                        format!("the `factor` of `step_decay` must be a finite number ≥ 0, not {factor}"),
                    ));
                }
                (lr, "the rate of `step_decay`")
            }
        };
        if lr.is_finite() && lr >= 0.0 {
            Ok(())
        } else {
            Err(ConfigError::option("lr", format!("{what} must be a finite number ≥ 0, not {lr}")))
        }
    }
}
