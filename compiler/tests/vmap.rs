//! The batching pass (`vmap`) against its definition: applying the function to every slice
//! and stacking the results, on hand-written programs over the op table and on random
//! programs of the derivative checks' generator, for several batch sizes (1 included) and
//! axes, with all arguments batched (as the language batches them) and with only some (as
//! captures are). Then: derivatives commute with `vmap` (`grad` of a sum of `vmap` against
//! `vmap` of `grad`; `jvp` of `vmap` against `vmap` of `jvp`), the JIT agrees with the
//! interpreter on batched graphs, and a batched MLP loss is one kernel, not B copies.
//!
//! `VMAP_CASES=N` runs a longer campaign over the generator.

#[path = "gradcheck/harness.rs"]
#[allow(dead_code)]
mod harness;
mod common;

use common::gen::{generate, GenOptions};
use gradc_compiler::check::hir::{Sig, Transform};
use gradc_compiler::check::types::Ty;
use gradc_compiler::codegen;
use gradc_compiler::interp::{self, Inputs};
use gradc_compiler::ir::{verify::verify, Graph, Op, Source, Type};
use gradc_compiler::lower::{self, FnGraph};
use gradc_compiler::passes::emit::Emitter;
use gradc_compiler::passes::inline::inline;
use gradc_compiler::passes::simplify::simplify;
use gradc_compiler::passes::vmap::vmap;
use gradc_compiler::source::Span;
use gradc_runtime::tensor::{Buffer, Tensor};
use harness::{close, f64_ty, function, Values};

fn cases(default: u64) -> u64 {
    std::env::var("VMAP_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn apply(op: Transform, f: &FnGraph, sig: &Sig) -> FnGraph {
    let g = lower::apply(op, f, sig, Span::default()).unwrap_or_else(|d| panic!("{} failed: {}", op.name(), d.message));
    verify(&g.graph).unwrap_or_else(|e| panic!("{} built an invalid graph: {e}\n{}", op.name(), gradc_compiler::ir::print::print_all(&g.graph)));
    g
}

/// A type with a batch axis of `size` entries at `axis`.
fn batched_type(t: &Type, axis: usize, size: usize) -> Type {
    let mut s = t.shape.clone();
    s.insert(axis, size);
    Type::new(t.dtype, s)
}

/// The signature of `vmap(f)` given `f`'s: every parameter and result leaf batched.
fn batched_sig(sig: &Sig, axis: usize, size: usize) -> Sig {
    fn at(t: &Ty, axis: usize, size: usize) -> Ty {
        match t {
            Ty::Tensor(t) => {
                let mut s = t.shape.clone();
                s.insert(axis, size);
                Ty::tensor(t.elem, s)
            }
            Ty::Tuple(ts) => Ty::Tuple(ts.iter().map(|t| at(t, axis, size)).collect()),
        }
    }
    Sig { params: sig.params.iter().map(|p| at(p, axis, size)).collect(), ret: at(&sig.ret, 0, size) }
}

/// Slice `b` along `axis` of a row-major tensor.
fn slice_of(t: &Tensor, axis: usize, b: usize) -> Tensor {
    let s = t.shape();
    let outer: usize = s[..axis].iter().product();
    let inner: usize = s[axis + 1..].iter().product();
    let v = t.to_f64_vec();
    let mut out = Vec::with_capacity(outer * inner);
    for o in 0..outer {
        let start = (o * s[axis] + b) * inner;
        out.extend_from_slice(&v[start..start + inner]);
    }
    let mut shape = s.to_vec();
    shape.remove(axis);
    Tensor::from_f64s(t.dtype(), shape, &out).expect("lengths match")
}

fn run(g: &Graph, args: &[Tensor]) -> Result<Vec<Vec<f64>>, String> {
    let inputs = Inputs { args, params: &[], data: &[] };
    interp::run(g, &inputs).map(|o| o.iter().map(|t| t.to_f64_vec()).collect()).map_err(|(_, e)| e.to_string())
}

fn random(types: &[Type], seed: u64) -> Vec<Tensor> {
    let mut v = Values::new(seed);
    types.iter().map(|t| Tensor::new(t.shape.clone(), Buffer::F64((0..t.len()).map(|_| 2.0 * v.next()).collect())).unwrap()).collect()
}

/// How the batched results compared with the stacked ones.
#[derive(Default, Debug)]
struct Tally {
    bitwise: usize,
    close: usize,
    both_failed: usize,
}

/// `batched` (inputs `f`'s, those with `Some(axis)` batched there) against `f` run on every
/// slice, results stacked along a new first axis. Both must fail, or agree.
fn check_stacking(f: &Graph, batched: &Graph, axes: &[Option<usize>], size: usize, args: &[Tensor], tally: &mut Tally) -> Result<(), String> {
    verify(batched).map_err(|e| format!("invalid batched graph: {e}"))?;
    let got = run(batched, args);
    let mut want: Option<Vec<Vec<f64>>> = None;
    for b in 0..size {
        let slice: Vec<Tensor> = args.iter().zip(axes).map(|(t, a)| a.map_or_else(|| t.clone(), |a| slice_of(t, a, b))).collect();
        match run(f, &slice) {
            Err(e) => {
                return match got {
                    Err(_) => {
                        tally.both_failed += 1;
                        Ok(())
                    }
                    Ok(_) => Err(format!("slice {b} fails ({e}) but the batched graph does not")),
                }
            }
            Ok(outs) => match &mut want {
                None => want = Some(outs),
                Some(w) => w.iter_mut().zip(outs).for_each(|(w, o)| w.extend(o)),
            },
        }
    }
    // With no slices at all, what does not depend on the batch still runs once (as in JAX),
    // and may fail where no slice could.
    if size == 0 && got.is_err() {
        tally.both_failed += 1;
        return Ok(());
    }
    let got = got.map_err(|e| format!("the batched graph fails ({e}) but no slice does"))?;
    let want = want.unwrap_or_else(|| vec![vec![]; got.len()]);
    let bits = |v: &[Vec<f64>]| -> Vec<u64> { v.iter().flatten().map(|x| x.to_bits()).collect() };
    if bits(&got) == bits(&want) {
        tally.bitwise += 1;
        return Ok(());
    }
    for (g, w) in got.iter().zip(&want) {
        close(g, w, 1e-12)?;
    }
    tally.close += 1;
    Ok(())
}

/// Every stacking check on `f` (and on its derivatives, for scalar results).
fn check_program(source: &str, seed: u64, tally: &mut Tally) -> Result<(), String> {
    let (f, sig) = function(source);
    let scalar = matches!(&sig.ret, Ty::Tensor(t) if t.shape.is_empty() && t.elem.is_float());
    let mut graphs = vec![("f", f.clone())];
    let first_float = f.inputs.first().is_some_and(|t| t.dtype.is_float());
    if scalar && first_float {
        graphs.push(("grad", apply(Transform::Grad { wrt: 0 }, &f, &sig)));
        graphs.push(("hessian", apply(Transform::Hessian { wrt: 0 }, &f, &sig)));
    }
    let p = f.n_params;
    let max_axis = f.inputs[..p].iter().map(Type::rank).min().unwrap_or(0);
    for (name, g) in &graphs {
        for (i, size) in [1, 3, 2, 0].into_iter().enumerate() {
            let axis = (seed as usize + i) % (max_axis + 1);
            // As the language batches: every argument.
            let v = apply(Transform::Vmap { axis, size }, g, &sig);
            let args = random(&v.inputs, seed * 31 + i as u64);
            check_stacking(&g.graph, &v.graph, &vec![Some(axis); p], size, &args, tally).map_err(|e| format!("vmap({name}) axis {axis} size {size}: {e}"))?;
            // As captures are: only some batched (a seeded choice, possibly none).
            let axes: Vec<Option<usize>> = (0..p).map(|k| ((seed >> k) & 1 == 1 || k == i).then_some((axis + k) % (f.inputs[k].rank() + 1))).collect();
            let sources: Vec<(Source, usize)> = axes.iter().enumerate().filter_map(|(k, a)| a.map(|a| (Source::Arg(k as u32), a))).collect();
            let partial = simplify(&vmap(&g.graph, &sources, size));
            let types: Vec<Type> = g.inputs.iter().zip(&axes).map(|(t, a)| a.map_or_else(|| t.clone(), |a| batched_type(t, a, size))).collect();
            let args = random(&types, seed * 37 + i as u64);
            check_stacking(&g.graph, &partial, &axes, size, &args, tally).map_err(|e| format!("partial vmap({name}) {axes:?} size {size}: {e}"))?;
        }
    }
    Ok(())
}

/// Programs over the whole op table, by hand: batched gathers (in and out of range), both
/// matmul ranks, tuples, integer and boolean values, reductions of every kind, a user rule.
const PROGRAMS: &[&str] = &[
    "fn f(x: f64[3], y: f64[3]) -> f64 { sum(sin(x) * y + exp(-x * x)) / (1.0 + sum(y ^ 2)) }",
    "fn f(x: f64[2, 3], y: f64[3]) -> f64[2] { sum(x * y, axis = 1) + prod(cos(x), axis = 1) }",
    "fn f(x: f64[3], y: f64[3, 2]) -> f64[2] { x @ y + softplus(x) @ (y * y) }",
    "fn f(a: f64[2, 3], b: f64[3, 4]) -> f64[2, 4] { a @ b }",
    "fn f(a: f64[2, 2, 3], b: f64[2, 3, 2]) -> f64[2, 2, 2] { a @ b }",
    "fn f(x: f64[2, 3]) -> f64[3, 2] { transpose(x) * 2.0 + reshape(x, [3, 2]) ^ -2 }",
    "fn f(x: f64[3]) -> f64[6] { concat([exp(x), sin(x[0:3])], axis = 0) }",
    "fn f(x: f64[3], y: f64[2]) -> f64[5] { concat([x, y * 2.0], axis = 0) }",
    "fn f(x: f64[2]) -> (f64, f64[2]) { (sum(x ^ 2), x * tan(0.3 * tanh(x))) }",
    "fn f(x: f64[3]) -> f64 { sum(broadcast(x, [2, 3]) * [[1.0], [2.0]]) % 1.7 }",
    "fn f(x: f64[3], y: f64[3]) -> f64 { sum(max(x, y) + relu(x) * abs(y) + clamp(x, -0.5, 0.5)) }",
    "fn f(x: f64[3]) -> f64 { if sum(x) > 0.0 { x[argmax(x)] * 2.0 } else { min(x) } }",
    "fn f(x: f64[3]) -> f64[3] { if x > 0.0 { x * x } else { -x } }",
    "fn f(x: f64[4]) -> f64 { max(x) * f64(argmax(x)) + floor(x[0]) * x[1] + sign(x[2]) * x[3] }",
    "fn f(x: f64[2, 3]) -> f64 { f64(argmax(x)) + f64(sum(argmax(x, axis = 1))) }",
    "fn f(x: f64[4], i: f64) -> f64 { x[i64(floor(abs(i) * 1.9))] * 3.0 }",
    "fn f(x: f64[3, 2], i: f64) -> f64[2] { x[i64(floor(abs(i) * 1.4)), 0:2] + x[1] }",
    "fn f(x: f64[4], i: f64) -> f64 { x[i64(i * 3.0)] }",
    "fn f(x: f64[3], y: f64[3]) -> f64 { f64(sum(i64(x * 4.0) % 3)) + f64(any(x > y)) + f64(all(x < 1.5)) }",
    "fn f(x: f64[3]) -> f64[3] { let m = x > 0.0; f64(m & !(x > 1.0)) + x }",
    "fn f(x: f64[2, 2]) -> f64 { prod(x) + prod(x, axis = 0)[1] + logsumexp(x) + mean(gelu(x)) }",
    "fn f(x: f64[2]) -> f64 { sum(stack([x, x * x], axis = 1) @ [1.0, -1.0]) }",
    "fn f(x: f64[3]) -> f64 { let g = |t: f64[3]| sum(sin(t) * t); g(x) * g(2.0 * x) }",
    "fn n2[N](x: f64[N]) -> f64 { sqrt(sum(x ^ 2) + 1e-12) } with jvp(x, dx) { sum(x * dx) / sqrt(sum(x ^ 2) + 1e-12) }\nfn f(x: f64[3]) -> f64 { n2(x) * n2(2.0 * x) }",
];

#[test]
fn vmap_equals_stacking_on_hand_written_programs() {
    let mut tally = Tally::default();
    let mut failures = Vec::new();
    for (i, src) in PROGRAMS.iter().enumerate() {
        for seed in 0..3 {
            if let Err(e) = check_program(src, seed * 11 + i as u64, &mut tally) {
                failures.push(format!("program {i} (seed {seed}): {src}\n  {e}"));
                break;
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(tally.both_failed > 0, "an out-of-range batched gather must fail: {tally:?}");
    assert_eq!(tally.close, 0, "the batched ops combine elements in the unbatched order: {tally:?}");
    println!("hand-written: {tally:?}");
}

#[test]
fn vmap_equals_stacking_on_random_programs() {
    let mut tally = Tally::default();
    let mut failures = Vec::new();
    let n = cases(300);
    for seed in 0..n {
        let opts = GenOptions { max_depth: 1 + (seed % 4) as u32, scalar_out: seed % 2 == 0, smooth_only: false };
        let p = generate(seed, opts);
        if let Err(e) = check_program(&p.source, seed, &mut tally) {
            failures.push(format!("seed {seed}:\n{}\n  {e}", p.source));
            if failures.len() >= 3 {
                break;
            }
        }
    }
    assert!(failures.is_empty(), "{} failures:\n{}", failures.len(), failures.join("\n\n"));
    println!("{n} random programs: {tally:?}");
}

/// `grad(|X| sum(vmap(f)(X)))` against `vmap(grad(f))`, and `jvp(vmap(f))` against
/// `vmap(jvp(f))`, at random points.
fn check_commutes(source: &str, seed: u64) -> Result<(), String> {
    let (f, sig) = function(source);
    let p = f.n_params;
    let max_axis = f.inputs[..p].iter().map(Type::rank).min().unwrap_or(0);
    let (axis, size) = (seed as usize % (max_axis + 1), 1 + seed as usize % 3);
    let vsig = batched_sig(&sig, axis, size);
    let vf = apply(Transform::Vmap { axis, size }, &f, &sig);
    let x = random(&vf.inputs[..p], seed);

    // jvp ∘ vmap = vmap ∘ jvp.
    let t = random(&vf.inputs[..p], seed + 1);
    let xt: Vec<Tensor> = x.iter().chain(&t).cloned().collect();
    let jv = apply(Transform::Jvp, &vf, &vsig);
    let jsig = Sig { params: [sig.params.clone(), sig.params.clone()].concat(), ret: sig.ret.clone() };
    let vj = apply(Transform::Vmap { axis, size }, &apply(Transform::Jvp, &f, &sig), &jsig);
    let (a, b) = (run(&jv.graph, &xt)?, run(&vj.graph, &xt)?);
    close(&a.concat(), &b.concat(), 1e-12).map_err(|e| format!("jvp(vmap) vs vmap(jvp): {e}"))?;

    let scalar = matches!(&sig.ret, Ty::Tensor(t) if t.shape.is_empty());
    if !scalar {
        return Ok(());
    }
    // grad of the sum of vmap = vmap of grad (the batch moved to the front).
    let mut e = Emitter::new("sum_vmap");
    let ins: Vec<_> = vf.inputs.iter().enumerate().map(|(k, ty)| e.add(Op::Input { source: Source::Arg(k as u32), ty: ty.clone() }, &[])).collect();
    let outs = inline(&mut e, &vf.graph, &mut |_, k| ins[k as usize]);
    let total = e.reduce_sum(outs[0], vec![0]);
    e.graph.outputs = vec![total];
    let summed = FnGraph { graph: e.graph, inputs: vf.inputs.clone(), n_params: p };
    let ssig = Sig { params: vsig.params.clone(), ret: f64_ty(&[]) };
    let gs = apply(Transform::Grad { wrt: 0 }, &summed, &ssig);
    let vg = apply(Transform::Vmap { axis, size }, &apply(Transform::Grad { wrt: 0 }, &f, &sig), &sig);
    let g1 = run(&gs.graph, &x)?.concat();
    let g2 = run(&vg.graph, &x)?.concat();
    let shape = vf.inputs[0].shape.clone();
    let gt = Tensor::new(shape, Buffer::F64(g1)).unwrap();
    let g1: Vec<f64> = (0..size).flat_map(|b| slice_of(&gt, axis, b).to_f64_vec()).collect();
    close(&g1, &g2, 1e-12).map_err(|e| format!("grad(sum(vmap)) vs vmap(grad): {e}"))
}

#[test]
fn derivatives_commute_with_vmap() {
    let mut failures = Vec::new();
    let n = cases(300);
    for (i, src) in PROGRAMS.iter().enumerate() {
        if let Err(e) = check_commutes(src, i as u64) {
            failures.push(format!("program {i}: {src}\n  {e}"));
        }
    }
    for seed in 0..n {
        let p = generate(seed, GenOptions { max_depth: 1 + (seed % 4) as u32, scalar_out: seed % 2 == 0, smooth_only: false });
        if let Err(e) = check_commutes(&p.source, seed) {
            failures.push(format!("seed {seed}:\n{}\n  {e}", p.source));
        }
        if failures.len() >= 3 {
            break;
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// A user rule survives batching: the derivative of a batched function is the rule's, not
/// the body's (here the rule says 1 where the body, a step, has derivative 0).
#[test]
fn derivatives_of_vmap_use_the_users_rule() {
    let src = "fn ste(x: f64) -> f64 { floor(x + 0.5) } with jvp(x, dx) { dx }\nfn f(x: f64[2]) -> f64 { ste(sum(x) * 3.0) }";
    let (f, sig) = function(src);
    let vf = apply(Transform::Vmap { axis: 0, size: 4 }, &f, &sig);
    let vsig = batched_sig(&sig, 0, 4);
    let x = random(&vf.inputs, 5);
    let t = Tensor::new(vec![4, 2], Buffer::F64(vec![1.0; 8])).unwrap();
    let jv = apply(Transform::Jvp, &vf, &vsig);
    let out = run(&jv.graph, &[x[0].clone(), t]).unwrap();
    assert_eq!(out.concat(), vec![6.0; 4], "each slice: d/ds ste(3 sum(x + s)) = 3 · 2 by the rule");
    assert!(jv.graph.ids().all(|n| !matches!(jv.graph.op(n), Op::Custom { .. })), "the JVP replaced the rule op");
    assert!(vf.graph.ids().any(|n| matches!(vf.graph.op(n), Op::Custom { .. })), "the batched graph keeps the rule op");
}

fn jit_agrees(g: &Graph, args: &[Tensor], what: &str) -> Result<(), String> {
    let inputs = Inputs { args, params: &[], data: &[] };
    let want = interp::run(g, &inputs);
    let kernel = codegen::compile(g).map_err(|e| format!("{what}: does not compile: {e}"))?;
    let got = kernel.run(&inputs);
    let (want, got) = match (want, got) {
        (Err(_), Err(_)) => return Ok(()),
        (Ok(w), Ok(g)) => (w, g),
        (w, g) => return Err(format!("{what}: one backend failed: interpreter {:?}, JIT {:?}", w.err().map(|e| e.1.to_string()), g.err().map(|e| e.1.to_string()))),
    };
    for (w, o) in want.iter().zip(&got) {
        let (a, b) = (w.to_f64_vec(), o.to_f64_vec());
        let scale = a.iter().chain(&b).fold(1.0f64, |m, x| if x.is_finite() { m.max(x.abs()) } else { m });
        for (i, (x, y)) in a.iter().zip(&b).enumerate() {
            if !((x.is_nan() && y.is_nan()) || x == y || (x - y).abs() <= 1e-9 * scale) {
                return Err(format!("{what}: element {i}: interpreter {x}, JIT {y}"));
            }
        }
    }
    Ok(())
}

#[test]
fn the_jit_agrees_with_the_interpreter_on_batched_graphs() {
    let mut failures = Vec::new();
    let n = cases(100);
    let sources = PROGRAMS.iter().map(|s| s.to_string()).chain((0..n).map(|seed| generate(seed, GenOptions { max_depth: 1 + (seed % 4) as u32, scalar_out: seed % 2 == 0, smooth_only: false }).source));
    for (i, src) in sources.enumerate() {
        let (f, sig) = function(&src);
        let size = 1 + i % 4;
        let mut graphs = vec![("vmap", apply(Transform::Vmap { axis: 0, size }, &f, &sig))];
        if matches!(&sig.ret, Ty::Tensor(t) if t.shape.is_empty()) {
            graphs.push(("vmap(grad)", apply(Transform::Vmap { axis: 0, size }, &apply(Transform::Grad { wrt: 0 }, &f, &sig), &sig)));
        }
        for (what, g) in graphs {
            let args = random(&g.inputs, i as u64);
            if let Err(e) = jit_agrees(&g.graph, &args, what) {
                failures.push(format!("{src}\n  {e}"));
            }
        }
        if failures.len() >= 3 {
            break;
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// A batched MLP loss is one kernel: its op count does not grow with the batch, and its
/// matrix products stay matrix products. Prints the counts (`--nocapture`).
#[test]
fn a_batched_mlp_is_one_kernel() {
    let src = "fn f(x: f64[16], w1: f64[16, 32], w2: f64[32, 4], y: f64[4]) -> f64 { let h = tanh(x @ w1); let o = h @ w2; sum((o - y) ^ 2) / 4.0 }";
    let (f, sig) = function(src);
    let count = |g: &Graph| g.live_count();
    let matmuls = |g: &Graph| {
        let live = g.live();
        g.ids().filter(|n| live[n.index()] && matches!(g.op(*n), Op::MatMul)).count()
    };
    let base = count(&f.graph);
    println!("unbatched loss: {base} ops, {} matmul", matmuls(&f.graph));
    let grad = apply(Transform::ValueAndGrad { wrt: 1 }, &f, &sig);
    println!("unbatched value_and_grad: {} ops, {} matmul", count(&grad.graph), matmuls(&grad.graph));
    let mut last = None;
    for size in [1, 8, 64] {
        let v = apply(Transform::Vmap { axis: 0, size }, &f, &sig);
        let vg = apply(Transform::Vmap { axis: 0, size }, &grad, &sig);
        println!("vmap, B = {size}: {} ops, {} matmul; vmap(value_and_grad): {} ops, {} matmul", count(&v.graph), matmuls(&v.graph), count(&vg.graph), matmuls(&vg.graph));
        assert_eq!(matmuls(&v.graph), matmuls(&f.graph), "one GEMM per GEMM");
        if size > 1 {
            if let Some(prev) = last {
                assert_eq!(count(&v.graph), prev, "the op count does not depend on the batch size");
            }
            last = Some(count(&v.graph));
        }
        // As a lambda capturing the weights batches it: only the example and its target.
        let examples = simplify(&vmap(&f.graph, &[(Source::Arg(0), 0), (Source::Arg(3), 0)], size));
        verify(&examples).unwrap();
        println!("  weights unbatched: {} ops, {} matmul", count(&examples), matmuls(&examples));
        assert_eq!(matmuls(&examples), matmuls(&f.graph));
    }
}

/// A model over captured weights, batched: the batched graph is the hand-written batched
/// model — the examples become the GEMM's rows, the weights are not copied.
#[test]
fn a_batched_model_is_the_hand_batched_graph() {
    let src = "param w: f64[3, 4] = glorot();\nfn model(x: f64[3]) -> f64[4] { tanh(x @ w) }\nfn h(x: f64[8, 3]) -> f64[8, 4] { vmap(model)(x) }";
    let checked = gradc_compiler::check::check_source("model.gd", src, std::env::temp_dir());
    assert!(checked.is_ok(), "{}", checked.render(false));
    let p = &checked.program;
    let id = gradc_compiler::check::hir::FnId(p.fns.iter().position(|f| f.name == "h").unwrap() as u32);
    let g = simplify(&lower::lower_fn(p, id).unwrap());
    let text = gradc_compiler::ir::print::print(&g);
    let body: Vec<&str> = text.lines().skip(1).map(str::trim).collect();
    assert_eq!(body, ["%0 = input arg0 : f64[8, 3]", "%1 = input w : f64[3, 4]", "%2 = matmul %0, %1 : f64[8, 4]", "%3 = tanh %2 : f64[8, 4]", "return %3"], "{text}");
}
