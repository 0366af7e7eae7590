//! Reverse mode as linearize + transpose (DESIGN.md §3, after JAX's autodidax).
//!
//! 1. Linearize: the JVP graph of `g` with tangent inputs for the inputs to differentiate,
//!    simplified. Partial evaluation splits it: a node is *linear* if it depends on a tangent
//!    input, *primal* otherwise.
//! 2. Transpose: the primal nodes are copied; then the linear nodes are walked backwards from
//!    the tangent outputs, each applying its op's transpose rule to its cotangent and adding
//!    the results into the cotangents of its linear operands.
//!
//! Only linear ops need transpose rules, and by construction every linear node is one: `neg`,
//! `add`, `sub`, `mul` and `div` by a primal value, `select` on a primal condition, float
//! `convert`, the shape ops, `gather` (its transpose scatters with a `select` against an
//! `iota`), `reduce_sum` and `matmul` with one primal side. A linear node of any other kind
//! means a tangent was used non-linearly — possible only in a user's `with jvp` rule — and is
//! reported as [`NotLinear`].

use gradc_runtime::tensor::DType;

use super::emit::Emitter;
use super::jvp::jvp;
use super::simplify::simplify;
use crate::ir::{BinaryOp, Graph, NodeId, Op, ReduceOp, Source, Type};
use crate::source::Span;

/// A tangent used non-linearly (a `with jvp` rule that is not linear in its tangents).
#[derive(Clone, Debug)]
pub struct NotLinear {
    pub op: &'static str,
    pub span: Option<Span>,
}

/// Sources of the temporary tangent inputs of the linearized graph; far above any real
/// argument number.
const TANGENT_BASE: u32 = 1 << 30;

/// The VJP graph of `g`: its inputs, plus one cotangent input per output of `g` (sources
/// `cotangents[j]`); its outputs are `g`'s outputs, then the cotangent of each input in `wrt`
/// (given with its type: an input that no output depends on may be absent from `g`).
pub fn vjp(g: &Graph, wrt: &[(Source, Type)], cotangents: &[Source]) -> Result<Graph, NotLinear> {
    let seeds: Vec<(Source, Source)> =
        wrt.iter().enumerate().map(|(j, (s, _))| (*s, Source::Arg(TANGENT_BASE + j as u32))).collect();
    let lin = simplify(&jvp(g, &seeds));
    transpose(&lin, g.outputs.len(), wrt, cotangents)
}

fn transpose(lin: &Graph, n_out: usize, wrt: &[(Source, Type)], cotangents: &[Source]) -> Result<Graph, NotLinear> {
    let is_tangent = |s: &Source| matches!(s, Source::Arg(k) if *k >= TANGENT_BASE);
    // Partial evaluation: which nodes depend on a tangent input.
    let mut linear = vec![false; lin.len()];
    for id in lin.ids() {
        linear[id.index()] = match lin.op(id) {
            Op::Input { source, .. } => is_tangent(source),
            _ => lin.args(id).iter().any(|a| linear[a.index()]),
        };
    }
    let mut e = Emitter::new(lin.name.replacen("jvp(", "vjp(", 1));
    e.graph.input_names = lin.input_names.clone();
    // The primal part, copied.
    let mut primal: Vec<Option<NodeId>> = vec![None; lin.len()];
    for id in lin.ids() {
        if linear[id.index()] {
            continue;
        }
        let node = lin.node(id);
        e.set_span(node.span);
        let args: Vec<NodeId> = lin.args(id).iter().map(|a| primal[a.index()].expect("primal operands are primal")).collect();
        primal[id.index()] = Some(e.add(node.op.clone(), &args));
    }
    // Seed the tangent outputs with the cotangent inputs.
    let mut ct: Vec<Option<NodeId>> = vec![None; lin.len()];
    for (j, &o) in lin.outputs[n_out..].iter().enumerate() {
        let ty = lin.ty(o).clone();
        let c = e.add(Op::Input { source: cotangents[j], ty }, &[]);
        if linear[o.index()] {
            accumulate(&mut e, &mut ct, o, c);
        }
    }
    // The linear part, backwards.
    for id in lin.ids().collect::<Vec<_>>().into_iter().rev() {
        let (true, Some(c)) = (linear[id.index()], ct[id.index()]) else { continue };
        let node = lin.node(id);
        e.set_span(node.span);
        let args = lin.args(id);
        let lin_arg = |i: usize| linear[args[i].index()];
        let p = |i: usize| primal[args[i].index()].expect("a primal operand");
        let mut give = |e: &mut Emitter, i: usize, v: NodeId| accumulate(e, &mut ct, args[i], v);
        let not_linear = || NotLinear { op: node.op.name(), span: node.span };
        match &node.op {
            Op::Input { .. } => {}
            Op::Unary(crate::ir::UnaryOp::Neg) => {
                let v = e.neg(c);
                give(&mut e, 0, v);
            }
            Op::Binary(BinaryOp::Add) => {
                for i in 0..2 {
                    if lin_arg(i) {
                        give(&mut e, i, c);
                    }
                }
            }
            Op::Binary(BinaryOp::Sub) => {
                if lin_arg(0) {
                    give(&mut e, 0, c);
                }
                if lin_arg(1) {
                    let v = e.neg(c);
                    give(&mut e, 1, v);
                }
            }
            Op::Binary(BinaryOp::Mul) => match (lin_arg(0), lin_arg(1)) {
                (true, false) => {
                    let v = e.mul(c, p(1));
                    give(&mut e, 0, v);
                }
                (false, true) => {
                    let v = e.mul(p(0), c);
                    give(&mut e, 1, v);
                }
                _ => return Err(not_linear()),
            },
            Op::Binary(BinaryOp::Div) if !lin_arg(1) => {
                let v = e.div(c, p(1));
                give(&mut e, 0, v);
            }
            Op::Select if !lin_arg(0) => {
                let zero = e.zeros_like(c);
                if lin_arg(1) {
                    let v = e.select(p(0), c, zero);
                    give(&mut e, 1, v);
                }
                if lin_arg(2) {
                    let v = e.select(p(0), zero, c);
                    give(&mut e, 2, v);
                }
            }
            Op::Convert { to } if to.is_float() && lin.ty(args[0]).dtype.is_float() => {
                let v = e.convert(c, lin.ty(args[0]).dtype);
                give(&mut e, 0, v);
            }
            Op::Broadcast { shape } => {
                let from = lin.ty(args[0]).shape.clone();
                let v = unbroadcast(&mut e, c, &from, shape);
                give(&mut e, 0, v);
            }
            Op::Reshape { .. } => {
                let v = e.reshape(c, &lin.ty(args[0]).shape);
                give(&mut e, 0, v);
            }
            Op::Transpose { perm } => {
                let mut inverse = vec![0; perm.len()];
                for (i, &p) in perm.iter().enumerate() {
                    inverse[p] = i;
                }
                let v = e.add(Op::Transpose { perm: inverse }, &[c]);
                give(&mut e, 0, v);
            }
            Op::Slice { starts, ends } => {
                let v = pad(&mut e, c, starts, ends, &lin.ty(args[0]).shape);
                give(&mut e, 0, v);
            }
            Op::Concat { axis } => {
                let mut offset = 0;
                for i in 0..args.len() {
                    let shape = lin.ty(args[i]).shape.clone();
                    if lin_arg(i) {
                        let mut starts = vec![0; shape.len()];
                        let mut ends = e.shape(c);
                        starts[*axis] = offset;
                        ends[*axis] = offset + shape[*axis];
                        let v = e.add(Op::Slice { starts, ends }, &[c]);
                        give(&mut e, i, v);
                    }
                    offset += shape[*axis];
                }
            }
            Op::Gather { axis } if !lin_arg(1) => {
                let v = scatter(&mut e, c, p(1), *axis, lin.ty(args[0]));
                give(&mut e, 0, v);
            }
            Op::Reduce { op: ReduceOp::Sum, axes } => {
                let v = e.unreduce(c, axes, &lin.ty(args[0]).shape);
                give(&mut e, 0, v);
            }
            Op::MatMul => match (lin_arg(0), lin_arg(1)) {
                (true, false) => {
                    let bt = e.transpose_last2(p(1));
                    let v = e.add(Op::MatMul, &[c, bt]);
                    give(&mut e, 0, v);
                }
                (false, true) => {
                    let at = e.transpose_last2(p(0));
                    let v = e.add(Op::MatMul, &[at, c]);
                    give(&mut e, 1, v);
                }
                _ => return Err(not_linear()),
            },
            _ => return Err(not_linear()),
        }
    }
    e.set_span(None);
    let mut outputs: Vec<NodeId> =
        lin.outputs[..n_out].iter().map(|o| primal[o.index()].expect("primal outputs are primal")).collect();
    for (j, (_, wrt_ty)) in wrt.iter().enumerate() {
        let source = Source::Arg(TANGENT_BASE + j as u32);
        let tangent_input = lin.inputs().find(|(_, s)| *s == source).map(|(n, _)| n);
        let out = match tangent_input.and_then(|n| ct[n.index()]) {
            Some(c) => c,
            None => e.splat(wrt_ty, 0.0),
        };
        outputs.push(out);
    }
    e.graph.outputs = outputs;
    Ok(e.graph)
}

fn accumulate(e: &mut Emitter, ct: &mut [Option<NodeId>], target: NodeId, v: NodeId) {
    ct[target.index()] = Some(match ct[target.index()] {
        Some(prev) => e.add2(prev, v),
        None => v,
    });
}

/// The transpose of broadcasting `from` to `to`: sum over the added and stretched axes.
fn unbroadcast(e: &mut Emitter, c: NodeId, from: &[usize], to: &[usize]) -> NodeId {
    let lead = to.len() - from.len();
    let axes: Vec<usize> = (0..to.len()).filter(|&i| i < lead || (from[i - lead] == 1 && to[i] != 1)).collect();
    let summed = e.reduce_sum(c, axes);
    e.reshape(summed, from)
}

/// The transpose of a slice: the cotangent placed in a zero tensor of the operand's shape
/// (a `concat` with zero blocks, axis by axis).
pub(crate) fn pad(e: &mut Emitter, c: NodeId, starts: &[usize], ends: &[usize], full: &[usize]) -> NodeId {
    let mut v = c;
    for axis in 0..full.len() {
        let (lo, hi) = (starts[axis], full[axis] - ends[axis]);
        if lo == 0 && hi == 0 {
            continue;
        }
        let dtype = e.ty(v).dtype;
        let zeros = |e: &mut Emitter, width: usize, v: NodeId| {
            let mut shape = e.shape(v);
            shape[axis] = width;
            e.splat(&Type::new(dtype, shape), 0.0)
        };
        let mut parts = Vec::with_capacity(3);
        if lo > 0 {
            parts.push(zeros(e, lo, v));
        }
        parts.push(v);
        if hi > 0 {
            parts.push(zeros(e, hi, v));
        }
        v = e.add(Op::Concat { axis }, &parts);
    }
    v
}

/// The transpose of `gather(x, i)` along `axis`: the cotangent at position `i`, zeros
/// elsewhere, as a `select` against an `iota` (a scatter-add of one slice).
pub(crate) fn scatter(e: &mut Emitter, c: NodeId, i: NodeId, axis: usize, x: &Type) -> NodeId {
    let mut expanded = e.shape(c);
    expanded.insert(axis, 1);
    let c = e.reshape(c, &expanded);
    let c = e.broadcast(c, &x.shape);
    let iota = e.add(Op::Iota { ty: Type::new(DType::I64, x.shape.clone()), axis }, &[]);
    let ib = e.broadcast(i, &x.shape);
    let hit = e.binary(BinaryOp::Eq, iota, ib);
    let zero = e.zeros_like(c);
    e.select(hit, c, zero)
}

/// Checks that a forward rule's graph (inputs `Arg(0..n)` primals, `Arg(n..)` tangents;
/// outputs tangents) is linear in its tangents, by transposing it.
pub fn check_linear(rule: &Graph, n_primals: usize) -> Result<(), NotLinear> {
    let mut e = Emitter::new(rule.name.clone());
    let mut inputs: Vec<(u32, NodeId)> = Vec::new();
    let outs = super::inline::inline(&mut e, rule, &mut |e, k| {
        if let Some(&(_, n)) = inputs.iter().find(|(j, _)| *j == k) {
            return n;
        }
        let ty = rule.ids().find_map(|n| match rule.op(n) {
            Op::Input { source: Source::Arg(j), ty } if *j == k => Some(ty.clone()),
            _ => None,
        });
        let ty = ty.expect("an inlined input exists");
        let source = if (k as usize) < n_primals { Source::Arg(k) } else { Source::Arg(TANGENT_BASE + k - n_primals as u32) };
        let n = e.add(Op::Input { source, ty }, &[]);
        inputs.push((k, n));
        n
    });
    e.graph.outputs = outs;
    let cts: Vec<Source> = (0..rule.outputs.len()).map(|j| Source::Arg(j as u32 + (1 << 28))).collect();
    transpose(&e.graph, 0, &[], &cts).map(|_| ())
}
