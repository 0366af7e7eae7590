//! Kernels that combine many elements into one: `reduce_*`, `argmax` and `matmul`, in the
//! exact orders of the module doc of [`super`].

use gradc_runtime::tensor::{strides, Buffer, DType, Tensor};

use super::layout::Offsets;
use super::{alloc, Elem, EvalError};
use crate::ir::op::{ReduceOp, Type};
use crate::ir::scalar;

/// A numeric element type: the operations the kernels combine elements with (named apart
/// from std's inherent `f64::max`, which ignores NaN).
trait Num: Elem {
    const ZERO: Self;
    const ONE: Self;
    /// The identity of `max`: `-inf` or `i64::MIN`.
    const LOWEST: Self;
    /// The identity of `min`: `+inf` or `i64::MAX`.
    const HIGHEST: Self;
    fn plus(self, other: Self) -> Self;
    fn times(self, other: Self) -> Self;
    fn maximum(self, other: Self) -> Self;
    fn minimum(self, other: Self) -> Self;
    /// Whether `self`, met after `best`, replaces it in an argmax scan.
    fn beats(self, best: Self) -> bool;
}

macro_rules! float_num {
    ($t:ident, $max:path, $min:path) => {
        impl Num for $t {
            const ZERO: $t = 0.0;
            const ONE: $t = 1.0;
            const LOWEST: $t = <$t>::NEG_INFINITY;
            const HIGHEST: $t = <$t>::INFINITY;
            fn plus(self, other: $t) -> $t {
                self + other
            }
            fn times(self, other: $t) -> $t {
                self * other
            }
            fn maximum(self, other: $t) -> $t {
                $max(self, other)
            }
            fn minimum(self, other: $t) -> $t {
                $min(self, other)
            }
            fn beats(self, best: $t) -> bool {
                !best.is_nan() && (self.is_nan() || self > best)
            }
        }
    };
}

float_num!(f64, scalar::max_f64, scalar::min_f64);
float_num!(f32, scalar::max_f32, scalar::min_f32);

impl Num for i64 {
    const ZERO: i64 = 0;
    const ONE: i64 = 1;
    const LOWEST: i64 = i64::MIN;
    const HIGHEST: i64 = i64::MAX;
    fn plus(self, other: i64) -> i64 {
        self.wrapping_add(other)
    }
    fn times(self, other: i64) -> i64 {
        self.wrapping_mul(other)
    }
    fn maximum(self, other: i64) -> i64 {
        Ord::max(self, other)
    }
    fn minimum(self, other: i64) -> i64 {
        Ord::min(self, other)
    }
    fn beats(self, best: i64) -> bool {
        self > best
    }
}

/// Runs `$body` with `$T` the Rust type of the numeric element type `$dtype`.
macro_rules! with_num {
    ($dtype:expr, $T:ident => $body:expr) => {
        match $dtype {
            DType::F64 => {
                type $T = f64;
                $body
            }
            DType::F32 => {
                type $T = f32;
                $body
            }
            DType::I64 => {
                type $T = i64;
                $body
            }
            DType::Bool => unreachable!("eval_op checked the operand types"),
        }
    };
}

/// The shape and strides of the kept axes, then of the reduced ones, of `x`.
type Split = (Vec<usize>, Vec<usize>, Vec<usize>, Vec<usize>);

fn split_axes(x: &Tensor, axes: &[usize]) -> Split {
    let st = strides(x.shape());
    let (mut kept, mut kept_st, mut red, mut red_st) = (vec![], vec![], vec![], vec![]);
    for (i, (&d, &s)) in x.shape().iter().zip(&st).enumerate() {
        if axes.contains(&i) {
            red.push(d);
            red_st.push(s);
        } else {
            kept.push(d);
            kept_st.push(s);
        }
    }
    (kept, kept_st, red, red_st)
}

/// For each result element, its reduced elements folded with `f` from the first one on;
/// `identity` when there are none.
fn fold<T: Elem>(x: &Tensor, axes: &[usize], ty: &Type, identity: T, f: impl Fn(T, T) -> T) -> Result<Buffer, EvalError> {
    let src = T::slice(x.data());
    let (kept, kept_st, red, red_st) = split_axes(x, axes);
    let mut out = alloc(ty)?;
    for base in Offsets::new(&kept, &kept_st, 0) {
        let mut inner = Offsets::new(&red, &red_st, base);
        out.push(match inner.next() {
            None => identity,
            Some(first) => inner.fold(src[first], |acc, o| f(acc, src[o])),
        });
    }
    Ok(T::wrap(out))
}

pub(super) fn reduce(op: ReduceOp, x: &Tensor, axes: &[usize], ty: &Type) -> Result<Buffer, EvalError> {
    match op {
        ReduceOp::All => fold(x, axes, ty, true, |a, b| a & b),
        ReduceOp::Any => fold(x, axes, ty, false, |a, b| a | b),
        ReduceOp::Parity => fold(x, axes, ty, false, |a, b| a ^ b),
        ReduceOp::Sum => with_num!(ty.dtype, T => fold(x, axes, ty, T::ZERO, <T as Num>::plus)),
        ReduceOp::Prod => with_num!(ty.dtype, T => fold(x, axes, ty, T::ONE, <T as Num>::times)),
        ReduceOp::Max => with_num!(ty.dtype, T => fold(x, axes, ty, T::LOWEST, <T as Num>::maximum)),
        ReduceOp::Min => with_num!(ty.dtype, T => fold(x, axes, ty, T::HIGHEST, <T as Num>::minimum)),
    }
}

pub(super) fn argmax(x: &Tensor, axis: Option<usize>, ty: &Type) -> Result<Buffer, EvalError> {
    with_num!(x.dtype(), T => argmax_of::<T>(x, axis, ty))
}

fn argmax_of<T: Num>(x: &Tensor, axis: Option<usize>, ty: &Type) -> Result<Buffer, EvalError> {
    let src = T::slice(x.data());
    // The whole tensor is one scan over a flat axis.
    let (kept, kept_st, red, red_st) = match axis {
        Some(a) => split_axes(x, &[a]),
        None => (vec![], vec![], vec![x.len()], vec![1]),
    };
    let mut out = alloc(ty)?;
    for base in Offsets::new(&kept, &kept_st, 0) {
        let mut best: Option<(usize, T)> = None;
        for (j, o) in Offsets::new(&red, &red_st, base).enumerate() {
            if best.is_none_or(|(_, b)| src[o].beats(b)) {
                best = Some((j, src[o]));
            }
        }
        let (j, _) = best.ok_or(EvalError::EmptyArgMax)?;
        out.push(j as i64);
    }
    Ok(Buffer::I64(out))
}

pub(super) fn matmul(a: &Tensor, b: &Tensor, ty: &Type) -> Result<Buffer, EvalError> {
    with_num!(ty.dtype, T => matmul_of::<T>(a, b, ty))
}

fn matmul_of<T: Num>(a: &Tensor, b: &Tensor, ty: &Type) -> Result<Buffer, EvalError> {
    let (x, y) = (T::slice(a.data()), T::slice(b.data()));
    let r = a.rank();
    let batch = if r == 3 { a.shape()[0] } else { 1 };
    let (m, k, n) = (a.shape()[r - 2], a.shape()[r - 1], b.shape()[r - 1]);
    let mut out = alloc(ty)?;
    out.resize(batch * m * n, T::ZERO);
    // Row by row in i-k-j order, which walks `b` and the output row contiguously; each
    // c[i, j] still sums its products in order k = 0, 1, …, starting from the first one, so
    // the result is the same bits as the textbook i-j-k loop.
    for p in 0..batch {
        let (x, y) = (&x[p * m * k..(p + 1) * m * k], &y[p * k * n..(p + 1) * k * n]);
        for i in 0..m {
            let row = &mut out[(p * m + i) * n..(p * m + i + 1) * n];
            if k == 0 {
                continue;
            }
            let xi = x[i * k];
            for (c, &yj) in row.iter_mut().zip(&y[..n]) {
                *c = <T as Num>::times(xi, yj);
            }
            for kk in 1..k {
                let xi = x[i * k + kk];
                for (c, &yj) in row.iter_mut().zip(&y[kk * n..(kk + 1) * n]) {
                    *c = <T as Num>::plus(*c, <T as Num>::times(xi, yj));
                }
            }
        }
    }
    Ok(T::wrap(out))
}
