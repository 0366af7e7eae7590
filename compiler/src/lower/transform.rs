//! The derivative operators of LANGUAGE.md §7, as graph transforms.
//!
//! A transformed function is lowered to a graph of its own ([`FnGraph`]: its arguments'
//! leaves, then the locals a lambda captures, as `Arg` inputs), transformed by the passes —
//! nested operators transform the transformed graph — and inlined at the call. Params are
//! inputs the passes never differentiate: constants to these operators, as the language says.
//!
//! - `jvp` is the forward pass; `grad`, `value_and_grad` and `vjp` are linearize + transpose;
//! - `jacobian` stacks one forward pass per input entry, or one reverse pass per output
//!   entry, whichever is fewer (the checker chose the mode);
//! - `hessian` is forward over reverse (the forward Jacobian of `grad`), `hvp` the JVP of `grad`;
//! - `vmap` is the batching pass ([`crate::passes::vmap`]) with every argument batched and the
//!   captures not: it transforms whatever graph the inner operator produced, and any operator
//!   can transform its result.
//! - `taylor`, `diff` and `laplacian` are the Taylor pass (`passes::taylor`): the stacked
//!   coefficients, `n! c_n` along 1, and `Σᵢ 2 c₂` along each basis direction — or, with
//!   `samples = S`, the mean of `2 c₂` along `S` Rademacher directions that are a
//!   `Source::Random` input, drawn afresh at every evaluation (`lower::draws_as_args`); the
//!   Laplacians batch the order-2 graph over their directions with the vmap pass.
//! - `rgrad` is the reverse derivative over Z2 of a `bool` circuit (`passes::rgrad`).
//!
//! Every graph is simplified after each pass, which is what keeps nested derivatives small.

use std::sync::atomic::{AtomicU32, Ordering};

use gradc_runtime::tensor::Tensor;

use super::{leaf_types, Frame, LowerResult, Lowerer, Value};
use crate::check::hir::{Callee, JacobianMode, Sig, Transform};
use crate::check::types::Ty;
use crate::diag::{codes, Diagnostic};
use crate::ir::op::Const;
use crate::ir::{Graph, NodeId, Op, Source, Type};
use crate::passes::emit::Emitter;
use crate::passes::inline::inline;
use crate::passes::jvp::jvp;
use crate::passes::rgrad::rgrad;
use crate::passes::simplify::simplify;
use crate::passes::taylor::taylor;
use crate::passes::transpose::{vjp, NotLinear};
use crate::passes::vmap::vmap;
use crate::source::Span;

/// A function as a graph: inputs `Arg(0..n_params)` are its arguments' leaves, the rest
/// (`Arg(n_params..)`) the locals it captures; outputs are its result's leaves.
#[derive(Clone, Debug)]
pub struct FnGraph {
    pub graph: Graph,
    pub inputs: Vec<Type>,
    pub n_params: usize,
}

/// Temporary input numbers (tangents, cotangents) while a transform is assembled.
const BASE: u32 = 1 << 29;

impl Lowerer<'_> {
    /// A call of a derivative operator: the callee's graph, transformed, inlined here.
    pub(super) fn call_transform(&mut self, frame: &mut Frame, callee: &Callee, args: Vec<Value>, ty: &Ty, span: Span) -> LowerResult<Value> {
        let (f, captures) = self.function_graph(frame, callee, span)?;
        let mut leaves = Vec::new();
        args.iter().chain(&captures).for_each(|v| v.leaves(&mut leaves));
        let outs = self.inline_graph(&f.graph, &leaves, span)?;
        Ok(assemble(ty, &mut outs.into_iter()))
    }

    /// The graph of a callee, and the enclosing values of the locals it captures.
    pub(super) fn function_graph(&mut self, frame: &mut Frame, callee: &Callee, span: Span) -> LowerResult<(FnGraph, Vec<Value>)> {
        match callee {
            Callee::Fn(id) => {
                let graph = super::lower_fn(self.program, *id)?;
                let inputs = arg_types(&graph);
                Ok((FnGraph { n_params: inputs.len(), inputs, graph }, Vec::new()))
            }
            Callee::Lambda { params, body } => {
                // Bind, in this frame, the enclosing locals the lambda mentions, so that a
                // lambda in a lambda can capture through both.
                let mut mentioned = Vec::new();
                super::free::locals(body, &mut mentioned);
                for id in mentioned {
                    let bound = frame.locals[id.index()].is_some() || frame.outer.as_ref().is_some_and(|o| o[id.index()].is_some());
                    if bound && !params.contains(&id) {
                        self.local(frame, id, span)?;
                    }
                }
                let mut inner = Lowerer::new(self.program, "lambda");
                inner.depth = self.depth + 1;
                let mut f = Frame::new(frame.table);
                f.outer = Some(frame.locals.clone());
                for &p in params {
                    let ty = frame.table[p.index()].ty.clone();
                    let v = inner.inputs_for(&ty, span)?;
                    f.set(p, v);
                }
                let n_params = inner.next_arg as usize;
                let v = inner.expr(&mut f, body)?;
                let graph = inner.finish(&[v]);
                let inputs = arg_types(&graph);
                Ok((FnGraph { graph, inputs, n_params }, f.captures))
            }
            Callee::Transform { op, inner, inner_sig } => {
                let (f, captures) = self.function_graph(frame, inner, span)?;
                Ok((apply(*op, &f, inner_sig, span)?, captures))
            }
        }
    }

    /// Copies a function's graph here, its `Arg(k)` inputs replaced by `args[k]`.
    fn inline_graph(&mut self, g: &Graph, args: &[NodeId], span: Span) -> LowerResult<Vec<NodeId>> {
        let live = g.live();
        let mut map: Vec<Option<NodeId>> = vec![None; g.len()];
        for id in g.ids() {
            if !live[id.index()] {
                continue;
            }
            let node = g.node(id);
            let at = node.span.unwrap_or(span);
            let new = match &node.op {
                Op::Input { source: Source::Arg(k), .. } => args[*k as usize],
                // Kept as it is through every function graph; `draws_as_args` turns it into
                // an argument where a statement or a loss is finished.
                Op::Input { source: Source::Random(_), .. } => self.add(node.op.clone(), &[], at)?,
                Op::Input { source, .. } => self.source(*source, at)?,
                op => {
                    let operands: Vec<NodeId> = g.args(id).iter().map(|a| map[a.index()].expect("operands first")).collect();
                    self.add(op.clone(), &operands, at)?
                }
            };
            map[id.index()] = Some(new);
        }
        Ok(g.outputs.iter().map(|o| map[o.index()].expect("outputs are live")).collect())
    }
}

/// The types of a graph's `Arg` inputs, by number (all are present before simplification).
pub(super) fn arg_types(g: &Graph) -> Vec<Type> {
    let mut args: Vec<(u32, Type)> = g
        .ids()
        .filter_map(|n| match g.op(n) {
            Op::Input { source: Source::Arg(k), ty } => Some((*k, ty.clone())),
            _ => None,
        })
        .collect();
    args.sort_by_key(|(k, _)| *k);
    args.into_iter().map(|(_, t)| t).collect()
}

/// A value of type `ty` from its leaves.
pub(super) fn assemble(ty: &Ty, leaves: &mut impl Iterator<Item = NodeId>) -> Value {
    match ty {
        Ty::Tensor(_) => Value::Node(leaves.next().expect("a leaf per tensor")),
        Ty::Tuple(ts) => Value::Tuple(ts.iter().map(|t| assemble(t, leaves)).collect()),
    }
}

/// The leaf numbers of argument `k` of a signature.
fn leaf_range(sig: &Sig, k: usize) -> std::ops::Range<usize> {
    let count = |t: &Ty| {
        let mut v = Vec::new();
        leaf_types(t, &mut v);
        v.len()
    };
    let start: usize = sig.params[..k].iter().map(count).sum();
    start..start + count(&sig.params[k])
}

/// A graph over `inputs` (as `Arg(0..)`) whose outputs `body` builds; simplified.
fn compose(name: String, inputs: &[Type], body: impl FnOnce(&mut Emitter, &[NodeId]) -> Vec<NodeId>) -> Graph {
    let mut e = Emitter::new(name);
    let ins: Vec<NodeId> = inputs
        .iter()
        .enumerate()
        .map(|(k, ty)| e.add(Op::Input { source: Source::Arg(k as u32), ty: ty.clone() }, &[]))
        .collect();
    let outs = body(&mut e, &ins);
    e.graph.outputs = outs;
    simplify(&e.graph)
}

/// The graph of `op` applied to the function `f` of signature `sig`.
pub fn apply(op: Transform, f: &FnGraph, sig: &Sig, span: Span) -> LowerResult<FnGraph> {
    let p = f.n_params;
    let (params, caps) = f.inputs.split_at(p);
    let mut ret = Vec::new();
    leaf_types(&sig.ret, &mut ret);
    let r = ret.len();
    let name = format!("{}({})", op.name(), f.graph.name);
    let not_linear = |e: NotLinear| {
        Box::new(
            Diagnostic::new(codes::BAD_JVP_RULE, format!("a `with jvp` rule uses its tangent non-linearly (in `{}`), so reverse mode cannot transpose it", e.op), e.span.unwrap_or(span), "not linear in the tangent")
                .with_hint("a forward rule must be linear in the tangents: add and scale them, never multiply two of them or apply a function to one"),
        )
    };
    let graph = match op {
        Transform::Jvp => {
            let seeds: Vec<(Source, Source)> =
                (0..p).filter(|&i| params[i].dtype.is_float()).map(|i| (arg(i), arg_at(BASE, i))).collect();
            let lin = simplify(&jvp(&f.graph, &seeds));
            let inputs = [params, params, caps].concat();
            let g = compose(name, &inputs, |e, ins| {
                let outs = inline(e, &lin, &mut |_, k| {
                    let k = k as usize;
                    if k >= BASE as usize { ins[p + k - BASE as usize] } else if k < p { ins[k] } else { ins[2 * p + k - p] }
                });
                outs[r..].to_vec()
            });
            return Ok(FnGraph { graph: g, inputs, n_params: 2 * p });
        }
        // With respect to a single number, forward mode is the cheaper pass: one tangent,
        // no transposition. It matters most for nested derivatives of scalar functions,
        // where reverse over reverse grows much faster than forward over forward.
        Transform::Grad { wrt } | Transform::ValueAndGrad { wrt } if leaf_range(sig, wrt).map(|i| f.inputs[i].len()).sum::<usize>() == 1 && r == 1 => {
            let a = leaf_range(sig, wrt).start;
            let lin = simplify(&jvp(&f.graph, &[(arg(a), arg_at(BASE, 0))]));
            let keep_value = matches!(op, Transform::ValueAndGrad { .. });
            let tangent_ty = f.inputs[a].clone();
            compose(name, &f.inputs, |e, ins| {
                let outs = inline(e, &lin, &mut |e, k| if k == BASE { e.splat(&tangent_ty, 1.0) } else { ins[k as usize] });
                // The tangent has the result's type; the gradient has the argument's.
                let g = e.convert(outs[1], tangent_ty.dtype);
                let g = e.reshape(g, &tangent_ty.shape);
                if keep_value { vec![outs[0], g] } else { vec![g] }
            })
        }
        Transform::Grad { wrt } | Transform::ValueAndGrad { wrt } => {
            let wrt_sources: Vec<(Source, Type)> = leaf_range(sig, wrt).map(|i| (arg(i), f.inputs[i].clone())).collect();
            let v = vjp(&f.graph, &wrt_sources, &[arg_at(BASE, 0)]).map_err(not_linear)?;
            let keep_value = matches!(op, Transform::ValueAndGrad { .. });
            compose(name, &f.inputs, |e, ins| {
                let outs = inline(e, &v, &mut |e, k| if k == BASE { e.splat(&ret[0], 1.0) } else { ins[k as usize] });
                if keep_value { outs } else { outs[r..].to_vec() }
            })
        }
        Transform::Vjp => {
            let wrt: Vec<usize> = (0..p).filter(|&i| params[i].dtype.is_float()).collect();
            let wrt_sources: Vec<(Source, Type)> = wrt.iter().map(|&i| (arg(i), params[i].clone())).collect();
            let cts: Vec<Source> = (0..r).map(|j| arg_at(BASE, j)).collect();
            let v = vjp(&f.graph, &wrt_sources, &cts).map_err(not_linear)?;
            let inputs = [params, &ret, caps].concat();
            let g = compose(name, &inputs, |e, ins| {
                let outs = inline(e, &v, &mut |_, k| {
                    let k = k as usize;
                    if k >= BASE as usize { ins[p + k - BASE as usize] } else if k < p { ins[k] } else { ins[p + r + k - p] }
                });
                (0..p)
                    .map(|i| match wrt.iter().position(|&w| w == i) {
                        Some(j) => outs[r + j],
                        None => e.splat(&params[i], 0.0),
                    })
                    .collect()
            });
            return Ok(FnGraph { graph: g, inputs, n_params: p + r });
        }
        Transform::Jacobian { wrt, mode } => jacobian(f, sig, wrt, mode, &ret, name).map_err(not_linear)?,
        Transform::Hessian { wrt } => {
            let g = apply(Transform::Grad { wrt }, f, sig, span)?;
            let gsig = Sig { params: sig.params.clone(), ret: sig.params[wrt].clone() };
            let mut gret = Vec::new();
            leaf_types(&gsig.ret, &mut gret);
            jacobian(&g, &gsig, wrt, JacobianMode::Forward, &gret, name).map_err(not_linear)?
        }
        Transform::Hvp { wrt } => {
            let g = apply(Transform::Grad { wrt }, f, sig, span)?;
            let gsig = Sig { params: sig.params.clone(), ret: sig.params[wrt].clone() };
            let mut h = apply(Transform::Jvp, &g, &gsig, span)?;
            h.graph.name = name;
            return Ok(h);
        }
        Transform::Vmap { axis, size } => {
            // Every argument is batched along `axis`; captures are the same for every slice.
            let batched: Vec<(Source, usize)> = (0..p).map(|i| (arg(i), axis)).collect();
            let mut graph = simplify(&vmap(&f.graph, &batched, size));
            graph.name = name;
            let mut inputs = f.inputs.clone();
            for t in &mut inputs[..p] {
                t.shape.insert(axis, size);
            }
            return Ok(FnGraph { graph, inputs, n_params: p });
        }
        Transform::Taylor { order, jet } => return Ok(taylor_coefficients(f, order, jet, &ret[0], name)),
        Transform::Diff { n } => {
            // n! c_n along v = 1.
            let tg = simplify(&taylor(&f.graph, n, &[(arg(0), vec![arg_at(BASE, 0)])]));
            let x_ty = f.inputs[0].clone();
            let factorial: f64 = (1..=n).map(|k| k as f64).product();
            compose(name, &f.inputs, |e, ins| {
                let outs = inline(e, &tg, &mut |e, k| if k == BASE { e.splat(&x_ty, 1.0) } else { ins[k as usize] });
                vec![if n == 0 { outs[0] } else { e.scale(outs[n], factorial) }]
            })
        }
        Transform::Laplacian { samples: None } => laplacian(f, name),
        Transform::Laplacian { samples: Some(s) } => return Ok(stochastic_laplacian(f, s, name)),
        Transform::RGrad { wrt } => {
            // `rgrad(f)(x…, dy)`: the arguments, then one cotangent per result leaf; the result
            // is the Z2 cotangent of argument `wrt`.
            let wrt_sources: Vec<(Source, Type)> = leaf_range(sig, wrt).map(|i| (arg(i), f.inputs[i].clone())).collect();
            let cts: Vec<Source> = (0..r).map(|j| arg_at(BASE, j)).collect();
            let v = simplify(&rgrad(&f.graph, &wrt_sources, &cts));
            let inputs = [params, &ret, caps].concat();
            let g = compose(name, &inputs, |e, ins| {
                let outs = inline(e, &v, &mut |_, k| {
                    let k = k as usize;
                    if k >= BASE as usize { ins[p + k - BASE as usize] } else if k < p { ins[k] } else { ins[p + r + k - p] }
                });
                outs[r..].to_vec()
            });
            return Ok(FnGraph { graph: g, inputs, n_params: p + r });
        }
    };
    Ok(FnGraph { graph, inputs: f.inputs.clone(), n_params: p })
}

fn arg(i: usize) -> Source {
    Source::Arg(i as u32)
}

fn arg_at(base: u32, i: usize) -> Source {
    Source::Arg(base + i as u32)
}

/// A constant of type `ty` that is 1 at flat position `i` and 0 elsewhere.
fn basis(e: &mut Emitter, ty: &Type, i: usize) -> NodeId {
    let mut values = vec![0.0; ty.len()];
    values[i] = 1.0;
    let t = Tensor::from_f64s(ty.dtype, ty.shape.clone(), &values).expect("the length is the shape's");
    e.add(Op::Const(Const(std::sync::Arc::new(t))), &[])
}

/// `taylor(f, order = K)(x, v)` (`jet`: `(x, [v1 … vK])`): the coefficients `c_0 … c_K` of
/// the single-tensor result, stacked along a new first axis. Inputs: `x`, the direction or
/// series, then `f`'s captures.
fn taylor_coefficients(f: &FnGraph, order: usize, jet: bool, out: &Type, name: String) -> FnGraph {
    let x_ty = f.inputs[0].clone();
    let seeds: Vec<Source> = (0..if jet { order } else { 1 }).map(|k| arg_at(BASE, k)).collect();
    let tg = simplify(&taylor(&f.graph, order, &[(arg(0), seeds)]));
    let second = if jet { Type::new(x_ty.dtype, [&[order][..], &x_ty.shape].concat()) } else { x_ty.clone() };
    let inputs = [&[x_ty.clone(), second][..], &f.inputs[1..]].concat();
    let graph = compose(name, &inputs, |e, ins| {
        let outs = inline(e, &tg, &mut |e, k| match k.checked_sub(BASE) {
            Some(j) if jet => row(e, ins[1], j as usize),
            Some(_) => ins[1],
            // `f`'s captures `Arg(1..)` follow the two arguments here.
            None if k == 0 => ins[0],
            None => ins[k as usize + 1],
        });
        let mut one = vec![1];
        one.extend(&out.shape);
        let rows: Vec<NodeId> = outs.iter().map(|&c| e.reshape(c, &one)).collect();
        vec![e.add(Op::Concat { axis: 0 }, &rows)]
    });
    FnGraph { graph, inputs, n_params: 2 }
}

/// Entry `j` along the first axis of `x`, that axis removed.
fn row(e: &mut Emitter, x: NodeId, j: usize) -> NodeId {
    let shape = e.shape(x);
    let mut starts = vec![0; shape.len()];
    starts[0] = j;
    let mut ends = shape.clone();
    ends[0] = j + 1;
    let s = e.add(Op::Slice { starts, ends }, &[x]);
    e.reshape(s, &shape[1..])
}

/// `Σ_d 2 c₂` of `f`'s scalar result along each direction `d`, a row of `dirs` (`count` rows
/// of `x`'s shape): the order-2 Taylor graph batched over the directions by the vmap pass
/// (one kernel whose matrix products take every direction at once, not one copy of the
/// graph per direction), then summed in row order.
fn second_order_sum(e: &mut Emitter, f: &FnGraph, ins: &[NodeId], dirs: NodeId, count: usize) -> NodeId {
    let tg = simplify(&taylor(&f.graph, 2, &[(arg(0), vec![arg_at(BASE, 0)])]));
    let batched = simplify(&vmap(&tg, &[(arg_at(BASE, 0), 0)], count));
    let c2 = inline(e, &batched, &mut |_, k| if k == BASE { dirs } else { ins[k as usize] })[2];
    let sum = e.reduce_sum(c2, vec![0]);
    e.scale(sum, 2.0)
}

/// The exact Laplacian `Σᵢ ∂²f/∂xᵢ² = Σᵢ 2 c₂` along each basis direction `eᵢ`.
fn laplacian(f: &FnGraph, name: String) -> Graph {
    let x_ty = f.inputs[0].clone();
    let n = x_ty.len();
    let out_dtype = f.graph.ty(f.graph.outputs[0]).dtype;
    compose(name, &f.inputs, |e, ins| {
        if n == 0 {
            return vec![e.splat(&Type::scalar(out_dtype), 0.0)];
        }
        let identity = Type::new(x_ty.dtype, [&[n][..], &x_ty.shape].concat());
        let mut values = vec![0.0; n * n];
        (0..n).for_each(|i| values[i * n + i] = 1.0);
        let t = Tensor::from_f64s(identity.dtype, identity.shape, &values).expect("the length is the shape's");
        let dirs = e.add(Op::Const(Const(std::sync::Arc::new(t))), &[]);
        vec![second_order_sum(e, f, ins, dirs, n)]
    })
}

/// The number of the next `Source::Random` input: unique in the process, so that two
/// stochastic operators never share their directions.
static NEXT_RANDOM: AtomicU32 = AtomicU32::new(0);

/// The stochastic Laplacian: the mean of `2 c₂` along `S` Rademacher directions `v`
/// (`E[vᵀ H v] = tr H` as `E[v vᵀ] = I`). The directions are a `Source::Random` input of
/// shape `[S, …x]`, fresh at every evaluation.
fn stochastic_laplacian(f: &FnGraph, samples: usize, name: String) -> FnGraph {
    let x_ty = f.inputs[0].clone();
    let dirs_ty = Type::new(x_ty.dtype, [&[samples][..], &x_ty.shape].concat());
    let source = Source::Random(NEXT_RANDOM.fetch_add(1, Ordering::Relaxed));
    let graph = compose(name, &f.inputs, |e, ins| {
        let dirs = e.add(Op::Input { source, ty: dirs_ty }, &[]);
        let sum = second_order_sum(e, f, ins, dirs, samples);
        vec![e.scale(sum, 1.0 / samples as f64)]
    });
    FnGraph { graph, inputs: f.inputs.clone(), n_params: f.n_params }
}

/// `J[out…, in…]` of the single-tensor result with respect to argument `wrt` (one leaf):
/// one JVP per input entry (forward) or one VJP per output entry (reverse), stacked.
fn jacobian(f: &FnGraph, sig: &Sig, wrt: usize, mode: JacobianMode, ret: &[Type], name: String) -> Result<Graph, NotLinear> {
    let a = leaf_range(sig, wrt).start;
    let in_ty = f.inputs[a].clone();
    let out_ty = ret[0].clone();
    let (n, m) = (in_ty.len(), out_ty.len());
    let r = ret.len();
    let mut shape = out_ty.shape.clone();
    shape.extend(&in_ty.shape);
    let full = Type::new(out_ty.dtype, shape.clone());
    if n == 0 || m == 0 {
        return Ok(compose(name, &f.inputs, |e, _| vec![e.splat(&full, 0.0)]));
    }
    let graph = match mode {
        JacobianMode::Forward => {
            let lin = simplify(&jvp(&f.graph, &[(arg(a), arg_at(BASE, 0))]));
            compose(name, &f.inputs, |e, ins| {
                let cols: Vec<NodeId> = (0..n)
                    .map(|j| {
                        let outs = inline(e, &lin, &mut |e, k| if k == BASE { basis(e, &in_ty, j) } else { ins[k as usize] });
                        e.reshape(outs[r], &[m, 1])
                    })
                    .collect();
                let jac = e.add(Op::Concat { axis: 1 }, &cols);
                vec![e.reshape(jac, &shape)]
            })
        }
        JacobianMode::Reverse => {
            let v = vjp(&f.graph, &[(arg(a), in_ty.clone())], &[arg_at(BASE, 0)])?;
            compose(name, &f.inputs, |e, ins| {
                let rows: Vec<NodeId> = (0..m)
                    .map(|i| {
                        let outs = inline(e, &v, &mut |e, k| if k == BASE { basis(e, &out_ty, i) } else { ins[k as usize] });
                        e.reshape(outs[r], &[1, n])
                    })
                    .collect();
                let jac = e.add(Op::Concat { axis: 0 }, &rows);
                vec![e.reshape(jac, &shape)]
            })
        }
    };
    Ok(graph)
}

/// The training graph of a loss: its value and its gradient with respect to params (not
/// arguments: the optimizer loop differentiates the params). Inputs are the loss's own;
/// outputs are the loss, then one gradient per entry of `params`, in order.
pub fn value_and_param_grad(f: &FnGraph, params: &[(Source, Type)], span: Span) -> LowerResult<Graph> {
    let v = vjp(&f.graph, params, &[arg_at(BASE, 0)]).map_err(|e| {
        Box::new(
            Diagnostic::new(codes::BAD_JVP_RULE, format!("a `with jvp` rule uses its tangent non-linearly (in `{}`), so reverse mode cannot transpose it", e.op), e.span.unwrap_or(span), "not linear in the tangent")
                .with_hint("a forward rule must be linear in the tangents"),
        )
    })?;
    let out = v.outputs.first().map(|&o| v.ty(o).clone()).unwrap_or_else(|| Type::scalar(gradc_runtime::tensor::DType::F64));
    let name = format!("value_and_grad_params({})", f.graph.name);
    Ok(compose(name, &f.inputs, |e, ins| inline(e, &v, &mut |e, k| if k == BASE { e.splat(&out, 1.0) } else { ins[k as usize] })))
}

/// The loss and its derivative along a direction in param space (forward mode only). Inputs:
/// the loss's own, then one tangent `Arg(n + j)` per entry of `params` (`n` the loss's inputs).
pub fn param_jvp(f: &FnGraph, params: &[(Source, Type)]) -> Graph {
    let n = f.inputs.len();
    let seeds: Vec<(Source, Source)> = params.iter().enumerate().map(|(j, (s, _))| (*s, arg(n + j))).collect();
    simplify(&jvp(&f.graph, &seeds))
}

/// Hessian-vector products in param space, forward over reverse. Inputs as [`param_jvp`];
/// outputs `H v`, one per entry of `params`.
pub fn param_hvp(f: &FnGraph, params: &[(Source, Type)], span: Span) -> LowerResult<Graph> {
    let g = value_and_param_grad(f, params, span)?;
    let mut h = param_jvp(&FnGraph { graph: g, inputs: f.inputs.clone(), n_params: f.n_params }, params);
    let m = params.len();
    h.outputs = h.outputs[m + 2..].to_vec();
    Ok(simplify(&h))
}

/// Reverse derivative ascent's graph of a `bool` loss (its error bits): the number of error
/// bits (an `f64` scalar), then for each entry of `params` (`bool`) the reverse derivative over
/// Z2 of the loss at its own error bits, `R[f](p, x, dy = f(p, x))`. Inputs are the loss's own.
pub fn param_rgrad(f: &FnGraph, params: &[(Source, Type)]) -> Graph {
    let n_out = f.graph.outputs.len();
    let cts: Vec<Source> = (0..n_out).map(|j| arg_at(BASE, j)).collect();
    let r = simplify(&rgrad(&f.graph, params, &cts));
    let name = format!("rda({})", f.graph.name);
    compose(name, &f.inputs, |e, ins| {
        // The loss once for its bits; the copy inside `r` is merged with it by the simplifier.
        let bits = inline(e, &f.graph, &mut |_, k| ins[k as usize]);
        let outs = inline(e, &r, &mut |_, k| if k >= BASE { bits[(k - BASE) as usize] } else { ins[k as usize] });
        let mut count = None;
        for &b in &bits {
            let ones = e.convert(b, gradc_runtime::tensor::DType::F64);
            let axes: Vec<usize> = (0..e.ty(ones).rank()).collect();
            let c = e.reduce_sum(ones, axes);
            count = Some(match count {
                Some(prev) => e.add2(prev, c),
                None => c,
            });
        }
        let count = count.unwrap_or_else(|| e.scalar(gradc_runtime::tensor::DType::F64, 0.0));
        std::iter::once(count).chain(outs[n_out..].iter().copied()).collect()
    })
}
