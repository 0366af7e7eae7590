//! Batching: a graph to the graph that applies it to every slice along one axis of some of
//! its inputs at once (`vmap`, LANGUAGE.md §7), in JAX's style.
//!
//! Every value of the old graph becomes a value of the new one and a *batch dimension*: the
//! axis of the new value that holds the batch, or `None` for a value that is the same for
//! every slice (constants, params, data, inputs not batched, and everything computed from
//! those alone). Unbatched values stay unbatched — they cost what they cost in the original
//! graph — and an op sees a batched operand only where one of its operands really varies.
//! Each op of the op table has a batching rule ([`Batcher::rule`]) that emits ops of the op
//! table only, so the result verifies, simplifies, differentiates and compiles like any
//! other graph: `vmap` composes with every derivative operator in both directions.
//!
//! The rules keep the batch where it is when they can (elementwise ops, slices, reductions,
//! gathers at an unbatched index) and move it with one `transpose` when the op needs it in a
//! given place (reshape, broadcast). Matrix products fold the batch into the rows or columns
//! of one GEMM (`[B,m,k]@[k,n]` is `[B·m,k]@[k,n]`), or into the batch of a rank-3 one.
//! A gather at a batched index has no primitive: it selects the indexed entry with a one-hot
//! mask and sums over the axis (exact: every other entry is `-0.0`, the additive identity),
//! after a bounds check that still fails at run time, as the unbatched gather would.
//! A `custom_jvp` op gets its rule graph batched too, so derivatives of a batched function
//! keep using the user's rule. Nothing is unrolled per slice.
//!
//! Unbatched values are computed once whatever the batch size, so with zero slices a part of
//! the function that does not depend on the batch still runs (and can fail), as in JAX.

use std::collections::HashMap;
use std::sync::Arc;

use gradc_runtime::tensor::DType;

use super::emit::Emitter;
use crate::ir::op::Rule;
use crate::ir::{BinaryOp, Graph, NodeId, Op, ReduceOp, Source, Type};

/// A value of the batched graph and the axis that holds its batch (`None`: unbatched).
type Val = (NodeId, Option<usize>);

/// The batched graph of `g`: each input listed in `batched` gets a new axis of `size` entries
/// at the given position; the others are the same for every slice. Outputs: `g`'s outputs,
/// each with the batch as its first axis (broadcast where an output does not depend on a
/// batched input).
pub fn vmap(g: &Graph, batched: &[(Source, usize)], size: usize) -> Graph {
    let mut b = Batcher { e: Emitter::new(format!("vmap({})", g.name)), size, rules: HashMap::new() };
    b.e.graph.input_names = g.input_names.clone();
    let live = g.live();
    let mut vals: Vec<Option<Val>> = vec![None; g.len()];
    for id in g.ids() {
        if !live[id.index()] {
            continue;
        }
        let node = g.node(id);
        b.e.set_span(node.span);
        let v = match &node.op {
            Op::Input { source, ty } => match batched.iter().find(|(s, _)| s == source) {
                Some(&(_, axis)) => {
                    let mut shape = ty.shape.clone();
                    shape.insert(axis, size);
                    (b.e.add(Op::Input { source: *source, ty: Type::new(ty.dtype, shape) }, &[]), Some(axis))
                }
                None => (b.e.add(node.op.clone(), &[]), None),
            },
            op => {
                let args: Vec<Val> = g.args(id).iter().map(|a| vals[a.index()].expect("operands first")).collect();
                if args.iter().all(|(_, d)| d.is_none()) {
                    let ns: Vec<NodeId> = args.iter().map(|a| a.0).collect();
                    (b.e.add(op.clone(), &ns), None)
                } else {
                    b.rule(op, &args)
                }
            }
        };
        vals[id.index()] = Some(v);
    }
    b.e.set_span(None);
    let outs: Vec<NodeId> = g.outputs.iter().map(|o| vals[o.index()].expect("outputs are live")).collect::<Vec<_>>().into_iter().map(|v| b.at(v, 0)).collect();
    b.e.graph.outputs = outs;
    b.e.graph
}

struct Batcher {
    e: Emitter,
    /// The number of slices.
    size: usize,
    /// Rule graphs of `custom_jvp` ops already batched, by the identity of the original.
    rules: HashMap<*const Graph, Rule>,
}

/// Where axis `a` of an unbatched value is once a batch axis is inserted at `d`.
fn shift(a: usize, d: usize) -> usize {
    if a >= d { a + 1 } else { a }
}

impl Batcher {
    /// `x` with its batch axis moved from `from` to `to` (a transpose, or nothing).
    fn moved(&mut self, x: NodeId, from: usize, to: usize) -> NodeId {
        if from == to {
            return x;
        }
        let mut perm: Vec<usize> = (0..self.e.ty(x).rank()).filter(|&i| i != from).collect();
        perm.insert(to, from);
        self.e.add(Op::Transpose { perm }, &[x])
    }

    /// The value with its batch axis at `to`: moved there, or, for an unbatched value,
    /// broadcast along a new axis there (the one place an unbatched value is copied).
    fn at(&mut self, (x, d): Val, to: usize) -> NodeId {
        match d {
            Some(d) => self.moved(x, d, to),
            None => {
                let shape = self.e.shape(x);
                let mut full = shape.clone();
                full.insert(to, self.size);
                if to == 0 {
                    return self.e.broadcast(x, &full);
                }
                let mut ones = shape;
                ones.insert(to, 1);
                let r = self.e.reshape(x, &ones);
                self.e.broadcast(r, &full)
            }
        }
    }

    /// The batching rule of `op`; at least one operand is batched.
    fn rule(&mut self, op: &Op, args: &[Val]) -> Val {
        let n = self.size;
        let first = args.iter().find_map(|a| a.1).expect("some operand is batched");
        match op {
            Op::Input { .. } | Op::Const(_) | Op::Iota { .. } => unreachable!("leaves have no operands"),
            Op::Unary(_) | Op::PowInt(_) | Op::Convert { .. } => (self.e.add(op.clone(), &[args[0].0]), args[0].1),
            // Elementwise: every operand batched at the same axis.
            Op::Binary(_) | Op::Select => {
                let xs: Vec<NodeId> = args.iter().map(|&a| self.at(a, first)).collect();
                (self.e.add(op.clone(), &xs), Some(first))
            }
            Op::Broadcast { shape } => {
                let x = self.at(args[0], 0);
                let mut s = self.e.shape(x);
                s.splice(1..1, std::iter::repeat_n(1, shape.len() + 1 - s.len()));
                let r = self.e.reshape(x, &s);
                let full: Vec<usize> = std::iter::once(n).chain(shape.iter().copied()).collect();
                (self.e.broadcast(r, &full), Some(0))
            }
            Op::Reshape { shape } => {
                let x = self.at(args[0], 0);
                let full: Vec<usize> = std::iter::once(n).chain(shape.iter().copied()).collect();
                (self.e.reshape(x, &full), Some(0))
            }
            Op::Transpose { perm } => {
                let perm: Vec<usize> = std::iter::once(first).chain(perm.iter().map(|&p| shift(p, first))).collect();
                (self.e.add(Op::Transpose { perm }, &[args[0].0]), Some(0))
            }
            Op::Slice { starts, ends } => {
                let (mut starts, mut ends) = (starts.clone(), ends.clone());
                starts.insert(first, 0);
                ends.insert(first, n);
                (self.e.add(Op::Slice { starts, ends }, &[args[0].0]), Some(first))
            }
            Op::Concat { axis } => {
                let xs: Vec<NodeId> = args.iter().map(|&a| self.at(a, first)).collect();
                (self.e.add(Op::Concat { axis: shift(*axis, first) }, &xs), Some(first))
            }
            Op::Gather { axis } => match args[1].1 {
                None => {
                    let axis = shift(*axis, first);
                    let d = if first < axis { first } else { first - 1 };
                    (self.e.add(Op::Gather { axis }, &[args[0].0, args[1].0]), Some(d))
                }
                Some(_) => (self.gather_at_batched_index(args[0], args[1].0, *axis), Some(0)),
            },
            Op::Reduce { op: r, axes } => {
                let axes: Vec<usize> = axes.iter().map(|&a| shift(a, first)).collect();
                let d = first - axes.iter().filter(|&&a| a < first).count();
                (self.e.add(Op::Reduce { op: *r, axes }, &[args[0].0]), Some(d))
            }
            Op::ArgMax { axis: Some(a) } => {
                let a = shift(*a, first);
                let d = if a < first { first - 1 } else { first };
                (self.e.add(Op::ArgMax { axis: Some(a) }, &[args[0].0]), Some(d))
            }
            Op::ArgMax { axis: None } => {
                // The row-major index within each slice: flatten every slice to a row.
                let x = self.at(args[0], 0);
                let len = self.e.shape(x)[1..].iter().product();
                let rows = self.e.reshape(x, &[n, len]);
                (self.e.add(Op::ArgMax { axis: Some(1) }, &[rows]), Some(0))
            }
            Op::MatMul => self.matmul(args[0], args[1]),
            Op::Custom { rule, output } => {
                let xs: Vec<NodeId> = args.iter().map(|&a| self.at(a, 0)).collect();
                let rule = self.batched_rule(rule);
                (self.e.add(Op::Custom { rule, output: *output }, &xs), Some(0))
            }
        }
    }

    /// `a @ b` with either or both batched: one GEMM with the batch folded into its rows
    /// (`a` batched), its columns (`b` batched) or its batch (both).
    fn matmul(&mut self, a: Val, b: Val) -> Val {
        let rank = self.e.ty(a.0).rank() - usize::from(a.1.is_some());
        let mm = |me: &mut Self, x: NodeId, y: NodeId| me.e.add(Op::MatMul, &[x, y]);
        match (a.1, b.1) {
            (Some(da), Some(db)) => {
                // The batch joins the matmul's own batch axis (rank 3) or becomes it (rank 2).
                let d = if da == db && da + 1 < rank { da } else { 0 };
                let (x, y) = (self.at(a, d), self.at(b, d));
                if rank == 2 {
                    return (mm(self, x, y), Some(0));
                }
                let (xs, ys) = (self.e.shape(x), self.e.shape(y));
                let x = self.e.reshape(x, &[xs[0] * xs[1], xs[2], xs[3]]);
                let y = self.e.reshape(y, &[ys[0] * ys[1], ys[2], ys[3]]);
                let z = mm(self, x, y);
                (self.e.reshape(z, &[xs[0], xs[1], xs[2], ys[3]]), Some(d))
            }
            (Some(da), None) => {
                // Rows: the batch next to `m`, merged with it.
                let c = rank - 2;
                let d = if da == c || da == c + 1 { da } else { c };
                let x = self.at(a, d);
                let xs = self.e.shape(x);
                let k = xs[c + 2];
                let n = *self.e.shape(b.0).last().expect("matmul operands have rank 2 or 3");
                let mut merged = xs[..c].to_vec();
                merged.extend([xs[c] * xs[c + 1], k]);
                let x = self.e.reshape(x, &merged);
                let z = mm(self, x, b.0);
                let mut out = xs[..c + 2].to_vec();
                out.push(n);
                (self.e.reshape(z, &out), Some(d))
            }
            (None, Some(db)) => {
                // Columns: the batch next to `n`, merged with it.
                let c = rank - 2;
                let d = if db == c + 1 || db == c + 2 { db } else { c + 1 };
                let y = self.at(b, d);
                let ys = self.e.shape(y);
                let m = self.e.shape(a.0)[c];
                let mut merged = ys[..c + 1].to_vec();
                merged.push(ys[c + 1] * ys[c + 2]);
                let y = self.e.reshape(y, &merged);
                let z = mm(self, a.0, y);
                let mut out = ys[..c].to_vec();
                out.extend([m, ys[c + 1], ys[c + 2]]);
                (self.e.reshape(z, &out), Some(d))
            }
            (None, None) => unreachable!("some operand is batched"),
        }
    }

    /// `gather{axis}(x, i)` with `i` batched (`[B]`): a one-hot mask along the axis, the
    /// other entries replaced by the identity of the sum (`-0.0`: `v + -0.0` is `v`, bit for
    /// bit, NaN and `-0.0` included) and summed away. Result batched at axis 0.
    fn gather_at_batched_index(&mut self, x: Val, i: NodeId, axis: usize) -> NodeId {
        let n = self.size;
        let x = self.at(x, 0);
        let axis = axis + 1;
        let shape = self.e.shape(x);
        let len = shape[axis];
        let i = self.bounds_checked(i, len);
        let iota = self.e.add(Op::Iota { ty: Type::new(DType::I64, vec![n, len]), axis: 1 }, &[]);
        let ib = self.e.reshape(i, &[n, 1]);
        let ib = self.e.broadcast(ib, &[n, len]);
        let hit = self.e.binary(BinaryOp::Eq, iota, ib);
        let mut kept = vec![1; shape.len()];
        kept[0] = n;
        kept[axis] = len;
        let hit = self.e.reshape(hit, &kept);
        let hit = self.e.broadcast(hit, &shape);
        let dtype = self.e.ty(x).dtype;
        let (fill, reduce) = match dtype {
            DType::Bool => (0.0, ReduceOp::Any),
            DType::I64 => (0.0, ReduceOp::Sum),
            _ => (-0.0, ReduceOp::Sum),
        };
        let fill = self.e.splat(&Type::new(dtype, shape), fill);
        let picked = self.e.select(hit, x, fill);
        self.e.add(Op::Reduce { op: reduce, axes: vec![axis] }, &[picked])
    }

    /// `i` (`[B]`, `i64`) unchanged, but made to depend on an unbatched `gather` that fails
    /// — with the first offending index, as the first failing slice would — when any entry is
    /// outside `0..len`. The mask of a batched gather would otherwise just miss.
    fn bounds_checked(&mut self, i: NodeId, len: usize) -> NodeId {
        let n = self.size;
        if n == 0 {
            return i;
        }
        let ty = self.e.ty(i).clone();
        let zero = self.e.splat(&ty, 0.0);
        let top = self.e.splat(&ty, len as f64);
        let low = self.e.binary(BinaryOp::Lt, i, zero);
        let high = self.e.binary(BinaryOp::Ge, i, top);
        let bad = self.e.binary(BinaryOp::Or, low, high);
        let any = self.e.add(Op::Reduce { op: ReduceOp::Any, axes: vec![0] }, &[bad]);
        let flags = self.e.convert(bad, DType::I64);
        let first_bad = self.e.add(Op::ArgMax { axis: None }, &[flags]);
        let value = self.e.add(Op::Gather { axis: 0 }, &[i, first_bad]);
        let zero_index = self.e.scalar(DType::I64, 0.0);
        let probe_at = self.e.select(any, value, zero_index);
        // Reads entry 0 (which is 0) when every index is in range.
        let positions = self.e.add(Op::Iota { ty: Type::new(DType::I64, vec![len]), axis: 0 }, &[]);
        let probe = self.e.add(Op::Gather { axis: 0 }, &[positions, probe_at]);
        let probe = self.e.broadcast(probe, &[n]);
        self.e.add2(i, probe)
    }

    /// The rule graph of a `custom_jvp` op, batched along axis 0 of every input (primals and
    /// tangents alike: the batched op's operands are all batched at 0).
    fn batched_rule(&mut self, rule: &Rule) -> Rule {
        let key = Arc::as_ptr(&rule.graph);
        if let Some(r) = self.rules.get(&key) {
            return r.clone();
        }
        let batched: Vec<(Source, usize)> = rule
            .graph
            .inputs()
            .filter_map(|(_, s)| matches!(s, Source::Arg(_)).then_some((s, 0)))
            .collect();
        let g = super::simplify::simplify(&vmap(&rule.graph, &batched, self.size));
        let r = Rule { graph: Arc::new(g), name: format!("vmap({})", rule.name).into() };
        self.rules.insert(key, r.clone());
        r
    }
}
