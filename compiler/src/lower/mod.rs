//! Lowering: the checked program (HIR) to IR graphs.
//!
//! Calls are inlined (every function is monomorphised and none is recursive), `for` loops are
//! unrolled with the loop variable as a constant, tuples exist only here (a graph's inputs and
//! outputs are their leaves), and a scalar `if` whose condition folds to a constant lowers only
//! the chosen branch. Constants are folded as nodes are built, which is what lets a loop
//! variable turn `x[i]` into a static slice.
//!
//! A scalar `if` with a run-time condition computes both branches and selects. So that only
//! the chosen branch can fail, as the language promises, ops that can fail at run time (an
//! index, an integer division) are guarded by the path condition: off the taken path they
//! read index 0 or divide by 1, and their result is discarded by the select.

mod expr;
mod free;
mod transform;

pub use transform::{apply, param_hvp, param_jvp, param_rgrad, value_and_param_grad, FnGraph};

use gradc_runtime::tensor::{DType, Tensor};

use crate::check::hir::{self, Body, FnId, LocalId, Pattern, Program};
use crate::check::types::{Elem, Ty};
use crate::diag::{codes, Diagnostic};
use crate::ir::op::Rule;
use crate::ir::{Graph, NodeId, Op, Source, Type};
use crate::source::Span;

/// The most nodes one graph may have before lowering stops with `E046`.
pub const MAX_NODES: usize = 2_000_000;

/// A lowered value: a node, or a tuple of values.
#[derive(Clone, Debug)]
pub enum Value {
    Node(NodeId),
    Tuple(Vec<Value>),
}

impl Value {
    /// The leaves, left to right.
    pub fn leaves(&self, out: &mut Vec<NodeId>) {
        match self {
            Value::Node(n) => out.push(*n),
            Value::Tuple(vs) => vs.iter().for_each(|v| v.leaves(out)),
        }
    }

    fn node(&self) -> NodeId {
        match self {
            Value::Node(n) => *n,
            Value::Tuple(_) => unreachable!("the checker gives tuples only where tuples are expected"),
        }
    }
}

pub type LowerResult<T> = Result<T, Box<Diagnostic>>;

/// The element type of a checked type; weak ones cannot survive checking, but would be
/// their defaults.
pub fn dtype(elem: Elem) -> DType {
    match elem.defaulted() {
        Elem::F64 => DType::F64,
        Elem::F32 => DType::F32,
        Elem::I64 => DType::I64,
        _ => DType::Bool,
    }
}

/// The IR type of a checked tensor type.
pub fn ir_type(ty: &Ty) -> Type {
    match ty {
        Ty::Tensor(t) => Type::new(dtype(t.elem), t.shape.clone()),
        Ty::Tuple(_) => unreachable!("tuples are flattened before they reach a node"),
    }
}

/// The IR types of the leaves of a checked type, left to right.
pub fn leaf_types(ty: &Ty, out: &mut Vec<Type>) {
    match ty {
        Ty::Tensor(_) => out.push(ir_type(ty)),
        Ty::Tuple(ts) => ts.iter().for_each(|t| leaf_types(t, out)),
    }
}

/// One function of the program as a graph: its arguments (tuple arguments leaf by leaf) are
/// `Source::Arg` inputs, its result leaves are the outputs.
pub fn lower_fn(program: &Program, id: FnId) -> LowerResult<Graph> {
    let f = &program.fns[id.index()];
    let mut cx = Lowerer::new(program, &f.name);
    let mut args = Vec::with_capacity(f.params.len());
    for &p in &f.params {
        let ty = f.body.locals[p.index()].ty.clone();
        args.push(cx.inputs_for(&ty, f.span)?);
    }
    // Through `call_fn`, so that a `with jvp` rule marks the result as it does at a call.
    let v = cx.call_fn(id, args, f.span)?;
    Ok(cx.finish(&[v]))
}

/// Expressions of statements as one graph whose outputs are their values' leaves, in order.
pub fn lower_bodies(program: &Program, name: &str, bodies: &[&Body]) -> LowerResult<Graph> {
    let (graph, draws) = lower_bodies_with_draws(program, name, bodies)?;
    match draws.first() {
        None => Ok(graph),
        Some(d) => Err(expr::unsupported("a random draw", "fresh draws belong in the arguments of `train`", d.span)),
    }
}

/// A fresh random tensor that a graph takes as its input `Arg(input)` (the arguments of
/// `train` draw new ones at every step).
#[derive(Clone, Debug)]
pub struct Draw {
    pub input: u32,
    pub draw: hir::RandomDraw,
    pub ty: Type,
    pub span: Span,
}

/// Like [`lower_bodies`], with random draws allowed: each becomes an `Arg` input (the
/// Rademacher directions of stochastic operators too, see [`draws_as_args`]).
pub fn lower_bodies_with_draws(program: &Program, name: &str, bodies: &[&Body]) -> LowerResult<(Graph, Vec<Draw>)> {
    let mut cx = Lowerer::new(program, name);
    let mut values = Vec::new();
    for body in bodies {
        let mut frame = Frame::new(&body.locals);
        values.push(cx.expr(&mut frame, &body.value)?);
    }
    let mut draws = std::mem::take(&mut cx.draws);
    let next = cx.next_arg;
    let (graph, more) = draws_as_args(&cx.finish(&values), next);
    draws.extend(more);
    Ok((graph, draws))
}

/// `g` with each `Source::Random` input replaced by a new argument `Arg(first_arg + j)`, and
/// the Rademacher draws that fill them, in order. Function graphs keep random inputs as they
/// are (a transform of a function with a stochastic operator treats its directions as
/// constants); where a graph is finally evaluated (a statement, a loss) they become
/// arguments that the runner draws afresh at every evaluation.
pub fn draws_as_args(g: &Graph, first_arg: u32) -> (Graph, Vec<Draw>) {
    let mut out = Graph::new(g.name.clone());
    out.input_names = g.input_names.clone();
    let mut map: Vec<Option<NodeId>> = vec![None; g.len()];
    let mut draws: Vec<(Source, Draw)> = Vec::new();
    for id in g.ids() {
        let node = g.node(id);
        let op = match &node.op {
            Op::Input { source: s @ Source::Random(_), ty } => {
                let input = match draws.iter().find(|(r, _)| r == s) {
                    Some((_, d)) => d.input,
                    None => {
                        let input = first_arg + draws.len() as u32;
                        let draw = Draw { input, draw: hir::RandomDraw::Rademacher, ty: ty.clone(), span: node.span.unwrap_or_default() };
                        draws.push((*s, draw));
                        input
                    }
                };
                Op::Input { source: Source::Arg(input), ty: ty.clone() }
            }
            op => op.clone(),
        };
        let args: Vec<NodeId> = g.args(id).iter().map(|a| map[a.index()].expect("operands first")).collect();
        out.current_span = node.span;
        map[id.index()] = Some(out.push(op, node.ty.clone(), &args));
    }
    out.current_span = None;
    out.outputs = g.outputs.iter().map(|o| map[o.index()].expect("outputs are copied")).collect();
    (out, draws.into_iter().map(|(_, d)| d).collect())
}

/// The values of one body's locals while it is being lowered.
struct Frame<'b> {
    /// The table the body's locals are declared in.
    table: &'b [hir::Local],
    locals: Vec<Option<Value>>,
    /// For a lambda lowered into a graph of its own: the enclosing frame's values (nodes of
    /// the enclosing graph). A local found there becomes a capture: a new input here.
    outer: Option<Vec<Option<Value>>>,
    /// The captured locals, in the order of their inputs, with their enclosing values.
    captures: Vec<Value>,
}

impl<'b> Frame<'b> {
    fn new(table: &'b [hir::Local]) -> Frame<'b> {
        Frame { table, locals: vec![None; table.len()], outer: None, captures: Vec::new() }
    }

    fn set(&mut self, id: LocalId, v: Value) {
        self.locals[id.index()] = Some(v);
    }
}

struct Lowerer<'p> {
    program: &'p Program,
    graph: Graph,
    /// Input nodes of params and data, made on first use.
    sources: Vec<(Source, NodeId)>,
    /// The conjunction of the run-time conditions of the enclosing scalar `if`s, if any.
    path: Option<NodeId>,
    /// Nesting of inlined calls, for the depth bound.
    depth: usize,
    /// The number of the next `Source::Arg` input.
    next_arg: u32,
    /// The `with jvp` rules lowered so far.
    rules: Vec<(FnId, Rule)>,
    /// Random draws met so far, each an input.
    draws: Vec<Draw>,
}

impl<'p> Lowerer<'p> {
    fn new(program: &'p Program, name: &str) -> Lowerer<'p> {
        Lowerer { program, graph: Graph::new(name), sources: Vec::new(), path: None, depth: 0, next_arg: 0, rules: Vec::new(), draws: Vec::new() }
    }

    fn finish(mut self, values: &[Value]) -> Graph {
        let mut outs = Vec::new();
        values.iter().for_each(|v| v.leaves(&mut outs));
        self.graph.outputs = outs;
        self.graph.current_span = None;
        self.graph
    }

    /// Input nodes for the leaves of an argument of type `ty`, numbered in order.
    fn inputs_for(&mut self, ty: &Ty, span: Span) -> LowerResult<Value> {
        match ty {
            Ty::Tensor(_) => {
                let source = Source::Arg(self.next_arg);
                self.next_arg += 1;
                Ok(Value::Node(self.add(Op::Input { source, ty: ir_type(ty) }, &[], span)?))
            }
            Ty::Tuple(ts) => {
                let vs = ts.iter().map(|t| self.inputs_for(t, span)).collect::<LowerResult<_>>()?;
                Ok(Value::Tuple(vs))
            }
        }
    }

    /// The value of a local: bound in this frame, or captured from the enclosing one.
    fn local(&mut self, frame: &mut Frame, id: LocalId, span: Span) -> LowerResult<Value> {
        if let Some(v) = &frame.locals[id.index()] {
            return Ok(v.clone());
        }
        let outer = frame.outer.as_ref().and_then(|o| o[id.index()].clone());
        let Some(outer) = outer else {
            return Err(internal(&format!("local `{}` used before it has a value", frame.table[id.index()].name), span));
        };
        let ty = frame.table[id.index()].ty.clone();
        let v = self.inputs_for(&ty, span)?;
        frame.captures.push(outer);
        frame.set(id, v.clone());
        Ok(v)
    }

    /// The input node of a param or data set.
    fn source(&mut self, source: Source, span: Span) -> LowerResult<NodeId> {
        if let Some(&(_, n)) = self.sources.iter().find(|(s, _)| *s == source) {
            return Ok(n);
        }
        let (name, ty) = match source {
            Source::Param(k) => {
                let p = &self.program.params[k as usize];
                (p.name.clone(), Ty::Tensor(p.ty.clone()))
            }
            Source::Data(k) => {
                let d = &self.program.data[k as usize];
                (d.name.clone(), Ty::Tensor(d.ty.clone()))
            }
            Source::Arg(_) => unreachable!("arguments are made by `inputs_for`"),
            Source::Random(_) => unreachable!("random inputs are copied by `inline_graph`"),
        };
        let n = self.add(Op::Input { source, ty: ir_type(&ty) }, &[], span)?;
        self.graph.input_names.push((source, name));
        self.sources.push((source, n));
        Ok(n)
    }

    /// Appends a node, folding it to a constant when all its operands are constants.
    fn add(&mut self, op: Op, args: &[NodeId], span: Span) -> LowerResult<NodeId> {
        if self.graph.len() >= MAX_NODES {
            return Err(Box::new(
                Diagnostic::new(codes::GRAPH_TOO_LARGE, format!("the program's graph grows past {MAX_NODES} nodes"), span, "while lowering this")
                    .with_hint("loops and calls are unrolled and inlined into one graph; write the vectorised form, e.g. `sum(x)` rather than a loop over `x`"),
            ));
        }
        self.graph.current_span = Some(span);
        let id = self.graph.add(op, args).map_err(|e| internal(&e, span))?;
        if let Some(c) = crate::passes::simplify::fold_node(&self.graph, id) {
            return self.graph.add(Op::Const(c), &[]).map_err(|e| internal(&e, span));
        }
        Ok(id)
    }

    /// A scalar constant of `dtype`.
    fn constant(&mut self, dtype: DType, value: f64, span: Span) -> LowerResult<NodeId> {
        let t = Tensor::from_f64s(dtype, vec![], &[value]).expect("a scalar has one element");
        self.add(Op::Const(crate::ir::op::Const(std::sync::Arc::new(t))), &[], span)
    }

    /// The value of a constant node, if it is one with a single element.
    fn const_scalar(&self, n: NodeId) -> Option<f64> {
        match self.graph.op(n) {
            Op::Const(c) => c.tensor().scalar_value(),
            _ => None,
        }
    }

    fn call_fn(&mut self, id: FnId, args: Vec<Value>, span: Span) -> LowerResult<Value> {
        let f = &self.program.fns[id.index()];
        self.depth += 1;
        if self.depth > 256 {
            return Err(Box::new(Diagnostic::new(codes::GRAPH_TOO_LARGE, "calls nest more than 256 deep", span, "in this call")));
        }
        let mut arg_leaves = Vec::new();
        args.iter().for_each(|a| a.leaves(&mut arg_leaves));
        let mut frame = Frame::new(&f.body.locals);
        for (&p, v) in f.params.iter().zip(args) {
            frame.set(p, v);
        }
        let v = self.expr(&mut frame, &f.body.value);
        self.depth -= 1;
        let v = v?;
        if f.jvp_rule.is_none() {
            return Ok(v);
        }
        // Mark each result leaf with the function's own forward rule.
        let rule = self.rule(id, span)?;
        let mut outs = Vec::new();
        v.leaves(&mut outs);
        let mut marked = Vec::with_capacity(outs.len());
        for (i, o) in outs.into_iter().enumerate() {
            let mut operands = arg_leaves.clone();
            operands.push(o);
            marked.push(self.add(Op::Custom { rule: rule.clone(), output: i }, &operands, span)?);
        }
        Ok(transform::assemble(&f.ret, &mut marked.into_iter()))
    }

    /// The graph of a function's `with jvp` rule (see `Op::Custom`), made once per function.
    fn rule(&mut self, id: FnId, span: Span) -> LowerResult<Rule> {
        if let Some((_, r)) = self.rules.iter().find(|(f, _)| *f == id) {
            return Ok(r.clone());
        }
        let f = &self.program.fns[id.index()];
        let rule = f.jvp_rule.as_ref().expect("only called for functions with a rule");
        let mut cx = Lowerer::new(self.program, &format!("jvp rule of {}", f.name));
        cx.depth = self.depth + 1;
        let mut frame = Frame::new(&f.body.locals);
        for &p in rule.primals.iter().chain(&rule.tangents) {
            let ty = f.body.locals[p.index()].ty.clone();
            let v = cx.inputs_for(&ty, span)?;
            frame.set(p, v);
        }
        let n_primals = rule.primals.iter().map(|p| {
            let mut leaves = Vec::new();
            leaf_types(&f.body.locals[p.index()].ty, &mut leaves);
            leaves.len()
        }).sum();
        let v = cx.expr(&mut frame, &rule.value)?;
        let graph = crate::passes::simplify::simplify(&cx.finish(&[v]));
        crate::passes::transpose::check_linear(&graph, n_primals).map_err(|e| {
            Box::new(
                Diagnostic::new(codes::BAD_JVP_RULE, format!("this forward rule is not linear in its tangents (`{}` of a tangent)", e.op), e.span.unwrap_or(rule.value.span), "not linear in the tangent")
                    .with_hint("a forward rule must be linear in the tangents: add them and scale them by primal values; never multiply two of them or apply a function to one"),
            )
        })?;
        let r = Rule { graph: std::sync::Arc::new(graph), name: f.name.as_str().into() };
        self.rules.push((id, r.clone()));
        Ok(r)
    }

    fn bind(&mut self, frame: &mut Frame, pattern: &Pattern, v: Value) {
        match (pattern, v) {
            (Pattern::Local(id), v) => frame.set(*id, v),
            (Pattern::Ignore, _) => {}
            (Pattern::Tuple(ps), Value::Tuple(vs)) => {
                for (p, v) in ps.iter().zip(vs) {
                    self.bind(frame, p, v);
                }
            }
            (Pattern::Tuple(_), Value::Node(_)) => unreachable!("the checker matches patterns to tuple types"),
        }
    }

    fn block(&mut self, frame: &mut Frame, stmts: &[hir::BlockStmt]) -> LowerResult<()> {
        for s in stmts {
            match s {
                hir::BlockStmt::Let(p, e) => {
                    let v = self.expr(frame, e)?;
                    self.bind(frame, p, v);
                }
                hir::BlockStmt::Assign(id, e) => {
                    let v = self.expr(frame, e)?;
                    frame.set(*id, v);
                }
                hir::BlockStmt::For { var, lo, hi, body } => {
                    let span = frame.table[var.index()].span;
                    for i in *lo..*hi {
                        let n = self.constant(DType::I64, i as f64, span)?;
                        frame.set(*var, Value::Node(n));
                        self.block(frame, body)?;
                    }
                }
            }
        }
        Ok(())
    }
}

fn internal(message: &str, span: Span) -> Box<Diagnostic> {
    Box::new(Diagnostic::new(codes::INTERNAL, format!("internal error while lowering: {message}"), span, "here").with_hint("this is a bug in gradc; please report it with this program"))
}

/// One function of the program as an [`FnGraph`], with its signature: what the derivative
/// operators take.
pub fn fn_graph(program: &Program, id: FnId) -> LowerResult<(FnGraph, hir::Sig)> {
    let f = &program.fns[id.index()];
    let params: Vec<Ty> = f.params.iter().map(|p| f.body.locals[p.index()].ty.clone()).collect();
    let sig = hir::Sig { params, ret: f.ret.clone() };
    let graph = lower_fn(program, id)?;
    let inputs = transform::arg_types(&graph);
    Ok((FnGraph { n_params: inputs.len(), inputs, graph }, sig))
}

/// A callee written at statement level (the loss of `train`: a named function, a lambda or
/// a derivative operator) as an [`FnGraph`]. `locals` is the table a lambda's locals live in
/// (`hir::Train::loss_locals`); a statement has no enclosing locals, so nothing is captured
/// and the graph's inputs are the callee's arguments alone (params and data are `Source`
/// inputs, as in [`fn_graph`]).
pub fn callee_graph(program: &Program, locals: &[hir::Local], callee: &hir::Callee, span: Span) -> LowerResult<FnGraph> {
    if let hir::Callee::Fn(id) = callee {
        return Ok(fn_graph(program, *id)?.0);
    }
    let mut cx = Lowerer::new(program, "loss");
    let mut frame = Frame::new(locals);
    let (f, captures) = cx.function_graph(&mut frame, callee, span)?;
    if !captures.is_empty() {
        return Err(internal("a callee at statement level captures a local", span));
    }
    Ok(f)
}

/// The graph of a derivative operator applied to one function of the program (for
/// `gradc ir --grad` and friends); simplified. Errors if the operator does not apply.
pub fn transform_fn(program: &Program, id: FnId, op: hir::Transform) -> LowerResult<Graph> {
    let f = &program.fns[id.index()];
    let (fg, sig) = fn_graph(program, id)?;
    let scalar_float = matches!(&f.ret, Ty::Tensor(t) if t.shape.is_empty() && t.elem.is_float());
    let first_float = matches!(sig.params.first(), Some(Ty::Tensor(t)) if t.elem.is_float());
    let applies = match op {
        hir::Transform::Grad { .. } | hir::Transform::ValueAndGrad { .. } | hir::Transform::Hessian { .. } | hir::Transform::Hvp { .. } => scalar_float && first_float,
        hir::Transform::Jacobian { .. } => first_float && matches!(f.ret, Ty::Tensor(_)),
        hir::Transform::Jvp | hir::Transform::Vjp => !sig.params.is_empty(),
        _ => false,
    };
    if !applies {
        return Err(Box::new(
            Diagnostic::new(codes::GRAD_NOT_SCALAR, format!("`{}` does not apply to `{}` (`grad`, `hessian` need a scalar float result; all need a float first argument)", op.name(), f.name), f.span, "this function")
                .with_hint("pick a function with `--fn NAME`"),
        ));
    }
    Ok(transform::apply(op, &fg, &sig, f.span)?.graph)
}
