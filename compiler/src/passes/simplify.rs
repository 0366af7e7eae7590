//! The simplifier: constant folding, common-subexpression elimination, dead-code elimination
//! and algebraic identities, in one rebuild of the graph (repeated until it stops shrinking).
//!
//! Architecture Invariant: no rewrite changes an IEEE result, signed zeros, infinities and
//! NaN included (the sign and payload of a NaN, which IEEE 754 leaves unspecified for
//! arithmetic, may differ: `a + (-b)` becomes `a - b`). Non-constant nodes never increase;
//! a splat constant becomes a scalar and a `broadcast`, which may add one node.
//! That is why `x + 0.0` becomes `x` only where `x` cannot be `-0.0` (`-0.0 + 0.0` is `+0.0`),
//! while `x + -0.0` and `x - 0.0` always do; and why `x * 0` becomes `0` only where `x` is
//! known finite and not negative (`inf * 0` is NaN, `-1 * 0` is `-0.0`). What is known about a
//! node comes from [`Facts`], a small forward analysis.

use std::collections::HashMap;
use std::sync::Arc;

use gradc_runtime::tensor::{Buffer, DType, Tensor};

use crate::ir::op::Const;
use crate::ir::{BinaryOp, Graph, NodeId, Op, Type, UnaryOp};

/// Largest result (in elements) that folding makes into a constant when it is larger than
/// its operands together: folding must not turn `broadcast(0.0)` into a megabyte of zeros.
const FOLD_EXPANSION_LIMIT: usize = 64;

/// Simplifies a graph: the result computes the same outputs, bit for bit.
pub fn simplify(graph: &Graph) -> Graph {
    let mut g = rebuild(graph);
    for _ in 0..8 {
        let next = rebuild(&g);
        let done = next.len() == g.len();
        g = next;
        if done {
            break;
        }
    }
    g
}

/// The constant a node folds to, if its operands are all constants and evaluating it
/// succeeds (a failing op, such as an index out of range, is left for run time).
pub fn fold_node(graph: &Graph, id: NodeId) -> Option<Const> {
    let node = graph.node(id);
    if node.op.is_leaf() {
        return None;
    }
    let args = graph.args(id);
    let mut tensors = Vec::with_capacity(args.len());
    for &a in &args {
        match graph.op(a) {
            Op::Const(c) => tensors.push(c.tensor()),
            _ => return None,
        }
    }
    let input: usize = tensors.iter().map(|t| t.len()).sum();
    // A broadcast constant stays a broadcast: it keeps splats visible to the identities.
    if node.ty.len() > input.max(FOLD_EXPANSION_LIMIT) || matches!(node.op, Op::Broadcast { .. }) {
        return None;
    }
    crate::interp::eval_op(&node.op, &node.ty, &tensors).ok().map(|t| Const(Arc::new(t)))
}

/// What is known about every element of a node's value.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Facts {
    /// Not NaN and not infinite.
    pub finite: bool,
    /// Not `-0.0` (and not NaN, so that `x + 0.0` keeps its bits).
    pub not_neg_zero: bool,
    /// `>= 0` or `+0.0` (not NaN).
    pub non_negative: bool,
}

impl Facts {
    const ALL: Facts = Facts { finite: true, not_neg_zero: true, non_negative: true };

    fn of_tensor(t: &Tensor) -> Facts {
        let of = |xs: &mut dyn Iterator<Item = f64>| {
            let mut f = Facts::ALL;
            for x in xs {
                f.finite &= x.is_finite();
                f.not_neg_zero &= (x != 0.0 || x.is_sign_positive()) && !x.is_nan();
                f.non_negative &= x >= 0.0 && !(x == 0.0 && x.is_sign_negative());
            }
            f
        };
        match t.data() {
            Buffer::F64(v) => of(&mut v.iter().copied()),
            Buffer::F32(v) => of(&mut v.iter().map(|&x| x as f64)),
            Buffer::I64(v) => Facts { non_negative: v.iter().all(|&x| x >= 0), ..Facts::ALL },
            Buffer::Bool(_) => Facts::ALL,
        }
    }
}

/// The facts of a node from its op and its operands' facts.
fn facts_of(op: &Op, args: &[Facts], arg_dtypes: &[DType]) -> Facts {
    let arg = args.first().copied().unwrap_or_default();
    let not_nan_in = arg.finite;
    match op {
        Op::Const(c) => Facts::of_tensor(c.tensor()),
        Op::Iota { .. } => Facts::ALL,
        Op::Convert { .. } if matches!(arg_dtypes.first(), Some(DType::I64)) => Facts { non_negative: arg.non_negative, ..Facts::ALL },
        Op::Convert { .. } if matches!(arg_dtypes.first(), Some(DType::Bool)) => Facts::ALL,
        // f64 -> f32 can overflow to inf and underflow a negative value to -0.0.
        Op::Convert { to: DType::F32 } if matches!(arg_dtypes.first(), Some(DType::F64)) => {
            Facts { finite: false, not_neg_zero: arg.non_negative, non_negative: arg.non_negative }
        }
        Op::Convert { to: DType::I64 } => Facts { non_negative: arg.non_negative, ..Facts::ALL },
        Op::Convert { .. } | Op::Broadcast { .. } | Op::Reshape { .. } | Op::Transpose { .. } | Op::Slice { .. } | Op::Gather { .. } => arg,
        Op::Unary(u) => match u {
            UnaryOp::Sin | UnaryOp::Cos | UnaryOp::Tanh | UnaryOp::Erf => Facts { finite: not_nan_in, ..Facts::default() },
            UnaryOp::Sigmoid => Facts { finite: not_nan_in, not_neg_zero: not_nan_in, non_negative: not_nan_in },
            UnaryOp::Exp => Facts { finite: false, not_neg_zero: not_nan_in, non_negative: not_nan_in },
            // i64 abs wraps at i64::MIN.
            UnaryOp::Abs if arg_dtypes.first() == Some(&DType::I64) => Facts { finite: true, ..Facts::default() },
            UnaryOp::Abs => Facts { finite: arg.finite, not_neg_zero: not_nan_in, non_negative: not_nan_in },
            UnaryOp::Floor | UnaryOp::Ceil => Facts { finite: arg.finite, ..Facts::default() },
            UnaryOp::Sign => Facts { finite: not_nan_in, not_neg_zero: arg.not_neg_zero, non_negative: arg.non_negative },
            UnaryOp::Neg => Facts { finite: arg.finite, ..Facts::default() },
            UnaryOp::Relu => Facts { finite: arg.finite, not_neg_zero: not_nan_in, non_negative: not_nan_in },
            _ => Facts::default(),
        },
        Op::Binary(b) if b.is_comparison() => Facts::ALL,
        Op::Binary(BinaryOp::And | BinaryOp::Or | BinaryOp::Xor) => Facts::ALL,
        Op::Select => {
            let (a, b) = (args[1], args[2]);
            Facts { finite: a.finite && b.finite, not_neg_zero: a.not_neg_zero && b.not_neg_zero, non_negative: a.non_negative && b.non_negative }
        }
        Op::ArgMax { .. } => Facts::ALL,
        _ => Facts::default(),
    }
}

/// The result of a rewrite rule.
enum Rewrite {
    /// An existing node of the new graph (same type).
    Use(NodeId),
    /// Build this op over these operands instead.
    Build(Op, Vec<NodeId>),
}

struct Builder {
    graph: Graph,
    facts: Vec<Facts>,
    memo: HashMap<(Op, Vec<NodeId>), NodeId>,
}

impl Builder {
    /// Appends `op(args)`, folded if constant, shared if an equal node exists. Operands of
    /// commutative ops are put in node order first, so `a * b` and `b * a` are shared (IEEE
    /// addition and multiplication commute exactly).
    fn add(&mut self, op: Op, mut args: Vec<NodeId>) -> NodeId {
        use BinaryOp::*;
        if matches!(op, Op::Binary(Add | Mul | And | Or | Xor | Eq | Ne)) && args[0] > args[1] {
            args.swap(0, 1);
        }
        if let Some(&n) = self.memo.get(&(op.clone(), args.clone())) {
            return n;
        }
        let id = self.graph.add(op.clone(), &args).expect("rewrites keep types");
        let id = match fold_node(&self.graph, id) {
            Some(c) => {
                let key = (Op::Const(c.clone()), Vec::new());
                if let Some(&n) = self.memo.get(&key) {
                    n
                } else {
                    let n = self.graph.add(Op::Const(c), &[]).expect("a constant has its own type");
                    self.record(key, n);
                    n
                }
            }
            None => id,
        };
        self.record((op, args), id);
        id
    }

    fn record(&mut self, key: (Op, Vec<NodeId>), id: NodeId) {
        while self.facts.len() < self.graph.len() {
            let n = NodeId::new(self.facts.len());
            let args = self.graph.args(n);
            let fs: Vec<Facts> = args.iter().map(|a| self.facts[a.index()]).collect();
            let ds: Vec<DType> = args.iter().map(|&a| self.graph.ty(a).dtype).collect();
            self.facts.push(facts_of(self.graph.op(n), &fs, &ds));
        }
        self.memo.insert(key, id);
    }

    /// The value of every element of `n` if they are all one constant (seeing through
    /// broadcasts and reshapes), as `f64` bits' meaning plus its sign of zero.
    fn splat(&self, n: NodeId) -> Option<f64> {
        match self.graph.op(n) {
            Op::Const(c) => c.splat(),
            Op::Broadcast { .. } | Op::Reshape { .. } => self.splat(self.graph.args(n)[0]),
            _ => None,
        }
    }

    fn is(&self, n: NodeId, v: f64) -> bool {
        self.splat(n).is_some_and(|s| s == v && s.is_sign_negative() == v.is_sign_negative())
    }

    fn facts(&self, n: NodeId) -> Facts {
        self.facts[n.index()]
    }

    /// A splat constant of `n`'s type.
    fn splat_like(&mut self, n: NodeId, v: f64) -> NodeId {
        let ty = self.graph.ty(n).clone();
        let t = Tensor::from_f64s(ty.dtype, vec![], &[v]).expect("a scalar has one element");
        let c = self.add(Op::Const(Const(Arc::new(t))), vec![]);
        if ty.shape.is_empty() {
            c
        } else {
            self.add(Op::Broadcast { shape: ty.shape }, vec![c])
        }
    }

    /// An elementwise op whose operands are all splats (one value broadcast), computed once
    /// on the scalars and broadcast: `neg(broadcast(1.0))` is `broadcast(-1.0)`.
    fn fold_splats(&mut self, op: &Op, args: &[NodeId]) -> Option<NodeId> {
        let elementwise = matches!(op, Op::Unary(_) | Op::Binary(_) | Op::PowInt(_) | Op::Select | Op::Convert { .. });
        if !elementwise || args.is_empty() {
            return None;
        }
        let mut scalars = Vec::with_capacity(args.len());
        for &a in args {
            let v = self.splat(a)?;
            let t = Tensor::from_f64s(self.graph.ty(a).dtype, vec![], &[v]).expect("a scalar has one element");
            scalars.push(t);
        }
        let shape = self.graph.ty(args[0]).shape.clone();
        let arg_tys: Vec<Type> = scalars.iter().map(|t| Type::scalar(t.dtype())).collect();
        let refs: Vec<&Type> = arg_tys.iter().collect();
        let ty = op.result_type(&refs).ok()?;
        let refs: Vec<&Tensor> = scalars.iter().collect();
        let value = crate::interp::eval_op(op, &ty, &refs).ok()?;
        let c = self.add(Op::Const(Const(Arc::new(value))), vec![]);
        Some(if shape.is_empty() { c } else { self.add(Op::Broadcast { shape }, vec![c]) })
    }

    /// The algebraic identities. Each returns a node computing exactly the same bits.
    fn rewrite(&mut self, op: &Op, args: &[NodeId]) -> Rewrite {
        use BinaryOp::*;
        let dtype = args.first().map(|&a| self.graph.ty(a).dtype);
        let int = dtype == Some(DType::I64);
        if let Some(n) = self.fold_splats(op, args) {
            return Rewrite::Use(n);
        }
        match op {
            // A constant with one value everywhere: a scalar, broadcast.
            Op::Const(c) if c.tensor().rank() > 0 && c.splat().is_some() => {
                let t = c.tensor();
                let v = c.splat().expect("checked");
                let s = Tensor::from_f64s(t.dtype(), vec![], &[v]).expect("a scalar has one element");
                let s = self.add(Op::Const(Const(Arc::new(s))), vec![]);
                return Rewrite::Build(Op::Broadcast { shape: t.shape().to_vec() }, vec![s]);
            }
            Op::Binary(b) => {
                let (x, y) = (args[0], args[1]);
                match b {
                    Add if self.is(y, -0.0) || (self.is(y, 0.0) && (int || self.facts(x).not_neg_zero)) => return Rewrite::Use(x),
                    Add if self.is(x, -0.0) || (self.is(x, 0.0) && (int || self.facts(y).not_neg_zero)) => return Rewrite::Use(y),
                    Sub if self.is(y, 0.0) => return Rewrite::Use(x),
                    Mul | Div if self.is(y, 1.0) => return Rewrite::Use(x),
                    Mul if self.is(x, 1.0) => return Rewrite::Use(y),
                    Mul if self.is(y, 0.0) && (int || (self.facts(x).finite && self.facts(x).non_negative)) => return Rewrite::Use(y),
                    Mul if self.is(x, 0.0) && (int || (self.facts(y).finite && self.facts(y).non_negative)) => return Rewrite::Use(x),
                    // a + (-b) and a - b round identically.
                    Add => {
                        if let Op::Unary(UnaryOp::Neg) = self.graph.op(y) {
                            return Rewrite::Build(Op::Binary(Sub), vec![x, self.graph.args(y)[0]]);
                        }
                    }
                    Sub => {
                        if let Op::Unary(UnaryOp::Neg) = self.graph.op(y) {
                            return Rewrite::Build(Op::Binary(Add), vec![x, self.graph.args(y)[0]]);
                        }
                    }
                    // No `x & x → x` or `x | x → x`: the value is the same, but the reverse
                    // derivative over Z2 is formal (`x & x` has derivative 0, ORACLES.md R2),
                    // and `rgrad` runs on simplified graphs. `x ⊕ x → 0` keeps it (both are 0).
                    Xor if x == y => return Rewrite::Use(self.splat_like(x, 0.0)),
                    And if self.is(y, 0.0) => return Rewrite::Use(y),
                    And if self.is(x, 0.0) => return Rewrite::Use(x),
                    Or if self.is(y, 1.0) => return Rewrite::Use(y),
                    Or if self.is(x, 1.0) => return Rewrite::Use(x),
                    And if self.is(y, 1.0) => return Rewrite::Use(x),
                    And if self.is(x, 1.0) => return Rewrite::Use(y),
                    Or | Xor if self.is(y, 0.0) => return Rewrite::Use(x),
                    Or | Xor if self.is(x, 0.0) => return Rewrite::Use(y),
                    _ => {}
                }
            }
            Op::Unary(u @ (UnaryOp::Neg | UnaryOp::Not)) if self.graph.op(args[0]) == &Op::Unary(*u) => {
                return Rewrite::Use(self.graph.args(args[0])[0]);
            }
            Op::PowInt(1) => return Rewrite::Use(args[0]),
            Op::PowInt(0) => return Rewrite::Use(self.splat_like(args[0], 1.0)),
            Op::Select => {
                if args[1] == args[2] {
                    return Rewrite::Use(args[1]);
                }
                if self.graph.ty(args[1]).dtype == DType::Bool && self.is(args[1], 1.0) && self.is(args[2], 0.0) {
                    return Rewrite::Use(args[0]);
                }
                match self.splat(args[0]) {
                    Some(c) if c != 0.0 => return Rewrite::Use(args[1]),
                    Some(_) => return Rewrite::Use(args[2]),
                    None => {}
                }
            }
            Op::Reshape { shape } | Op::Broadcast { shape } if self.graph.ty(args[0]).shape == *shape => return Rewrite::Use(args[0]),
            Op::Broadcast { shape } => {
                if let Op::Broadcast { .. } = self.graph.op(args[0]) {
                    return Rewrite::Build(Op::Broadcast { shape: shape.clone() }, vec![self.graph.args(args[0])[0]]);
                }
            }
            Op::Reshape { shape } => {
                if let Op::Reshape { .. } = self.graph.op(args[0]) {
                    return Rewrite::Build(Op::Reshape { shape: shape.clone() }, vec![self.graph.args(args[0])[0]]);
                }
            }
            Op::Transpose { perm } if perm.iter().enumerate().all(|(i, &p)| i == p) => return Rewrite::Use(args[0]),
            Op::Transpose { perm } => {
                if let Op::Transpose { perm: inner } = self.graph.op(args[0]) {
                    // Result axis i is inner axis perm[i], which is operand axis inner[perm[i]].
                    let composed = perm.iter().map(|&p| inner[p]).collect();
                    return Rewrite::Build(Op::Transpose { perm: composed }, vec![self.graph.args(args[0])[0]]);
                }
            }
            Op::Reduce { axes, .. } if axes.is_empty() => return Rewrite::Use(args[0]),
            Op::Slice { starts, ends } if starts.iter().all(|&s| s == 0) && *ends == self.graph.ty(args[0]).shape => return Rewrite::Use(args[0]),
            Op::Concat { .. } if args.len() == 1 => return Rewrite::Use(args[0]),
            _ => {}
        }
        Rewrite::Build(op.clone(), args.to_vec())
    }
}

/// One pass: copies the live nodes in order, each through the rewrites, folding and sharing.
fn rebuild(old: &Graph) -> Graph {
    let live = old.live();
    let mut b = Builder {
        graph: Graph::new(old.name.clone()),
        facts: Vec::new(),
        memo: HashMap::new(),
    };
    b.graph.input_names = old.input_names.clone();
    let mut map: Vec<Option<NodeId>> = vec![None; old.len()];
    for id in old.ids() {
        if !live[id.index()] {
            continue;
        }
        let node = old.node(id);
        b.graph.current_span = node.span;
        let args: Vec<NodeId> = old.args(id).iter().map(|a| map[a.index()].expect("operands come first")).collect();
        let mut rewrite = b.rewrite(&node.op, &args);
        // A rule may produce a new op that another rule simplifies further.
        let new = loop {
            match rewrite {
                Rewrite::Use(n) => break n,
                Rewrite::Build(op, args) => match b.rewrite(&op, &args) {
                    Rewrite::Build(op2, args2) if op2 == op && args2 == args => break b.add(op, args),
                    r => rewrite = r,
                },
            }
        };
        map[id.index()] = Some(new);
    }
    b.graph.outputs = old.outputs.iter().map(|o| map[o.index()].expect("outputs are live")).collect();
    b.graph.current_span = None;
    b.graph
}
