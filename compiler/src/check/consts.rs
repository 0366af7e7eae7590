//! Compile-time values: `const` items, generic dimensions, parameter defaults, and the
//! integer arguments of built-ins (`axis`, shapes, `order`, slice bounds).

use super::types::{Elem, TensorTy, Ty};

/// A value known at compile time. Numbers written without a type stay weak (`Int`,
/// `Float`) and take the type of the context where they are used.
#[derive(Clone, Debug, PartialEq)]
pub enum ConstValue {
    Int(i64),
    Float(f64),
    Bool(bool),
    /// A tensor literal: its element type (weak if untyped), shape and row-major values.
    Tensor { elem: Elem, shape: Vec<usize>, values: Vec<f64> },
}

impl ConstValue {
    pub fn ty(&self) -> Ty {
        match self {
            ConstValue::Int(_) => Ty::scalar(Elem::WeakInt),
            ConstValue::Float(_) => Ty::scalar(Elem::WeakFloat),
            ConstValue::Bool(_) => Ty::scalar(Elem::Bool),
            ConstValue::Tensor { elem, shape, .. } => Ty::Tensor(TensorTy::new(*elem, shape.clone())),
        }
    }

    pub fn as_int(&self) -> Option<i64> {
        match self {
            ConstValue::Int(i) => Some(*i),
            _ => None,
        }
    }

    pub fn as_f64(&self) -> Option<f64> {
        match self {
            ConstValue::Int(i) => Some(*i as f64),
            ConstValue::Float(x) => Some(*x),
            _ => None,
        }
    }

    /// How it shows in an instance name such as `softmax[axis=-1]`.
    pub fn show(&self) -> String {
        match self {
            ConstValue::Int(i) => i.to_string(),
            ConstValue::Float(x) => format!("{x:?}"),
            ConstValue::Bool(b) => b.to_string(),
            ConstValue::Tensor { shape, .. } => format!("tensor{}", super::types::shape_str(shape)),
        }
    }
}
