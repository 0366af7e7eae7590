//! Kernels that move elements without computing on them: `copy` (for constants, reshapes
//! and outputs), `iota`, `broadcast`, `transpose`, `slice`, `concat` and `gather`.
//!
//! Most are one strided walk ([`Offsets`]): the result in row-major order reads the operand
//! at `offset + Σ idx[i] * strides[i]`, with a stride 0 where a broadcast repeats.

use gradc_runtime::tensor::{strides, Buffer, DType, Tensor};
use smallvec::SmallVec;

use super::{alloc, with_elem, Elem, EvalError};
use crate::ir::op::Type;

/// The offsets `base + Σ idx[i] * strides[i]` for every index `idx` of `shape`, in row-major
/// order (one offset for a rank-0 shape, none if a dimension is 0). Linear in the count.
pub(super) struct Offsets<'s> {
    shape: &'s [usize],
    strides: &'s [usize],
    idx: SmallVec<[usize; 6]>,
    offset: usize,
    left: usize,
}

impl<'s> Offsets<'s> {
    pub(super) fn new(shape: &'s [usize], strides: &'s [usize], base: usize) -> Offsets<'s> {
        debug_assert_eq!(shape.len(), strides.len());
        let idx = SmallVec::from_elem(0, shape.len());
        Offsets { shape, strides, idx, offset: base, left: shape.iter().product() }
    }
}

impl Iterator for Offsets<'_> {
    type Item = usize;

    fn next(&mut self) -> Option<usize> {
        if self.left == 0 {
            return None;
        }
        let current = self.offset;
        self.left -= 1;
        if self.left > 0 {
            // Odometer step: bump the last axis, carrying into earlier ones.
            for ax in (0..self.shape.len()).rev() {
                self.idx[ax] += 1;
                self.offset += self.strides[ax];
                if self.idx[ax] < self.shape[ax] {
                    break;
                }
                self.offset -= self.strides[ax] * self.shape[ax];
                self.idx[ax] = 0;
            }
        }
        Some(current)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.left, Some(self.left))
    }
}

/// The elements of `src` read at the offsets of a strided walk, into a result of type `ty`.
fn walk<T: Elem>(src: &[T], ty: &Type, strides: &[usize], base: usize) -> Result<Buffer, EvalError> {
    let mut out = alloc(ty)?;
    out.extend(Offsets::new(&ty.shape, strides, base).map(|o| src[o]));
    Ok(T::wrap(out))
}

/// A copy of `t`, allocated fallibly.
pub(super) fn copy(t: &Tensor) -> Result<Tensor, EvalError> {
    let ty = super::type_of(t);
    let data = with_elem!(ty.dtype, T => {
        let mut out = alloc(&ty)?;
        out.extend_from_slice(T::slice(t.data()));
        T::wrap(out)
    });
    Ok(Tensor::new(ty.shape, data).expect("a copy has its original's length"))
}

/// Each element its index along `axis`, converted from `i64` to the dtype.
pub(super) fn iota(ty: &Type, axis: usize) -> Result<Buffer, EvalError> {
    let stride = strides(&ty.shape)[axis];
    let len = ty.shape[axis];
    // Only called for a non-empty result (so `len > 0`) by the loop bounds.
    let index = |flat: usize| (flat / stride % len) as i64;
    let n = ty.len();
    Ok(match ty.dtype {
        DType::F64 => {
            let mut out = alloc(ty)?;
            out.extend((0..n).map(|i| index(i) as f64));
            Buffer::F64(out)
        }
        DType::F32 => {
            let mut out = alloc(ty)?;
            out.extend((0..n).map(|i| index(i) as f32));
            Buffer::F32(out)
        }
        DType::I64 => {
            let mut out = alloc(ty)?;
            out.extend((0..n).map(index));
            Buffer::I64(out)
        }
        DType::Bool => {
            let mut out = alloc(ty)?;
            out.extend((0..n).map(|i| index(i) != 0));
            Buffer::Bool(out)
        }
    })
}

/// NumPy broadcasting: result axis `i` reads operand axis `i - (rank - operand rank)`, with
/// stride 0 where that axis is missing or has size 1.
pub(super) fn broadcast(x: &Tensor, ty: &Type) -> Result<Buffer, EvalError> {
    let from = strides(x.shape());
    let lead = ty.rank() - x.rank();
    let st: Vec<usize> = (0..ty.rank())
        .map(|i| match i.checked_sub(lead) {
            Some(j) if x.shape()[j] != 1 => from[j],
            _ => 0,
        })
        .collect();
    with_elem!(ty.dtype, T => walk(T::slice(x.data()), ty, &st, 0))
}

/// Result axis `i` is operand axis `perm[i]`.
pub(super) fn transpose(x: &Tensor, perm: &[usize], ty: &Type) -> Result<Buffer, EvalError> {
    let from = strides(x.shape());
    let st: Vec<usize> = perm.iter().map(|&p| from[p]).collect();
    with_elem!(ty.dtype, T => walk(T::slice(x.data()), ty, &st, 0))
}

/// The block starting at `starts`, of the result's shape.
pub(super) fn slice(x: &Tensor, starts: &[usize], ty: &Type) -> Result<Buffer, EvalError> {
    let st = strides(x.shape());
    let base = starts.iter().zip(&st).map(|(s, d)| s * d).sum();
    with_elem!(ty.dtype, T => walk(T::slice(x.data()), ty, &st, base))
}

/// The operands joined along `axis`: for each index of the axes before it, the operands'
/// contiguous blocks one after another.
pub(super) fn concat(args: &[&Tensor], axis: usize, ty: &Type) -> Result<Buffer, EvalError> {
    let outer: usize = ty.shape[..axis].iter().product();
    with_elem!(ty.dtype, T => {
        let parts: Vec<(&[T], usize)> = args
            .iter()
            .map(|a| (T::slice(a.data()), a.shape()[axis..].iter().product()))
            .collect();
        let mut out = alloc(ty)?;
        for o in 0..outer {
            for &(src, block) in &parts {
                out.extend_from_slice(&src[o * block..(o + 1) * block]);
            }
        }
        Ok(T::wrap(out))
    })
}

/// The slice at `index` along `axis`, which is removed.
pub(super) fn gather(x: &Tensor, index: &Tensor, axis: usize, ty: &Type) -> Result<Buffer, EvalError> {
    let i = i64::slice(index.data())[0];
    let len = x.shape()[axis];
    let i = usize::try_from(i)
        .ok()
        .filter(|&i| i < len)
        .ok_or(EvalError::IndexOutOfRange { index: i, len })?;
    let mut st = strides(x.shape());
    let base = i * st.remove(axis);
    with_elem!(ty.dtype, T => walk(T::slice(x.data()), ty, &st, base))
}
