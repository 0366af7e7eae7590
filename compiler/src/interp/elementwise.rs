//! Elementwise kernels: `unary`, `binary`, `powi`, `select` and `convert`, each the scalar
//! function of [`crate::ir::scalar`] applied element by element (operands of one shape).

use gradc_runtime::tensor::{Buffer, DType, Tensor};

use super::{alloc, map, with_elem, zip, Elem, EvalError};
use crate::ir::op::{BinaryOp, Type, UnaryOp};
use crate::ir::scalar;

pub(super) fn unary(op: UnaryOp, x: &Tensor, ty: &Type) -> Result<Buffer, EvalError> {
    Ok(match x.data() {
        Buffer::F64(v) => Buffer::F64(map(v, ty, |e| scalar::unary_f64(op, e))?),
        Buffer::F32(v) => Buffer::F32(map(v, ty, |e| scalar::unary_f32(op, e))?),
        Buffer::I64(v) => Buffer::I64(map(v, ty, |e| scalar::unary_i64(op, e))?),
        Buffer::Bool(v) => Buffer::Bool(map(v, ty, |e| scalar::unary_bool(op, e))?),
    })
}

pub(super) fn binary(op: BinaryOp, a: &Tensor, b: &Tensor, ty: &Type) -> Result<Buffer, EvalError> {
    let cmp = op.is_comparison();
    Ok(match (a.data(), b.data()) {
        (Buffer::F64(x), Buffer::F64(y)) if cmp => {
            Buffer::Bool(zip(x, y, ty, |p, q| scalar::compare_f64(op, p, q))?)
        }
        (Buffer::F64(x), Buffer::F64(y)) => Buffer::F64(zip(x, y, ty, |p, q| scalar::binary_f64(op, p, q))?),
        (Buffer::F32(x), Buffer::F32(y)) if cmp => {
            Buffer::Bool(zip(x, y, ty, |p, q| scalar::compare_f32(op, p, q))?)
        }
        (Buffer::F32(x), Buffer::F32(y)) => Buffer::F32(zip(x, y, ty, |p, q| scalar::binary_f32(op, p, q))?),
        (Buffer::I64(x), Buffer::I64(y)) if cmp => {
            Buffer::Bool(zip(x, y, ty, |p, q| scalar::compare_i64(op, p, q))?)
        }
        (Buffer::I64(x), Buffer::I64(y)) => {
            let mut out = alloc(ty)?;
            for (&p, &q) in x.iter().zip(y) {
                out.push(scalar::binary_i64(op, p, q).ok_or(EvalError::DivisionByZero)?);
            }
            Buffer::I64(out)
        }
        (Buffer::Bool(x), Buffer::Bool(y)) => Buffer::Bool(zip(x, y, ty, |p, q| scalar::binary_bool(op, p, q))?),
        _ => unreachable!("eval_op checked the operand types"),
    })
}

pub(super) fn powi(n: i64, x: &Tensor, ty: &Type) -> Result<Buffer, EvalError> {
    Ok(match x.data() {
        Buffer::F64(v) => Buffer::F64(map(v, ty, |e| scalar::powi_f64(e, n))?),
        Buffer::F32(v) => Buffer::F32(map(v, ty, |e| scalar::powi_f32(e, n))?),
        _ => unreachable!("eval_op checked the operand types"),
    })
}

pub(super) fn select(c: &Tensor, a: &Tensor, b: &Tensor, ty: &Type) -> Result<Buffer, EvalError> {
    let c = bool::slice(c.data());
    with_elem!(ty.dtype, T => {
        let (a, b) = (T::slice(a.data()), T::slice(b.data()));
        let mut out = alloc(ty)?;
        out.extend(c.iter().zip(a.iter().zip(b)).map(|(&c, (&a, &b))| if c { a } else { b }));
        Ok(T::wrap(out))
    })
}

/// Rust's `as` between numbers; `!= 0` to `bool`; `bool` to 0 or 1 (see the scalar doc).
pub(super) fn convert(x: &Tensor, ty: &Type) -> Result<Buffer, EvalError> {
    use Buffer as B;
    Ok(match (x.data(), ty.dtype) {
        (B::F64(v), DType::F64) => B::F64(map(v, ty, |e| e)?),
        (B::F64(v), DType::F32) => B::F32(map(v, ty, |e| e as f32)?),
        (B::F64(v), DType::I64) => B::I64(map(v, ty, |e| e as i64)?),
        (B::F64(v), DType::Bool) => B::Bool(map(v, ty, |e| e != 0.0)?),
        (B::F32(v), DType::F64) => B::F64(map(v, ty, |e| e as f64)?),
        (B::F32(v), DType::F32) => B::F32(map(v, ty, |e| e)?),
        (B::F32(v), DType::I64) => B::I64(map(v, ty, |e| e as i64)?),
        (B::F32(v), DType::Bool) => B::Bool(map(v, ty, |e| e != 0.0)?),
        (B::I64(v), DType::F64) => B::F64(map(v, ty, |e| e as f64)?),
        (B::I64(v), DType::F32) => B::F32(map(v, ty, |e| e as f32)?),
        (B::I64(v), DType::I64) => B::I64(map(v, ty, |e| e)?),
        (B::I64(v), DType::Bool) => B::Bool(map(v, ty, |e| e != 0)?),
        (B::Bool(v), DType::F64) => B::F64(map(v, ty, |e| e as u8 as f64)?),
        (B::Bool(v), DType::F32) => B::F32(map(v, ty, |e| e as u8 as f32)?),
        (B::Bool(v), DType::I64) => B::I64(map(v, ty, |e| e as i64)?),
        (B::Bool(v), DType::Bool) => B::Bool(map(v, ty, |e| e)?),
    })
}
