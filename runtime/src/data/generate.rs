//! Generated data sets: `data z = normal([n, d], seed = 3);` and `uniform(shape, lo, hi, seed)`.
//!
//! The values are a documented function of the seed, so the interpreter, the JIT and any
//! machine agree: a fresh [`Rng::seed_from_u64(seed)`](crate::rng::Rng::seed_from_u64), then one
//! draw per element in row-major order (`normal_f64`, or `uniform_range(lo, hi)`).

use super::{default_max_bytes, human_bytes};
use crate::rng::Rng;
use std::fmt;

/// A generated data set that would not fit in memory (see `default_max_bytes`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SizeError {
    pub shape: Vec<usize>,
    pub limit: u64,
}

impl fmt::Display for SizeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "a data set of shape {:?} needs more than the limit of {} of memory",
            self.shape,
            human_bytes(self.limit)
        )
    }
}

impl std::error::Error for SizeError {}

/// Standard normal values of the given shape, row-major.
pub fn normal(shape: &[usize], seed: u64) -> Result<Vec<f64>, SizeError> {
    let mut rng = Rng::seed_from_u64(seed);
    Ok((0..count(shape)?).map(|_| rng.normal_f64()).collect())
}

/// Values uniform in [lo, hi) of the given shape, row-major.
pub fn uniform(shape: &[usize], lo: f64, hi: f64, seed: u64) -> Result<Vec<f64>, SizeError> {
    let mut rng = Rng::seed_from_u64(seed);
    Ok((0..count(shape)?)
        .map(|_| rng.uniform_range(lo, hi))
        .collect())
}

fn count(shape: &[usize]) -> Result<usize, SizeError> {
    let limit = default_max_bytes();
    shape
        .iter()
        .try_fold(1usize, |n, &d| n.checked_mul(d))
        .filter(|n| n.checked_mul(8).is_some_and(|bytes| bytes as u64 <= limit))
        .ok_or_else(|| SizeError {
            shape: shape.to_vec(),
            limit,
        })
}
