//! The element types an optimizer updates (`f64` and `f32`), as one generic interface, so
//! that each elementwise update is written once and runs in the param's own type.

use crate::tensor::{Buffer, DType, Tensor};
use std::ops::{Add, AddAssign, Div, DivAssign, Mul, MulAssign, Neg, Sub, SubAssign};

/// `f64` or `f32`. Arithmetic is IEEE in the type itself (Rust never fuses or reorders), so an
/// update gives the same bits on every machine, vectorised or not.
pub(crate) trait Real:
    Copy
    + PartialOrd
    + Add<Output = Self>
    + Sub<Output = Self>
    + Mul<Output = Self>
    + Div<Output = Self>
    + Neg<Output = Self>
    + AddAssign
    + SubAssign
    + MulAssign
    + DivAssign
    + 'static
{
    /// Rounds to nearest (exact for `f64`).
    fn of(x: f64) -> Self;
    fn sqrt(self) -> Self;
    /// `self ^ e` by `libm` (portable bits).
    fn pow(self, e: Self) -> Self;
    /// The larger; NaN propagates.
    fn max_nan(self, other: Self) -> Self;
    fn slice(b: &Buffer) -> &[Self];
    fn slice_mut(b: &mut Buffer) -> &mut [Self];
}

impl Real for f64 {
    fn of(x: f64) -> f64 {
        x
    }
    fn sqrt(self) -> f64 {
        f64::sqrt(self)
    }
    fn pow(self, e: f64) -> f64 {
        libm::pow(self, e)
    }
    fn max_nan(self, other: f64) -> f64 {
        if self.is_nan() || self > other {
            self
        } else {
            other
        }
    }
    fn slice(b: &Buffer) -> &[f64] {
        match b {
            Buffer::F64(v) => v,
            other => panic!("optimizer: expected an f64 buffer, found {}", other.dtype()),
        }
    }
    fn slice_mut(b: &mut Buffer) -> &mut [f64] {
        match b {
            Buffer::F64(v) => v,
            other => panic!("optimizer: expected an f64 buffer, found {}", other.dtype()),
        }
    }
}

impl Real for f32 {
    fn of(x: f64) -> f32 {
        x as f32
    }
    fn sqrt(self) -> f32 {
        f32::sqrt(self)
    }
    fn pow(self, e: f32) -> f32 {
        libm::powf(self, e)
    }
    fn max_nan(self, other: f32) -> f32 {
        if self.is_nan() || self > other {
            self
        } else {
            other
        }
    }
    fn slice(b: &Buffer) -> &[f32] {
        match b {
            Buffer::F32(v) => v,
            other => panic!("optimizer: expected an f32 buffer, found {}", other.dtype()),
        }
    }
    fn slice_mut(b: &mut Buffer) -> &mut [f32] {
        match b {
            Buffer::F32(v) => v,
            other => panic!("optimizer: expected an f32 buffer, found {}", other.dtype()),
        }
    }
}

/// Runs `$body` with the type alias `$T` set to the Rust type of a float `DType`.
macro_rules! with_real {
    ($dtype:expr, $T:ident => $body:expr) => {
        match $dtype {
            $crate::tensor::DType::F64 => {
                type $T = f64;
                $body
            }
            $crate::tensor::DType::F32 => {
                type $T = f32;
                $body
            }
            other => unreachable!("optimizer on a {other} tensor (checked in Optimizer::new)"),
        }
    };
}
pub(crate) use with_real;

/// `b` with its elements converted to `dtype` (moved when it already is `dtype`; rounded to
/// nearest for f64 → f32).
pub(crate) fn convert(b: Buffer, dtype: DType) -> Buffer {
    match (b, dtype) {
        (b @ Buffer::F64(_), DType::F64) | (b @ Buffer::F32(_), DType::F32) => b,
        (b, DType::F64) => Buffer::F64((0..b.len()).map(|i| b.get_f64(i)).collect()),
        (b, DType::F32) => Buffer::F32((0..b.len()).map(|i| b.get_f64(i) as f32).collect()),
        (_, other) => unreachable!("optimizer on a {other} tensor (checked in Optimizer::new)"),
    }
}

/// Gradients (or any per-param tensors an objective returns) in their params' element types.
/// Panics if the count or a length differs: that is a bug in the objective, not a user error.
pub(crate) fn like_params(params: &[Tensor], tensors: Vec<Tensor>, what: &str) -> Vec<Buffer> {
    check_like(params, &tensors, what);
    params.iter().zip(tensors).map(|(p, t)| convert(t.into_data(), p.dtype())).collect()
}

/// All elements of `tensors` as one `f64` vector, in order (exact for f32).
pub(crate) fn flatten(tensors: &[Tensor]) -> Vec<f64> {
    let mut out = Vec::with_capacity(tensors.iter().map(Tensor::len).sum());
    for t in tensors {
        match t.data() {
            Buffer::F64(v) => out.extend_from_slice(v),
            b => out.extend((0..b.len()).map(|i| b.get_f64(i))),
        }
    }
    out
}

/// Writes the flat `values` back into `params`, each rounded once to its param's type.
pub(crate) fn unflatten_into(values: &[f64], params: &mut [Tensor]) {
    let mut at = 0;
    for p in params {
        let n = p.len();
        let src = &values[at..at + n];
        match p.data_mut() {
            Buffer::F64(v) => v.copy_from_slice(src),
            Buffer::F32(v) => v.iter_mut().zip(src).for_each(|(d, &s)| *d = s as f32),
            other => unreachable!("optimizer on a {} tensor", other.dtype()),
        }
        at += n;
    }
}

/// Sequential (left-to-right) dot product: the same bits on every run.
pub(crate) fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).fold(0.0, |acc, (x, y)| acc + x * y)
}

/// Per-param tensors an objective returned, flattened to `f64` in order. Panics if the count
/// or a length differs from `params` (a bug in the objective, not a user error).
pub(crate) fn flat_like(params: &[Tensor], tensors: Vec<Tensor>, what: &str) -> Vec<f64> {
    check_like(params, &tensors, what);
    flatten(&tensors)
}

fn check_like(params: &[Tensor], tensors: &[Tensor], what: &str) {
    assert_eq!(
        tensors.len(),
        params.len(),
        "Objective::{what} returned {} tensors for {} params",
        tensors.len(),
        params.len()
    );
    for (i, (p, t)) in params.iter().zip(tensors).enumerate() {
        assert_eq!(t.len(), p.len(), "Objective::{what}: tensor {i} has {} elements, its param {}", t.len(), p.len());
    }
}

/// Zeros of `p`'s dtype and shape. Panics only if `p` itself could not have been allocated.
pub(crate) fn zeros_like(p: &Tensor) -> Tensor {
    Tensor::try_filled(p.dtype(), p.shape(), 0.0).expect("a tensor the size of an existing param")
}
