//! The checks of JAX's `check_grads`, on graphs: each derivative compared with something
//! computed another way.

use gradc_compiler::check::hir::{FnId, Sig, Transform};
use gradc_compiler::check::types::{Elem, TensorTy, Ty};
use gradc_compiler::interp::{run, Inputs};
use gradc_compiler::ir::{Graph, Op, Source, Type};
use gradc_compiler::lower::{self, FnGraph};
use gradc_compiler::passes::emit::Emitter;
use gradc_compiler::passes::inline::inline;
use gradc_compiler::source::Span;
use gradc_runtime::tensor::{Buffer, DType, Tensor};

/// The function `f` of a checked program, as a graph with its signature.
pub fn function(source: &str) -> (FnGraph, Sig) {
    let checked = gradc_compiler::check::check_source("gen.gd", source, std::env::temp_dir());
    assert!(checked.is_ok(), "does not check:\n{source}\n{}", checked.render(false));
    let p = &checked.program;
    let id = p.fns.iter().position(|f| f.name == "f").expect("the program defines `f`");
    lower::fn_graph(p, FnId(id as u32)).unwrap_or_else(|d| panic!("does not lower:\n{source}\n{}", d.render(&checked.sources, false)))
}

pub fn apply(op: Transform, f: &FnGraph, sig: &Sig) -> FnGraph {
    let g = lower::apply(op, f, sig, Span::default()).unwrap_or_else(|d| panic!("{} failed: {}", op.name(), d.message));
    gradc_compiler::ir::verify::verify(&g.graph).unwrap_or_else(|e| panic!("{} built an invalid graph: {e}", op.name()));
    g
}

/// Evaluates a graph on flat `f64` arguments of the given types; outputs flattened.
pub fn eval(g: &Graph, types: &[Type], args: &[Vec<f64>]) -> Vec<Vec<f64>> {
    let tensors: Vec<Tensor> = types
        .iter()
        .zip(args)
        .map(|(t, v)| Tensor::new(t.shape.clone(), Buffer::F64(v.clone())).expect("lengths match"))
        .collect();
    let inputs = Inputs { args: &tensors, params: &[], data: &[] };
    let outs = run(g, &inputs).unwrap_or_else(|(n, e)| panic!("evaluation failed at %{}: {e}", n.index()));
    outs.iter().map(|t| t.to_f64_vec()).collect()
}

pub fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

pub fn flat(vs: &[Vec<f64>]) -> Vec<f64> {
    vs.concat()
}

pub fn max_abs(v: &[f64]) -> f64 {
    v.iter().fold(0.0, |m, x| m.max(x.abs()))
}

/// `a ≈ b` elementwise: `|a - b| <= tol * (1 + scale)`, where scale is the larger magnitude.
pub fn close(a: &[f64], b: &[f64], tol: f64) -> Result<(), String> {
    assert_eq!(a.len(), b.len());
    let scale = max_abs(a).max(max_abs(b));
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        // NaN on either side fails too.
        let within = (x - y).abs() <= tol * (1.0 + scale);
        if !within {
            return Err(format!("element {i}: {x} vs {y} (scale {scale}, tol {tol})\n{a:?}\n{b:?}"));
        }
    }
    Ok(())
}

/// `x + s t`, argument by argument.
pub fn step(x: &[Vec<f64>], t: &[Vec<f64>], s: f64) -> Vec<Vec<f64>> {
    x.iter().zip(t).map(|(a, b)| a.iter().zip(b).map(|(u, v)| u + s * v).collect()).collect()
}

/// Central finite difference of `g`'s outputs along `t`.
pub fn central(g: &FnGraph, x: &[Vec<f64>], t: &[Vec<f64>], h: f64) -> Vec<f64> {
    let plus = flat(&eval(&g.graph, &g.inputs, &step(x, t, h)));
    let minus = flat(&eval(&g.graph, &g.inputs, &step(x, t, -h)));
    plus.iter().zip(&minus).map(|(p, m)| (p - m) / (2.0 * h)).collect()
}

/// Forward mode: `J t`, flattened.
pub fn jvp(f: &FnGraph, sig: &Sig, x: &[Vec<f64>], t: &[Vec<f64>]) -> Vec<f64> {
    let j = apply(Transform::Jvp, f, sig);
    let args: Vec<Vec<f64>> = x.iter().chain(t).cloned().collect();
    flat(&eval(&j.graph, &j.inputs, &args))
}

/// Reverse mode: `Jᵀ ȳ`, one flat vector per argument.
pub fn vjp(f: &FnGraph, sig: &Sig, x: &[Vec<f64>], ybar: &[Vec<f64>]) -> Vec<Vec<f64>> {
    let v = apply(Transform::Vjp, f, sig);
    let args: Vec<Vec<f64>> = x.iter().chain(ybar).cloned().collect();
    eval(&v.graph, &v.inputs, &args)
}

/// The types of the leaves of a function's result.
pub fn result_types(sig: &Sig) -> Vec<Type> {
    let mut out = Vec::new();
    lower::leaf_types(&sig.ret, &mut out);
    out
}

pub fn f64_ty(shape: &[usize]) -> Ty {
    Ty::Tensor(TensorTy::new(Elem::F64, shape.to_vec()))
}

/// The scalar function `s ↦ f(x + s d)` (summed if `f`'s result is not a scalar), as a
/// graph of one argument: what nested scalar derivatives are checked on.
pub fn along(f: &FnGraph, x: &[Vec<f64>], d: &[Vec<f64>]) -> (FnGraph, Sig) {
    let mut e = Emitter::new("along");
    let s = e.add(Op::Input { source: Source::Arg(0), ty: Type::scalar(DType::F64) }, &[]);
    let outs = inline(&mut e, &f.graph, &mut |e, k| {
        let k = k as usize;
        let ty = f.inputs[k].clone();
        let x0 = constant(e, &ty, &x[k]);
        let dir = constant(e, &ty, &d[k]);
        let sb = e.broadcast(s, &ty.shape);
        let sd = e.mul(sb, dir);
        e.add2(x0, sd)
    });
    let mut total = None;
    for o in outs {
        let axes: Vec<usize> = (0..e.ty(o).rank()).collect();
        let s = e.reduce_sum(o, axes);
        total = Some(match total {
            Some(t) => e.add2(t, s),
            None => s,
        });
    }
    let total = total.expect("a result");
    e.graph.outputs = vec![total];
    let g = FnGraph { graph: e.graph, inputs: vec![Type::scalar(DType::F64)], n_params: 1 };
    (g, Sig { params: vec![f64_ty(&[])], ret: f64_ty(&[]) })
}

fn constant(e: &mut Emitter, ty: &Type, v: &[f64]) -> gradc_compiler::ir::NodeId {
    let t = Tensor::new(ty.shape.clone(), Buffer::F64(v.to_vec())).expect("lengths match");
    e.add(Op::Const(gradc_compiler::ir::op::Const(std::sync::Arc::new(t))), &[])
}

/// Deterministic pseudo-random values in [-1, 1] (a tiny LCG: tests need no more).
pub struct Values(u64);

impl Values {
    pub fn new(seed: u64) -> Values {
        Values(seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407))
    }

    pub fn next(&mut self) -> f64 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        ((self.0 >> 11) as f64 / (1u64 << 53) as f64) * 2.0 - 1.0
    }

    pub fn fill(&mut self, types: &[Type]) -> Vec<Vec<f64>> {
        types.iter().map(|t| (0..t.len()).map(|_| self.next()).collect()).collect()
    }
}
