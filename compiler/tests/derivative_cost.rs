//! The cost of derivatives, measured on real programs.
//!
//! - The cheap-gradient principle: for the benchmark programs, `value_and_grad` of the loss
//!   (with respect to the argument for P1, to the params for the training losses of P2 and P5)
//!   has at most 4× the ops of the loss after simplification. The op counts are exact and
//!   asserted; the interpreter's times are printed, never asserted
//!   (`cargo test --release -p gradc-compiler --test derivative_cost -- --nocapture`).
//! - Nested derivatives stay small: `grad` applied 8 times to a scalar composition of 10 ops,
//!   from source to simplified IR, against a value computed independently (sympy).

use std::time::Instant;

use gradc_compiler::check::check_source;
use gradc_compiler::check::hir::{FnId, Program, Transform};
use gradc_compiler::interp::{run, Inputs};
use gradc_compiler::ir::{Graph, Op, Source, Type};
use gradc_compiler::lower::{self, value_and_param_grad, FnGraph};
use gradc_compiler::passes::simplify::simplify;
use gradc_compiler::source::Span;
use gradc_runtime::tensor::{Buffer, DType, Tensor};

fn program(path: &str) -> Program {
    let text = std::fs::read_to_string(path).expect("fixture exists");
    let dir = std::path::Path::new(path).parent().unwrap().to_path_buf();
    let checked = check_source(path, &text, dir);
    assert!(checked.is_ok(), "{}", checked.render(false));
    checked.program
}

fn instance(p: &Program, name: &str) -> FnId {
    let i = p.fns.iter().position(|f| f.name.split('[').next() == Some(name)).expect("the function exists");
    FnId(i as u32)
}

/// Ops that compute something (inputs and constants are not work).
fn ops(g: &Graph) -> usize {
    let live = g.live();
    g.ids().filter(|n| live[n.index()] && !matches!(g.op(*n), Op::Input { .. } | Op::Const(_))).count()
}

/// Deterministic values for every input of a graph.
fn inputs_for(g: &Graph, p: &Program) -> (Vec<Tensor>, Vec<Tensor>, Vec<Tensor>) {
    let value = |ty: &Type, seed: usize| {
        let v: Vec<f64> = (0..ty.len()).map(|i| (((i + seed) * 7919 % 1000) as f64 / 1000.0) - 0.5).collect();
        Tensor::from_f64s(ty.dtype, ty.shape.clone(), &v).expect("lengths match")
    };
    let mut args: Vec<(u32, Tensor)> = g
        .inputs()
        .filter_map(|(n, s)| match s {
            Source::Arg(k) => Some((k, value(g.ty(n), k as usize))),
            _ => None,
        })
        .collect();
    args.sort_by_key(|(k, _)| *k);
    let params = p.params.iter().enumerate().map(|(k, d)| value(&lower::ir_type(&gradc_compiler::check::types::Ty::Tensor(d.ty.clone())), 100 + k)).collect();
    let data = p.data.iter().enumerate().map(|(k, d)| value(&lower::ir_type(&gradc_compiler::check::types::Ty::Tensor(d.ty.clone())), 200 + k)).collect();
    (args.into_iter().map(|(_, t)| t).collect(), params, data)
}

/// Median wall time of evaluating `g`, in milliseconds.
fn time(g: &Graph, p: &Program) -> f64 {
    let (args, params, data) = inputs_for(g, p);
    let inputs = Inputs { args: &args, params: &params, data: &data };
    let mut times: Vec<f64> = (0..5)
        .map(|_| {
            let t = Instant::now();
            run(g, &inputs).expect("evaluates");
            t.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    times.sort_by(f64::total_cmp);
    times[2]
}

fn fn_graph(p: &Program, name: &str) -> FnGraph {
    lower::fn_graph(p, instance(p, name)).expect("lowers").0
}

#[test]
fn value_and_grad_costs_at_most_four_times_the_function() {
    let mut rows = Vec::new();
    // P1: with respect to the argument.
    let p1 = program("../tests/fixtures/check/ok/bench_p1_elementwise.gd");
    let f = simplify(&fn_graph(&p1, "f").graph);
    let vg = lower::transform_fn(&p1, instance(&p1, "f"), Transform::ValueAndGrad { wrt: 0 }).expect("differentiates");
    rows.push(("P1 f(x), value_and_grad wrt x", ops(&f), ops(&vg), time(&f, &p1), time(&vg, &p1)));
    // P2 and P5: the training losses, with respect to every param.
    for (label, path) in [("P2 MLP loss, wrt 6 params", "../tests/fixtures/check/ok/bench_p2_mlp.gd"), ("P5 loss, wrt 5 params", "../tests/fixtures/check/ok/bench_p5_compile.gd")] {
        let p = program(path);
        let loss = fn_graph(&p, "loss");
        let params: Vec<(Source, Type)> = p
            .params
            .iter()
            .enumerate()
            .map(|(k, d)| (Source::Param(k as u32), lower::ir_type(&gradc_compiler::check::types::Ty::Tensor(d.ty.clone()))))
            .collect();
        let vg = value_and_param_grad(&loss, &params, Span::default()).expect("differentiates");
        let f = simplify(&loss.graph);
        rows.push((label, ops(&f), ops(&vg), time(&f, &p), time(&vg, &p)));
    }
    println!("| program | ops of f | ops of value_and_grad | ratio | interpreter f (ms) | value_and_grad (ms) | ratio |");
    println!("|---|---|---|---|---|---|---|");
    for (label, a, b, ta, tb) in &rows {
        println!("| {label} | {a} | {b} | {:.2} | {ta:.2} | {tb:.2} | {:.2} |", *b as f64 / *a as f64, tb / ta);
    }
    for (label, a, b, _, _) in &rows {
        assert!(*b <= 4 * *a, "{label}: value_and_grad has {b} ops, more than 4 × {a}");
    }
}

/// An 8th derivative of a composition of 10 ops, checked against sympy:
/// `sympy.diff(sin(exp(cos(tanh(x*x+1))/2)*sqrt(x*x+2)) + log(x*x+3), x, 8)` at 7/10.
#[test]
fn grad_applied_eight_times_stays_small_and_is_right() {
    let src = "fn f(x: f64) -> f64 { sin(exp(cos(tanh(x * x + 1.0)) / 2.0) * sqrt(x * x + 2.0)) + log(x * x + 3.0) }\n\
               fn d8(x: f64) -> f64 { grad(grad(grad(grad(grad(grad(grad(grad(f))))))))(x) }";
    let start = Instant::now();
    let checked = check_source("nested.gd", src, std::env::temp_dir());
    assert!(checked.is_ok(), "{}", checked.render(false));
    let p = &checked.program;
    let g = simplify(&lower::lower_fn(p, instance(p, "d8")).expect("lowers"));
    let elapsed = start.elapsed();
    let f = simplify(&lower::lower_fn(p, instance(p, "f")).expect("lowers"));
    println!("order-8 nested grad: source to simplified IR in {:.1} ms; {} ops (f has {})", elapsed.as_secs_f64() * 1e3, ops(&g), ops(&f));
    let x = Tensor::new(vec![], Buffer::F64(vec![0.7])).unwrap();
    let out = run(&g, &Inputs { args: &[x], params: &[], data: &[] }).expect("evaluates");
    let value = out[0].scalar_value().unwrap();
    let expected = -761.450_542_769_124_8;
    assert!((value - expected).abs() <= 1e-9 * expected.abs(), "{value} vs {expected}");
    assert_eq!(out[0].dtype(), DType::F64);
}
