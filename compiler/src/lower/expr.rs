//! Lowering of expressions: arithmetic with explicit broadcasts, built-ins in terms of the
//! primitives of the op table, indexing, matrix products, `if`, calls and blocks.

use std::sync::Arc;

use gradc_runtime::tensor::{DType, Tensor};

use super::{dtype, ir_type, Frame, LowerResult, Lowerer, Value};
use crate::check::hir::{Builtin, Callee, Expr, ExprKind, Literal, ReduceOp as HReduce, Subscript, UnaryFn};
use crate::diag::{codes, Diagnostic};
use crate::ir::op::Const;
use crate::ir::{BinaryOp, NodeId, Op, ReduceOp, Type, UnaryOp};
use crate::source::Span;
use crate::syntax::ast::{BinOp, UnOp};

impl Lowerer<'_> {
    pub(super) fn expr(&mut self, frame: &mut Frame, e: &Expr) -> LowerResult<Value> {
        let span = e.span;
        let node = |n: NodeId| Ok(Value::Node(n));
        match &e.kind {
            ExprKind::Literal(lit) => {
                let v = match *lit {
                    Literal::Float(v) => v,
                    Literal::Int(v) => return node(self.int_literal(v, dtype(e.elem()), span)?),
                    Literal::Bool(b) => b as u8 as f64,
                };
                node(self.constant(dtype(e.elem()), v, span)?)
            }
            ExprKind::Tensor(items) => {
                let mut parts = Vec::with_capacity(items.len());
                for item in items {
                    let n = self.expr(frame, item)?.node();
                    let mut shape = vec![1];
                    shape.extend_from_slice(&self.graph.ty(n).shape);
                    parts.push(self.add(Op::Reshape { shape }, &[n], span)?);
                }
                node(self.add(Op::Concat { axis: 0 }, &parts, span)?)
            }
            ExprKind::Local(id) => self.local(frame, *id, span),
            ExprKind::Param(id) => node(self.source(crate::ir::Source::Param(id.0), span)?),
            ExprKind::Data(id) => node(self.source(crate::ir::Source::Data(id.0), span)?),
            ExprKind::Unary(op, a) => {
                let a = self.expr(frame, a)?.node();
                let u = match op {
                    UnOp::Neg => UnaryOp::Neg,
                    UnOp::Not => UnaryOp::Not,
                };
                node(self.add(Op::Unary(u), &[a], span)?)
            }
            ExprKind::Binary(BinOp::MatMul, a, b) => {
                let (a, b) = (self.expr(frame, a)?.node(), self.expr(frame, b)?.node());
                node(self.matmul(a, b, &ir_type(&e.ty).shape, span)?)
            }
            ExprKind::Binary(op, a, b) => {
                let (a, b) = (self.expr(frame, a)?.node(), self.expr(frame, b)?.node());
                node(self.binary(binary_op(*op), a, b, &ir_type(&e.ty).shape, span)?)
            }
            ExprKind::PowInt(a, n) => {
                let a = self.expr(frame, a)?.node();
                node(self.add(Op::PowInt(*n), &[a], span)?)
            }
            ExprKind::Builtin(b, args) => {
                let mut xs = Vec::with_capacity(args.len());
                for a in args {
                    xs.push(self.expr(frame, a)?.node());
                }
                node(self.builtin(b, &xs, &ir_type(&e.ty), span)?)
            }
            ExprKind::Convert(a) => {
                let a = self.expr(frame, a)?.node();
                let to = dtype(e.elem());
                if self.graph.ty(a).dtype == to {
                    return node(a);
                }
                node(self.add(Op::Convert { to }, &[a], span)?)
            }
            ExprKind::Call(callee, args) => {
                let mut vs = Vec::with_capacity(args.len());
                for a in args {
                    vs.push(self.expr(frame, a)?);
                }
                self.call(frame, callee, vs, &e.ty, span)
            }
            ExprKind::Index(x, subs) => {
                let x = self.expr(frame, x)?.node();
                node(self.index(frame, x, subs, &ir_type(&e.ty).shape, span)?)
            }
            ExprKind::Tuple(items) => {
                let vs = items.iter().map(|i| self.expr(frame, i)).collect::<LowerResult<_>>()?;
                Ok(Value::Tuple(vs))
            }
            ExprKind::If(c, a, b) => self.if_expr(frame, c, a, b, &e.ty, span),
            ExprKind::Block(stmts, value) => {
                self.block(frame, stmts)?;
                self.expr(frame, value)
            }
            ExprKind::Random(draw) => {
                let ty = ir_type(&e.ty);
                let input = self.next_arg;
                self.next_arg += 1;
                self.draws.push(super::Draw { input, draw: draw.clone(), ty: ty.clone(), span });
                node(self.add(Op::Input { source: crate::ir::Source::Arg(input), ty }, &[], span)?)
            }
        }
    }

    fn int_literal(&mut self, v: i64, dtype: DType, span: Span) -> LowerResult<NodeId> {
        let t = match dtype {
            DType::I64 => Tensor::scalar_i64(v),
            d => Tensor::from_f64s(d, vec![], &[v as f64]).expect("a scalar has one element"),
        };
        self.add(Op::Const(Const(Arc::new(t))), &[], span)
    }

    /// `a op b`, each operand broadcast to `shape` first.
    fn binary(&mut self, op: BinaryOp, a: NodeId, b: NodeId, shape: &[usize], span: Span) -> LowerResult<NodeId> {
        let (a, b) = (self.broadcast(a, shape, span)?, self.broadcast(b, shape, span)?);
        let b = if matches!(op, BinaryOp::Div | BinaryOp::Rem) && self.graph.ty(b).dtype == DType::I64 {
            self.guard(b, 1.0, span)?
        } else {
            b
        };
        self.add(Op::Binary(op), &[a, b], span)
    }

    pub(super) fn broadcast(&mut self, n: NodeId, shape: &[usize], span: Span) -> LowerResult<NodeId> {
        if self.graph.ty(n).shape == shape {
            return Ok(n);
        }
        self.add(Op::Broadcast { shape: shape.to_vec() }, &[n], span)
    }

    fn reshape(&mut self, n: NodeId, shape: &[usize], span: Span) -> LowerResult<NodeId> {
        if self.graph.ty(n).shape == shape {
            return Ok(n);
        }
        self.add(Op::Reshape { shape: shape.to_vec() }, &[n], span)
    }

    /// Off the taken path (see the module doc of `lower`), `n` becomes the harmless `safe`.
    fn guard(&mut self, n: NodeId, safe: f64, span: Span) -> LowerResult<NodeId> {
        let Some(path) = self.path else { return Ok(n) };
        let ty = self.graph.ty(n).clone();
        let safe = self.constant(ty.dtype, safe, span)?;
        let (path, safe) = (self.broadcast(path, &ty.shape, span)?, self.broadcast(safe, &ty.shape, span)?);
        self.add(Op::Select, &[path, n, safe], span)
    }

    /// NumPy's `matmul`: vectors are promoted to matrices and back, batch dimensions broadcast
    /// and are flattened into one, so the primitive sees ranks 2 or 3 only.
    fn matmul(&mut self, a: NodeId, b: NodeId, out: &[usize], span: Span) -> LowerResult<NodeId> {
        let (sa, sb) = (self.graph.ty(a).shape.clone(), self.graph.ty(b).shape.clone());
        let a = if sa.len() == 1 { self.reshape(a, &[1, sa[0]], span)? } else { a };
        let b = if sb.len() == 1 { self.reshape(b, &[sb[0], 1], span)? } else { b };
        let (sa, sb) = (self.graph.ty(a).shape.clone(), self.graph.ty(b).shape.clone());
        let (ra, rb) = (sa.len(), sb.len());
        let product = if ra == 2 && rb == 2 {
            self.add(Op::MatMul, &[a, b], span)?
        } else {
            let batch = crate::check::types::broadcast_shapes(&sa[..ra - 2], &sb[..rb - 2]).expect("checked");
            let count = batch.iter().product::<usize>();
            let mut full_a = batch.clone();
            full_a.extend_from_slice(&sa[ra - 2..]);
            let mut full_b = batch.clone();
            full_b.extend_from_slice(&sb[rb - 2..]);
            let a = self.broadcast(a, &full_a, span)?;
            let b = self.broadcast(b, &full_b, span)?;
            let a = self.reshape(a, &[count, sa[ra - 2], sa[ra - 1]], span)?;
            let b = self.reshape(b, &[count, sb[rb - 2], sb[rb - 1]], span)?;
            self.add(Op::MatMul, &[a, b], span)?
        };
        self.reshape(product, out, span)
    }

    fn builtin(&mut self, b: &Builtin, xs: &[NodeId], ty: &Type, span: Span) -> LowerResult<NodeId> {
        let shape = &ty.shape;
        match b {
            Builtin::Unary(f) => self.add(Op::Unary(unary_op(*f)), &[xs[0]], span),
            Builtin::Max2 => self.binary(BinaryOp::Max, xs[0], xs[1], shape, span),
            Builtin::Min2 => self.binary(BinaryOp::Min, xs[0], xs[1], shape, span),
            Builtin::Pow => self.binary(BinaryOp::Pow, xs[0], xs[1], shape, span),
            Builtin::Xor => self.binary(BinaryOp::Xor, xs[0], xs[1], shape, span),
            Builtin::Clamp => {
                let lower = self.binary(BinaryOp::Max, xs[0], xs[1], shape, span)?;
                self.binary(BinaryOp::Min, lower, xs[2], shape, span)
            }
            Builtin::Reduce { op, axis } => self.reduce(*op, *axis, xs[0], ty, span),
            Builtin::Reshape => self.reshape(xs[0], shape, span),
            Builtin::Transpose => {
                let perm = (0..self.graph.ty(xs[0]).rank()).rev().collect();
                self.add(Op::Transpose { perm }, &[xs[0]], span)
            }
            Builtin::Concat { axis } => self.add(Op::Concat { axis: *axis }, xs, span),
            Builtin::Stack { axis } => {
                let mut parts = Vec::with_capacity(xs.len());
                for &x in xs {
                    let mut s = self.graph.ty(x).shape.clone();
                    s.insert(*axis, 1);
                    parts.push(self.reshape(x, &s, span)?);
                }
                self.add(Op::Concat { axis: *axis }, &parts, span)
            }
            Builtin::Broadcast => self.broadcast(xs[0], shape, span),
            Builtin::OneHot => {
                // one_hot(i, n)[…, k] = (i[…] == k)
                let mut with_axis = self.graph.ty(xs[0]).shape.clone();
                with_axis.push(1);
                let i = self.reshape(xs[0], &with_axis, span)?;
                let i = self.broadcast(i, shape, span)?;
                let k = self.add(Op::Iota { ty: Type::new(DType::I64, shape.clone()), axis: shape.len() - 1 }, &[], span)?;
                let hot = self.add(Op::Binary(BinaryOp::Eq), &[i, k], span)?;
                self.add(Op::Convert { to: ty.dtype }, &[hot], span)
            }
            Builtin::Fill(v) => {
                let c = self.constant(ty.dtype, *v, span)?;
                self.broadcast(c, shape, span)
            }
            Builtin::Range => self.add(Op::Iota { ty: ty.clone(), axis: 0 }, &[], span),
        }
    }

    fn reduce(&mut self, op: HReduce, axis: Option<usize>, x: NodeId, ty: &Type, span: Span) -> LowerResult<NodeId> {
        let xt = self.graph.ty(x).clone();
        let axes: Vec<usize> = match axis {
            Some(a) => vec![a],
            None => (0..xt.rank()).collect(),
        };
        let simple = |op| Op::Reduce { op, axes: axes.clone() };
        match op {
            HReduce::Sum => self.add(simple(ReduceOp::Sum), &[x], span),
            HReduce::Prod => self.add(simple(ReduceOp::Prod), &[x], span),
            HReduce::Max => self.add(simple(ReduceOp::Max), &[x], span),
            HReduce::Min => self.add(simple(ReduceOp::Min), &[x], span),
            HReduce::All => self.add(simple(ReduceOp::All), &[x], span),
            HReduce::Any => self.add(simple(ReduceOp::Any), &[x], span),
            HReduce::Parity => self.add(simple(ReduceOp::Parity), &[x], span),
            HReduce::ArgMax => self.add(Op::ArgMax { axis }, &[x], span),
            HReduce::Mean => {
                let count: usize = axes.iter().map(|&a| xt.shape[a]).product();
                let sum = self.add(simple(ReduceOp::Sum), &[x], span)?;
                let n = self.constant(ty.dtype, count as f64, span)?;
                self.binary(BinaryOp::Div, sum, n, &ty.shape, span)
            }
            HReduce::LogSumExp => {
                // m + log(sum(exp(x - m))), with m = max(x) (0 where it is infinite, so that
                // all -inf gives -inf rather than NaN).
                let m = self.add(simple(ReduceOp::Max), &[x], span)?;
                let abs = self.add(Op::Unary(UnaryOp::Abs), &[m], span)?;
                let inf = self.constant(ty.dtype, f64::INFINITY, span)?;
                let inf = self.broadcast(inf, &ty.shape, span)?;
                let infinite = self.add(Op::Binary(BinaryOp::Eq), &[abs, inf], span)?;
                let zero = self.constant(ty.dtype, 0.0, span)?;
                let zero = self.broadcast(zero, &ty.shape, span)?;
                let m = self.add(Op::Select, &[infinite, zero, m], span)?;
                let mut kept = xt.shape.clone();
                for &a in &axes {
                    kept[a] = 1;
                }
                let m_kept = self.reshape(m, &kept, span)?;
                let shifted = self.binary(BinaryOp::Sub, x, m_kept, &xt.shape, span)?;
                let exp = self.add(Op::Unary(UnaryOp::Exp), &[shifted], span)?;
                let sum = self.add(simple(ReduceOp::Sum), &[exp], span)?;
                let log = self.add(Op::Unary(UnaryOp::Log), &[sum], span)?;
                self.add(Op::Binary(BinaryOp::Add), &[m, log], span)
            }
        }
    }

    /// Subscripts: slices and constant indices become one `slice`, run-time indices
    /// `gather`s (highest axis first, so the lower axes keep their numbers), and a final
    /// reshape drops the axes that constant indices removed.
    fn index(&mut self, frame: &mut Frame, x: NodeId, subs: &[Subscript], out: &[usize], span: Span) -> LowerResult<NodeId> {
        let shape = self.graph.ty(x).shape.clone();
        let (mut starts, mut ends) = (vec![0; shape.len()], shape.clone());
        let mut dynamic = Vec::new();
        for (axis, sub) in subs.iter().enumerate() {
            match sub {
                Subscript::Slice { lo, hi } => (starts[axis], ends[axis]) = (*lo, *hi),
                Subscript::Index(e) => {
                    let i = self.expr(frame, e)?.node();
                    match self.const_scalar(i) {
                        Some(v) if v >= 0.0 && (v as usize) < shape[axis] => {
                            (starts[axis], ends[axis]) = (v as usize, v as usize + 1);
                        }
                        Some(v) if self.path.is_none() => {
                            return Err(Box::new(
                                Diagnostic::new(codes::BAD_INDEX, format!("index {v} is out of range for axis {axis} of length {}", shape[axis]), e.span, "out of range")
                                    .with_hint(format!("valid indices are 0..{}", shape[axis])),
                            ));
                        }
                        _ => dynamic.push((axis, self.guard(i, 0.0, e.span)?)),
                    }
                }
            }
        }
        let mut x = x;
        if starts.iter().any(|&s| s != 0) || ends != shape {
            x = self.add(Op::Slice { starts, ends }, &[x], span)?;
        }
        for &(axis, i) in dynamic.iter().rev() {
            x = self.add(Op::Gather { axis }, &[x, i], span)?;
        }
        self.reshape(x, out, span)
    }

    fn if_expr(&mut self, frame: &mut Frame, c: &Expr, a: &Expr, b: &Expr, ty: &crate::check::types::Ty, span: Span) -> LowerResult<Value> {
        let cond = self.expr(frame, c)?.node();
        let scalar = self.graph.ty(cond).rank() == 0;
        if scalar {
            if let Some(v) = self.const_scalar(cond) {
                return self.expr(frame, if v != 0.0 { a } else { b });
            }
        }
        let outer = self.path;
        let (then_v, else_v) = if scalar {
            let not = self.add(Op::Unary(UnaryOp::Not), &[cond], span)?;
            self.path = Some(self.and_path(cond, span)?);
            let then_v = self.expr(frame, a);
            self.path = outer;
            let then_v = then_v?;
            self.path = Some(self.and_path(not, span)?);
            let else_v = self.expr(frame, b);
            self.path = outer;
            (then_v, else_v?)
        } else {
            (self.expr(frame, a)?, self.expr(frame, b)?)
        };
        self.select(cond, then_v, else_v, ty, span)
    }

    fn and_path(&mut self, c: NodeId, span: Span) -> LowerResult<NodeId> {
        match self.path {
            None => Ok(c),
            Some(p) => self.add(Op::Binary(BinaryOp::And), &[p, c], span),
        }
    }

    fn select(&mut self, c: NodeId, a: Value, b: Value, ty: &crate::check::types::Ty, span: Span) -> LowerResult<Value> {
        match (a, b, ty) {
            (Value::Tuple(xs), Value::Tuple(ys), crate::check::types::Ty::Tuple(ts)) => {
                let mut out = Vec::with_capacity(xs.len());
                for ((x, y), t) in xs.into_iter().zip(ys).zip(ts) {
                    out.push(self.select(c, x, y, t, span)?);
                }
                Ok(Value::Tuple(out))
            }
            (a, b, ty) => {
                let shape = ir_type(ty).shape;
                let c = self.broadcast(c, &shape, span)?;
                let a = self.broadcast(a.node(), &shape, span)?;
                let b = self.broadcast(b.node(), &shape, span)?;
                Ok(Value::Node(self.add(Op::Select, &[c, a, b], span)?))
            }
        }
    }

    fn call(&mut self, frame: &mut Frame, callee: &Callee, args: Vec<Value>, ty: &crate::check::types::Ty, span: Span) -> LowerResult<Value> {
        match callee {
            Callee::Fn(id) => self.call_fn(*id, args, span),
            Callee::Lambda { params, body } => {
                for (&p, v) in params.iter().zip(args) {
                    frame.set(p, v);
                }
                self.expr(frame, body)
            }
            Callee::Transform { .. } => self.call_transform(frame, callee, args, ty, span),
        }
    }
}

pub(super) fn unsupported(what: &str, why: &str, span: Span) -> Box<Diagnostic> {
    Box::new(
        Diagnostic::new(codes::UNSUPPORTED, format!("{what} cannot run in this version of gradc"), span, "not supported yet")
            .with_hint(why.to_string()),
    )
}

fn binary_op(op: BinOp) -> BinaryOp {
    match op {
        BinOp::Or => BinaryOp::Or,
        BinOp::And => BinaryOp::And,
        BinOp::Eq => BinaryOp::Eq,
        BinOp::Ne => BinaryOp::Ne,
        BinOp::Lt => BinaryOp::Lt,
        BinOp::Le => BinaryOp::Le,
        BinOp::Gt => BinaryOp::Gt,
        BinOp::Ge => BinaryOp::Ge,
        BinOp::Add => BinaryOp::Add,
        BinOp::Sub => BinaryOp::Sub,
        BinOp::Mul => BinaryOp::Mul,
        BinOp::Div => BinaryOp::Div,
        BinOp::Rem => BinaryOp::Rem,
        BinOp::Pow => BinaryOp::Pow,
        BinOp::MatMul => unreachable!("`@` lowers to `matmul`"),
    }
}

fn unary_op(f: UnaryFn) -> UnaryOp {
    match f {
        UnaryFn::Exp => UnaryOp::Exp,
        UnaryFn::Log => UnaryOp::Log,
        UnaryFn::Sin => UnaryOp::Sin,
        UnaryFn::Cos => UnaryOp::Cos,
        UnaryFn::Tan => UnaryOp::Tan,
        UnaryFn::Tanh => UnaryOp::Tanh,
        UnaryFn::Sigmoid => UnaryOp::Sigmoid,
        UnaryFn::Relu => UnaryOp::Relu,
        UnaryFn::Softplus => UnaryOp::Softplus,
        UnaryFn::Gelu => UnaryOp::Gelu,
        UnaryFn::Sqrt => UnaryOp::Sqrt,
        UnaryFn::Abs => UnaryOp::Abs,
        UnaryFn::Sign => UnaryOp::Sign,
        UnaryFn::Floor => UnaryOp::Floor,
        UnaryFn::Ceil => UnaryOp::Ceil,
        UnaryFn::Erf => UnaryOp::Erf,
    }
}
