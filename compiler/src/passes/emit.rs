//! A small builder for passes: appends typed nodes to a new graph with one-line helpers
//! (`e.mul(a, b)`, `e.splat_like(x, 1.0)`), so that derivative rules read like the math.
//!
//! Rules only ever combine operands of the types the op table allows; a type error here is a
//! bug in a rule, hence the `expect`.

use std::sync::Arc;

use gradc_runtime::tensor::{DType, Tensor};

use crate::ir::op::Const;
use crate::ir::{BinaryOp, Graph, NodeId, Op, ReduceOp, Type, UnaryOp};
use crate::source::Span;

pub struct Emitter {
    pub graph: Graph,
}

impl Emitter {
    pub fn new(name: impl Into<String>) -> Emitter {
        Emitter { graph: Graph::new(name) }
    }

    pub fn set_span(&mut self, span: Option<Span>) {
        self.graph.current_span = span;
    }

    pub fn add(&mut self, op: Op, args: &[NodeId]) -> NodeId {
        match self.graph.add(op, args) {
            Ok(n) => n,
            Err(e) => panic!("a derivative rule built an ill-typed node: {e}"),
        }
    }

    pub fn ty(&self, n: NodeId) -> &Type {
        self.graph.ty(n)
    }

    pub fn shape(&self, n: NodeId) -> Vec<usize> {
        self.graph.ty(n).shape.clone()
    }

    pub fn unary(&mut self, u: UnaryOp, x: NodeId) -> NodeId {
        self.add(Op::Unary(u), &[x])
    }

    pub fn binary(&mut self, b: BinaryOp, x: NodeId, y: NodeId) -> NodeId {
        self.add(Op::Binary(b), &[x, y])
    }

    pub fn neg(&mut self, x: NodeId) -> NodeId {
        self.unary(UnaryOp::Neg, x)
    }

    pub fn add2(&mut self, x: NodeId, y: NodeId) -> NodeId {
        self.binary(BinaryOp::Add, x, y)
    }

    pub fn sub(&mut self, x: NodeId, y: NodeId) -> NodeId {
        self.binary(BinaryOp::Sub, x, y)
    }

    pub fn mul(&mut self, x: NodeId, y: NodeId) -> NodeId {
        self.binary(BinaryOp::Mul, x, y)
    }

    pub fn div(&mut self, x: NodeId, y: NodeId) -> NodeId {
        self.binary(BinaryOp::Div, x, y)
    }

    pub fn select(&mut self, c: NodeId, a: NodeId, b: NodeId) -> NodeId {
        self.add(Op::Select, &[c, a, b])
    }

    /// A scalar constant.
    pub fn scalar(&mut self, dtype: DType, v: f64) -> NodeId {
        let t = Tensor::from_f64s(dtype, vec![], &[v]).expect("a scalar has one element");
        self.add(Op::Const(Const(Arc::new(t))), &[])
    }

    /// A constant of `x`'s type with every element `v`.
    pub fn splat_like(&mut self, x: NodeId, v: f64) -> NodeId {
        let ty = self.ty(x).clone();
        self.splat(&ty, v)
    }

    pub fn splat(&mut self, ty: &Type, v: f64) -> NodeId {
        let c = self.scalar(ty.dtype, v);
        self.broadcast(c, &ty.shape)
    }

    pub fn zeros_like(&mut self, x: NodeId) -> NodeId {
        self.splat_like(x, 0.0)
    }

    /// `x` times the constant `v`.
    pub fn scale(&mut self, x: NodeId, v: f64) -> NodeId {
        let c = self.splat_like(x, v);
        self.mul(x, c)
    }

    pub fn broadcast(&mut self, x: NodeId, shape: &[usize]) -> NodeId {
        if self.ty(x).shape == shape {
            return x;
        }
        self.add(Op::Broadcast { shape: shape.to_vec() }, &[x])
    }

    pub fn reshape(&mut self, x: NodeId, shape: &[usize]) -> NodeId {
        if self.ty(x).shape == shape {
            return x;
        }
        self.add(Op::Reshape { shape: shape.to_vec() }, &[x])
    }

    pub fn reduce_sum(&mut self, x: NodeId, axes: Vec<usize>) -> NodeId {
        if axes.is_empty() {
            return x;
        }
        self.add(Op::Reduce { op: ReduceOp::Sum, axes }, &[x])
    }

    /// `x` with the `axes` it was reduced over put back as size 1, then broadcast to `shape`:
    /// the shape-level inverse of a reduction.
    pub fn unreduce(&mut self, x: NodeId, axes: &[usize], shape: &[usize]) -> NodeId {
        let kept: Vec<usize> = (0..shape.len()).map(|i| if axes.contains(&i) { 1 } else { shape[i] }).collect();
        let r = self.reshape(x, &kept);
        self.broadcast(r, shape)
    }

    /// Swaps the last two axes.
    pub fn transpose_last2(&mut self, x: NodeId) -> NodeId {
        let r = self.ty(x).rank();
        let mut perm: Vec<usize> = (0..r).collect();
        perm.swap(r - 2, r - 1);
        self.add(Op::Transpose { perm }, &[x])
    }

    pub fn convert(&mut self, x: NodeId, to: DType) -> NodeId {
        if self.ty(x).dtype == to {
            return x;
        }
        self.add(Op::Convert { to }, &[x])
    }
}
