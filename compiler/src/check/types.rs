//! Types of checked values: element types, concrete shapes, tuples.
//!
//! Architecture Invariant: after checking every shape is a concrete list of numbers and no
//! weak element type remains (see [`Elem::WeakInt`]).

use std::fmt;

/// An element type. The two weak ones belong to untyped literals (and `zeros`, `ones`, …)
/// while checking: they take the type of their context, like Go's untyped constants, and
/// default to `i64` / `f64` where no context decides.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Elem {
    F64,
    F32,
    I64,
    Bool,
    /// An integer literal: becomes `i64`, or a float where a float is expected.
    WeakInt,
    /// A float literal: becomes `f32` or `f64`.
    WeakFloat,
}

impl Elem {
    pub fn is_float(self) -> bool {
        matches!(self, Elem::F64 | Elem::F32 | Elem::WeakFloat)
    }

    /// Numbers: anything but `bool`.
    pub fn is_numeric(self) -> bool {
        self != Elem::Bool
    }

    pub fn is_weak(self) -> bool {
        matches!(self, Elem::WeakInt | Elem::WeakFloat)
    }

    /// Whether a value of this type may be used where `target` is expected.
    pub fn coerces_to(self, target: Elem) -> bool {
        self == target
            || match self {
                Elem::WeakInt => target.is_numeric(),
                Elem::WeakFloat => target.is_float(),
                _ => false,
            }
    }

    /// The common type of two operands, if any: weak yields to strong.
    pub fn unify(a: Elem, b: Elem) -> Option<Elem> {
        if a.coerces_to(b) {
            Some(b)
        } else if b.coerces_to(a) {
            Some(a)
        } else {
            None
        }
    }

    /// The type a weak element becomes where nothing else decides.
    pub fn defaulted(self) -> Elem {
        match self {
            Elem::WeakInt => Elem::I64,
            Elem::WeakFloat => Elem::F64,
            e => e,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Elem::F64 => "f64",
            Elem::F32 => "f32",
            Elem::I64 => "i64",
            Elem::Bool => "bool",
            Elem::WeakInt => "integer",
            Elem::WeakFloat => "float",
        }
    }

    pub fn from_name(name: &str) -> Option<Elem> {
        Some(match name {
            "f64" => Elem::F64,
            "f32" => Elem::F32,
            "i64" => Elem::I64,
            "bool" => Elem::Bool,
            _ => return None,
        })
    }

    /// Bytes of one element in memory.
    pub fn size(self) -> usize {
        match self {
            Elem::F32 => 4,
            Elem::Bool => 1,
            _ => 8,
        }
    }
}

/// A tensor type: an element type and a concrete shape; a scalar has the empty shape.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct TensorTy {
    pub elem: Elem,
    pub shape: Vec<usize>,
}

impl TensorTy {
    pub fn scalar(elem: Elem) -> TensorTy {
        TensorTy { elem, shape: Vec::new() }
    }

    pub fn new(elem: Elem, shape: Vec<usize>) -> TensorTy {
        TensorTy { elem, shape }
    }

    pub fn is_scalar(&self) -> bool {
        self.shape.is_empty()
    }

    pub fn rank(&self) -> usize {
        self.shape.len()
    }

    /// Number of elements; saturates rather than overflowing (the checker bounds sizes).
    pub fn len(&self) -> usize {
        self.shape.iter().fold(1usize, |a, &d| a.saturating_mul(d))
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn with_elem(&self, elem: Elem) -> TensorTy {
        TensorTy { elem, shape: self.shape.clone() }
    }
}

/// The type of a value: a tensor (scalars included) or a tuple.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Ty {
    Tensor(TensorTy),
    Tuple(Vec<Ty>),
}

impl Ty {
    pub fn scalar(elem: Elem) -> Ty {
        Ty::Tensor(TensorTy::scalar(elem))
    }

    pub fn tensor(elem: Elem, shape: Vec<usize>) -> Ty {
        Ty::Tensor(TensorTy::new(elem, shape))
    }

    pub fn as_tensor(&self) -> Option<&TensorTy> {
        match self {
            Ty::Tensor(t) => Some(t),
            Ty::Tuple(_) => None,
        }
    }

    /// Whether any weak element type is left inside.
    pub fn is_weak(&self) -> bool {
        match self {
            Ty::Tensor(t) => t.elem.is_weak(),
            Ty::Tuple(ts) => ts.iter().any(Ty::is_weak),
        }
    }

    /// Whether a value of this type may be passed where `target` is expected.
    pub fn coerces_to(&self, target: &Ty) -> bool {
        match (self, target) {
            (Ty::Tensor(a), Ty::Tensor(b)) => a.shape == b.shape && a.elem.coerces_to(b.elem),
            (Ty::Tuple(a), Ty::Tuple(b)) => a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.coerces_to(y)),
            _ => false,
        }
    }

    /// The same type with weak elements defaulted.
    pub fn defaulted(&self) -> Ty {
        match self {
            Ty::Tensor(t) => Ty::Tensor(t.with_elem(t.elem.defaulted())),
            Ty::Tuple(ts) => Ty::Tuple(ts.iter().map(Ty::defaulted).collect()),
        }
    }
}

impl fmt::Display for TensorTy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.elem.name())?;
        if !self.shape.is_empty() {
            let dims: Vec<String> = self.shape.iter().map(|d| d.to_string()).collect();
            write!(f, "[{}]", dims.join(", "))?;
        }
        Ok(())
    }
}

impl fmt::Display for Ty {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Ty::Tensor(t) => t.fmt(f),
            Ty::Tuple(ts) => {
                let parts: Vec<String> = ts.iter().map(|t| t.to_string()).collect();
                write!(f, "({})", parts.join(", "))
            }
        }
    }
}

/// Shows a shape as `[2, 3]` (a scalar as `[]`).
pub fn shape_str(shape: &[usize]) -> String {
    let dims: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
    format!("[{}]", dims.join(", "))
}

/// NumPy broadcasting: the shape both operands broadcast to, or `None`.
pub fn broadcast_shapes(a: &[usize], b: &[usize]) -> Option<Vec<usize>> {
    let n = a.len().max(b.len());
    let mut out = vec![0; n];
    for i in 0..n {
        let da = if i + a.len() >= n { a[i + a.len() - n] } else { 1 };
        let db = if i + b.len() >= n { b[i + b.len() - n] } else { 1 };
        out[i] = match (da, db) {
            (x, y) if x == y => x,
            (1, y) => y,
            (x, 1) => x,
            _ => return None,
        };
    }
    Some(out)
}

/// Whether `from` broadcasts to exactly `to`.
pub fn broadcasts_to(from: &[usize], to: &[usize]) -> bool {
    broadcast_shapes(from, to).as_deref() == Some(to)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broadcasting_follows_numpy() {
        assert_eq!(broadcast_shapes(&[3, 1], &[4]), Some(vec![3, 4]));
        assert_eq!(broadcast_shapes(&[], &[2, 3]), Some(vec![2, 3]));
        assert_eq!(broadcast_shapes(&[2, 3], &[3, 2]), None);
        assert!(broadcasts_to(&[1, 3], &[5, 3]));
        assert!(!broadcasts_to(&[5, 3], &[3]));
    }

    #[test]
    fn weak_types_yield() {
        assert_eq!(Elem::unify(Elem::WeakInt, Elem::F32), Some(Elem::F32));
        assert_eq!(Elem::unify(Elem::WeakFloat, Elem::WeakInt), Some(Elem::WeakFloat));
        assert_eq!(Elem::unify(Elem::WeakFloat, Elem::I64), None);
        assert_eq!(Elem::unify(Elem::F64, Elem::F32), None);
    }
}
