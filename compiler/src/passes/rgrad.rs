//! The reverse derivative of a `bool` circuit over Z2 (DESIGN.md §3 "Boolean reverse
//! derivative"; reverse derivative categories, POLY over Z2: `+` is XOR, `·` is AND).
//!
//! `R[f](x, dy) = J_f(x)ᵀ dy`, built compositionally: the primal graph is copied, then walked
//! backwards from the outputs, each op applying its Z2 rule ([`rule`]) to its cotangent and
//! XOR-ing the results into the cotangents of its operands. XOR-accumulation at a value used
//! several times is the rule of `copy` (`d1 ⊕ d2`), so the result is the chain rule applied
//! gate by gate — formal, not the Boolean difference: `x & x` has derivative `x·dz ⊕ x·dz = 0`
//! (ORACLES.md R2). The simplifier must therefore never rewrite `x & x` or `x | x` to `x`.
//!
//! Cotangents flow only through `bool` values that depend on a differentiated input. A `bool`
//! computed from non-`bool` values (a comparison of floats, a conversion to `bool`) is a
//! constant to R, and nothing flows back out of `bool` into numbers (`convert` to `f64`, sums
//! of bits): numbers are not Z2 polynomials. Every rule is an AND with primal values and XORs
//! of cotangents, so R is linear in `dy` over Z2, and R emits only ops of the op table, so its
//! result can be transformed again.

use gradc_runtime::tensor::DType;

use super::emit::Emitter;
use super::transpose::{pad, scatter};
use crate::ir::{BinaryOp, Graph, NodeId, Op, ReduceOp, Source, Type, UnaryOp};

/// The reverse-derivative graph of `g` over Z2. Its inputs are `g`'s, plus one cotangent input
/// per output of `g` (sources `cotangents[j]`, of output `j`'s type); its outputs are `g`'s
/// outputs, then the cotangent of each input in `wrt` (given with its type, since an input no
/// output depends on may be absent; its cotangent is all false). Inputs in `wrt` that are not
/// `bool` get no cotangent flow (all false).
pub fn rgrad(g: &Graph, wrt: &[(Source, Type)], cotangents: &[Source]) -> Graph {
    let mut e = Emitter::new(format!("rgrad({})", g.name));
    e.graph.input_names = g.input_names.clone();
    let live = g.live();
    // The primal part, copied; `active` marks the bool values that depend on a `wrt` input.
    let mut primal: Vec<Option<NodeId>> = vec![None; g.len()];
    let mut active = vec![false; g.len()];
    for id in g.ids() {
        if !live[id.index()] {
            continue;
        }
        let node = g.node(id);
        e.set_span(node.span);
        let args: Vec<NodeId> = g.args(id).iter().map(|a| primal[a.index()].expect("operands first")).collect();
        primal[id.index()] = Some(e.add(node.op.clone(), &args));
        active[id.index()] = node.ty.dtype == DType::Bool
            && match &node.op {
                Op::Input { source, .. } => wrt.iter().any(|(s, _)| s == source),
                _ => g.args(id).iter().any(|a| active[a.index()]),
            };
    }
    // Seed the outputs with the cotangent inputs (an output listed twice gets both: copy).
    let mut ct: Vec<Option<NodeId>> = vec![None; g.len()];
    for (j, &o) in g.outputs.iter().enumerate() {
        let c = e.add(Op::Input { source: cotangents[j], ty: g.ty(o).clone() }, &[]);
        if active[o.index()] {
            accumulate(&mut e, &mut ct, o, c);
        }
    }
    // The reverse sweep.
    for id in g.ids().collect::<Vec<_>>().into_iter().rev() {
        let (true, Some(c)) = (active[id.index()], ct[id.index()]) else { continue };
        let node = g.node(id);
        e.set_span(node.span);
        let args = g.args(id);
        let x: Vec<NodeId> = args.iter().map(|a| primal[a.index()].expect("live operands")).collect();
        for (i, v) in rule(&mut e, &node.op, g, &args, &x, c) {
            if active[args[i].index()] {
                accumulate(&mut e, &mut ct, args[i], v);
            }
        }
    }
    e.set_span(None);
    let mut outputs: Vec<NodeId> = g.outputs.iter().map(|o| primal[o.index()].expect("outputs are live")).collect();
    for (source, ty) in wrt {
        let input = g.inputs().find(|(n, s)| s == source && live[n.index()]).map(|(n, _)| n);
        let out = match input.and_then(|n| ct[n.index()]) {
            Some(c) => c,
            None => e.splat(&Type::new(DType::Bool, ty.shape.clone()), 0.0),
        };
        outputs.push(out);
    }
    e.graph.outputs = outputs;
    e.graph
}

/// XOR `v` into the cotangent of `target` (the rule of `copy`).
fn accumulate(e: &mut Emitter, ct: &mut [Option<NodeId>], target: NodeId, v: NodeId) {
    ct[target.index()] = Some(match ct[target.index()] {
        Some(prev) => e.binary(BinaryOp::Xor, prev, v),
        None => v,
    });
}

/// The Z2 rule of `y = op(x…)` with `bool` result: the cotangent `(operand, value)` pairs for
/// cotangent `c` of `y`. `args` are the operands in `g` (for their types), `x` their copies.
/// Operands that are not active are skipped by the caller, so a rule may offer a cotangent
/// for an operand that cannot take one (an `i64` index never is active).
fn rule(e: &mut Emitter, op: &Op, g: &Graph, args: &[NodeId], x: &[NodeId], c: NodeId) -> Vec<(usize, NodeId)> {
    use BinaryOp as B;
    match op {
        // Leaves: an input's cotangent is the result; constants take nothing.
        Op::Input { .. } | Op::Const(_) | Op::Iota { .. } => vec![],
        // NOT x = 1 ⊕ x: the constant drops out.
        Op::Unary(UnaryOp::Not) => vec![(0, c)],
        Op::Binary(b) => match b {
            // x·y: (y·dz, x·dz).
            B::And => {
                let d0 = e.binary(B::And, x[1], c);
                let d1 = e.binary(B::And, x[0], c);
                vec![(0, d0), (1, d1)]
            }
            // x + y + x·y: ((1 ⊕ y)·dz, (1 ⊕ x)·dz).
            B::Or => {
                let n1 = e.unary(UnaryOp::Not, x[1]);
                let n0 = e.unary(UnaryOp::Not, x[0]);
                let d0 = e.binary(B::And, n1, c);
                let d1 = e.binary(B::And, n0, c);
                vec![(0, d0), (1, d1)]
            }
            // XOR, and on bools `!=` (XOR) and `==` (XNOR, 1 ⊕ x ⊕ y): (dz, dz).
            B::Xor | B::Eq | B::Ne => vec![(0, c), (1, c)],
            // Comparisons of numbers: their operands are never bool-active.
            B::Lt | B::Le | B::Gt | B::Ge => vec![],
            // Arithmetic has no bool results (the op table refuses bool operands).
            B::Add | B::Sub | B::Mul | B::Div | B::Rem | B::Pow | B::Max | B::Min => vec![],
        },
        // The multiplexer z = s·a ⊕ (1 ⊕ s)·b: ds = (a ⊕ b)·dz, da = s·dz, db = (1 ⊕ s)·dz.
        Op::Select => {
            let diff = e.binary(B::Xor, x[1], x[2]);
            let ds = e.binary(B::And, diff, c);
            let da = e.binary(B::And, x[0], c);
            let ns = e.unary(UnaryOp::Not, x[0]);
            let db = e.binary(B::And, ns, c);
            vec![(0, ds), (1, da), (2, db)]
        }
        // bool → bool is the identity; from numbers the operand is inactive.
        Op::Convert { .. } => vec![(0, c)],
        // Broadcasting copies each element; the copies' cotangents XOR together: a parity
        // reduction over the added and stretched axes.
        Op::Broadcast { shape } => {
            let from = g.ty(args[0]).shape.clone();
            let lead = shape.len() - from.len();
            let axes: Vec<usize> = (0..shape.len()).filter(|&i| i < lead || (from[i - lead] == 1 && shape[i] != 1)).collect();
            let reduced = if axes.is_empty() { c } else { e.add(Op::Reduce { op: ReduceOp::Parity, axes }, &[c]) };
            vec![(0, e.reshape(reduced, &from))]
        }
        Op::Reshape { .. } => vec![(0, e.reshape(c, &g.ty(args[0]).shape))],
        Op::Transpose { perm } => {
            let mut inverse = vec![0; perm.len()];
            for (i, &p) in perm.iter().enumerate() {
                inverse[p] = i;
            }
            vec![(0, e.add(Op::Transpose { perm: inverse }, &[c]))]
        }
        // The slice's cotangent in place, false elsewhere.
        Op::Slice { starts, ends } => vec![(0, pad(e, c, starts, ends, &g.ty(args[0]).shape))],
        Op::Concat { axis } => {
            let mut offset = 0;
            let mut out = Vec::with_capacity(args.len());
            for (i, &a) in args.iter().enumerate() {
                let width = g.ty(a).shape[*axis];
                let mut starts = vec![0; g.ty(a).rank()];
                let mut ends = e.shape(c);
                starts[*axis] = offset;
                ends[*axis] = offset + width;
                out.push((i, e.add(Op::Slice { starts, ends }, &[c])));
                offset += width;
            }
            out
        }
        // One slice read: its cotangent goes back at the index (XOR into false elsewhere).
        Op::Gather { axis } => vec![(0, scatter(e, c, x[1], *axis, g.ty(args[0])))],
        Op::Reduce { op: r, axes } => {
            let shape = g.ty(args[0]).shape.clone();
            let cb = e.unreduce(c, axes, &shape);
            match r {
                // x₁ ⊕ … ⊕ xₙ: every element gets dz.
                ReduceOp::Parity => vec![(0, cb)],
                // x₁·…·xₙ: ∂/∂xᵢ = Πⱼ≠ᵢ xⱼ, true where no *other* element is false.
                ReduceOp::All => {
                    let off = e.unary(UnaryOp::Not, x[0]);
                    vec![(0, only_self(e, off, axes, &shape, cb))]
                }
                // 1 ⊕ Π(1 ⊕ xᵢ): ∂/∂xᵢ = Πⱼ≠ᵢ (1 ⊕ xⱼ), true where no other element is true.
                ReduceOp::Any => vec![(0, only_self(e, x[0], axes, &shape, cb))],
                ReduceOp::Sum | ReduceOp::Prod | ReduceOp::Max | ReduceOp::Min => vec![],
            }
        }
        // A user forward rule on a bool value: the op is the identity on its last operand.
        Op::Custom { .. } => vec![(x.len() - 1, c)],
        // No bool results.
        Op::PowInt(_) | Op::ArgMax { .. } | Op::MatMul | Op::Unary(_) => vec![],
    }
}

/// `c` where no element of its reduction group other than itself has `mark` set:
/// (count of marks in the group − own mark) = 0, counted in `i64`.
fn only_self(e: &mut Emitter, mark: NodeId, axes: &[usize], shape: &[usize], c: NodeId) -> NodeId {
    let m = e.convert(mark, DType::I64);
    let total = e.reduce_sum(m, axes.to_vec());
    let total = e.unreduce(total, axes, shape);
    let others = e.sub(total, m);
    let zero = e.zeros_like(others);
    let none = e.binary(BinaryOp::Eq, others, zero);
    e.binary(BinaryOp::And, none, c)
}
