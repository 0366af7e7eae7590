//! Taylor mode (`taylor`, `diff`, `laplacian`): the known answers of ORACLES.md (T1–T5,
//! S1–S3), Taylor coefficients against nested JVPs on random programs, jets against the
//! composition rule, `with jvp` rules, differentiating through the pass, and the JIT against
//! the interpreter on Taylor graphs.

mod common;

use common::gen::{generate, random_args, GenOptions};
use gradc_compiler::check::check_source;
use gradc_compiler::check::hir::FnId;
use gradc_compiler::codegen;
use gradc_compiler::interp::{self, Inputs};
use gradc_compiler::ir::{verify::verify, Graph, Op, Source};
use gradc_compiler::lower;
use gradc_compiler::passes::jvp::jvp;
use gradc_compiler::passes::simplify::simplify;
use gradc_compiler::passes::taylor::taylor;
use gradc_runtime::rng::Rng;
use gradc_runtime::tensor::{DType, Tensor};

/// The graph of the argument-less function `name` of `source`, simplified and verified, with
/// its random directions (if any) made arguments.
fn graph_of(source: &str, name: &str) -> (Graph, Vec<lower::Draw>) {
    let checked = check_source("taylor.gd", source, std::env::temp_dir());
    assert!(checked.is_ok(), "does not check:\n{source}\n{}", checked.render(false));
    let p = &checked.program;
    let id = p.fns.iter().position(|f| f.name == name).unwrap_or_else(|| panic!("no fn `{name}`"));
    let g = lower::lower_fn(p, FnId(id as u32)).unwrap_or_else(|d| panic!("does not lower: {}", d.message));
    let g = simplify(&g);
    verify(&g).unwrap_or_else(|e| panic!("invalid graph: {e}"));
    lower::draws_as_args(&g, 0)
}

/// The flat value of the argument-less function `name` of `source`.
fn value(source: &str, name: &str) -> Vec<f64> {
    let (g, draws) = graph_of(source, name);
    assert!(draws.is_empty(), "`{name}` draws random numbers");
    let out = interp::run(&g, &Inputs::default()).unwrap_or_else(|(_, e)| panic!("evaluation failed: {e}"));
    out[0].to_f64_vec()
}

fn assert_close(got: &[f64], want: &[f64], tol: f64, what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: {got:?} vs {want:?}");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!((g - w).abs() <= tol * (1.0 + w.abs()), "{what}: coefficient {i} is {g}, want {w}\n{got:?}\n{want:?}");
    }
}

/// Derivatives `y_k` to normalised coefficients `y_k / k!`.
fn normalised(ys: &[f64]) -> Vec<f64> {
    let mut f = 1.0;
    ys.iter()
        .enumerate()
        .map(|(k, y)| {
            if k > 0 {
                f *= k as f64;
            }
            y / f
        })
        .collect()
}

#[test]
fn oracles_t1_to_t5() {
    let cases: [(&str, Vec<f64>, f64); 5] = [
        ("taylor(|t| exp(sin(t)), order = 6)(0.0, 1.0)", vec![1.0, 1.0, 1.0, 0.0, -3.0, -8.0, -3.0], 1e-13),
        ("taylor(|t| log(2 + t), order = 6)(0.0, 1.0)", vec![2f64.ln(), 0.5, -0.25, 0.25, -0.375, 0.75, -1.875], 1e-13),
        ("taylor(|t| cos(exp(t)), order = 6)(0.0, 1.0)", vec![0.540302, -0.841471, -1.381773, -1.620907, 0.965541, 16.652321, 80.098829], 1e-6),
        ("taylor(|t| tanh(t), order = 6)(0.3, 1.0)", vec![0.291313, 0.915137, -0.533182, -1.364306, 3.722486, 6.113704, -52.176308], 1e-6),
        ("taylor(|t| t ^ 3, order = 4)(0.0, 1.0)", vec![0.0, 0.0, 0.0, 6.0, 0.0], 0.0),
    ];
    for (i, (expr, ys, tol)) in cases.iter().enumerate() {
        let order = ys.len() - 1;
        let src = format!("fn t() -> f64[{}] {{ {expr} }}", order + 1);
        assert_close(&value(&src, "t"), &normalised(ys), *tol, &format!("T{}", i + 1));
    }
    // T5 through `diff` and `powi` / float `pow` alike: the third derivative of t³ at 0 is 6.
    assert_eq!(value("fn t() -> f64 { diff(|t| t ^ 3, 3)(0.0) }", "t"), vec![6.0]);
    assert_eq!(value("fn t() -> f64 { diff(|t| pow(t, 3.0), 3)(0.0) }", "t"), vec![6.0]);
    assert_close(&value("fn t() -> f64 { diff(|t| pow(t, 2.5), 2)(2.0) }", "t"), &[2.5 * 1.5 * 2f64.sqrt()], 1e-14, "a fractional power");
}

const U: &str = "fn u(x: f64[3]) -> f64 { sum(x ^ 2) * sum(x) }\n";

#[test]
fn oracle_s1_exact_and_along_each_rademacher_direction() {
    assert_close(&value(&format!("{U}fn t() -> f64 {{ laplacian(u)([1.0, 2.0, 3.0]) }}"), "t"), &[60.0], 1e-12, "S1 exact");
    // 2 c₂ along each of the 8 sign vectors, in binary order (+ first).
    let want = [108.0, 36.0, 44.0, 52.0, 52.0, 44.0, 36.0, 108.0];
    let mut mean = 0.0;
    for (i, w) in want.iter().enumerate() {
        let s: Vec<f64> = (0..3).map(|b| if i >> (2 - b) & 1 == 0 { 1.0 } else { -1.0 }).collect();
        let src = format!("{U}fn t() -> f64 {{ let v: f64[3] = [{:?}, {:?}, {:?}]; 2.0 * taylor(u, order = 2)([1.0, 2.0, 3.0], v)[2] }}", s[0], s[1], s[2]);
        let got = value(&src, "t")[0];
        assert_close(&[got], &[*w], 1e-12, &format!("S1 direction {s:?}"));
        mean += got / 8.0;
    }
    assert_close(&[mean], &[60.0], 1e-12, "S1 mean over the 8 directions");
}

/// The stochastic Laplacian's graph, evaluated on the given directions.
fn stochastic(g: &Graph, dirs: &[f64], samples: usize) -> f64 {
    let d = Tensor::from_f64s(DType::F64, vec![samples, 3], dirs).unwrap();
    interp::run(g, &Inputs { args: &[d], params: &[], data: &[] }).unwrap()[0].to_f64_vec()[0]
}

#[test]
fn oracle_s1_stochastic_is_exact_over_all_directions_and_converges() {
    let (g, draws) = graph_of(&format!("{U}fn t() -> f64 {{ laplacian(u, samples = 8)([1.0, 2.0, 3.0]) }}"), "t");
    assert_eq!(draws.len(), 1, "one draw of directions");
    assert_eq!(draws[0].ty.shape, vec![8, 3]);
    assert_eq!(draws[0].draw, gradc_compiler::check::hir::RandomDraw::Rademacher);
    // All 8 sign vectors at once: the estimate is the exact Laplacian.
    let all: Vec<f64> = (0..24).map(|j| if (j / 3) >> (2 - j % 3) & 1 == 0 { 1.0 } else { -1.0 }).collect();
    assert_close(&[stochastic(&g, &all, 8)], &[60.0], 1e-12, "the mean over every direction");
    // Random directions: unbiased, so the mean of many estimates approaches 60.
    let (g1, _) = graph_of(&format!("{U}fn t() -> f64 {{ laplacian(u, samples = 1)([1.0, 2.0, 3.0]) }}"), "t");
    let mut rng = Rng::seed_from_u64(7);
    let n = 20_000;
    let mut sum = 0.0;
    let mut seen = std::collections::BTreeSet::new();
    for _ in 0..n {
        let v: Vec<f64> = (0..3).map(|_| if rng.next_u64() >> 63 == 1 { 1.0 } else { -1.0 }).collect();
        let est = stochastic(&g1, &v, 1);
        seen.insert(est as i64);
        sum += est;
    }
    assert_eq!(seen.into_iter().collect::<Vec<_>>(), vec![36, 44, 52, 108], "single-direction estimates are the jet outputs");
    // The estimates have standard deviation ≈ 28, so the mean's is ≈ 0.2 here.
    assert!((sum / n as f64 - 60.0).abs() < 1.5, "mean {}", sum / n as f64);
}

#[test]
fn oracles_s2_s3_jets() {
    let s2 = format!("{U}fn t() -> f64 {{ taylor(u, order = 2)([1.0, 2.0, 3.0], [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])[2] }}");
    assert_close(&value(&s2, "t"), &[46.0], 1e-12, "S2");
    let s3 = "fn g(x: f64[3]) -> f64 { sin(x[0]) * x[1] ^ 2 + x[0] ^ 2 * x[1] * x[2] }
        fn t() -> f64 {
            let z: f64[3] = [0.0, 0.0, 0.0];
            taylor(g, order = 7)([0.3, 0.7, -1.1], [z, [1.0, 0.0, 0.0], [0.0, 1.0, 0.0], z, z, z, z])[7]
        }";
    assert_close(&value(s3, "t"), &[-1.30686414466], 1e-10, "S3");
}

#[test]
fn jets_follow_the_composition_rule() {
    // taylor(f)(x, [v1, v2, v3]) is the direction form of s ↦ f(x + v1 s + v2 s² + v3 s³).
    let src = "fn f(x: f64[2]) -> f64[2] { [exp(x[0]) * sin(x[1]), sqrt(1.0 + x[0] ^ 2) / (2.0 + tanh(x[1]))] }
        fn jet() -> f64[4, 2] { taylor(f, order = 3)([0.3, -0.4], [[1.0, 2.0], [-0.5, 0.25], [0.7, 0.1]]) }
        fn composed() -> f64[4, 2] {
            let c = |s: f64| f([0.3, -0.4] + s * [1.0, 2.0] + s ^ 2 * [-0.5, 0.25] + s ^ 3 * [0.7, 0.1]);
            taylor(c, order = 3)(0.0, 1.0)
        }";
    assert_close(&value(src, "jet"), &value(src, "composed"), 1e-12, "jet vs composition");
}

#[test]
fn a_with_jvp_function_uses_its_rule() {
    // The rule says g' = 4 x (the body's is 2 x): y = x0² then c1 = 4 x0 v, c2 = 2 v², c3 = 0.
    let src = "fn g(x: f64) -> f64 { x * x } with jvp(x, dx) { 4.0 * x * dx }
        fn t() -> f64[4] { taylor(g, order = 3)(1.5, 1.0) }
        fn d() -> f64 { diff(g, 2)(1.5) }
        fn s(x: f64) -> f64 { sin(x) } with jvp(x, dx) { cos(x) * dx }
        fn ts() -> f64[6] { taylor(|x| s(x) * x, order = 5)(0.4, 0.8) }
        fn plain() -> f64[6] { taylor(|x| sin(x) * x, order = 5)(0.4, 0.8) }";
    assert_close(&value(src, "t"), &[2.25, 6.0, 2.0, 0.0], 1e-15, "the rule, not the body");
    assert_close(&value(src, "d"), &[4.0], 1e-15, "diff through the rule");
    // A correct rule gives the body's coefficients, at every order.
    assert_close(&value(src, "ts"), &value(src, "plain"), 1e-13, "a correct rule");
}

#[test]
fn differentiating_through_the_taylor_pass() {
    let src = "fn t() -> f64 { grad(|x| taylor(exp, order = 3)(x, x)[3])(1.0) }
        fn h() -> f64 { diff(|x| diff(|y| sin(y) * y, 2)(x), 1)(0.7) }";
    assert_close(&value(src, "t"), &[2.0 * std::f64::consts::E / 3.0], 1e-14, "grad of c3");
    // d/dx of (sin y · y)'' = (2 cos y − y sin y)' = −3 sin x − x cos x.
    let x = 0.7f64;
    assert_close(&value(src, "h"), &[-3.0 * x.sin() - x * x.cos()], 1e-13, "diff of diff");
}

#[test]
fn nonsmooth_ops_follow_the_primal_branch() {
    let src = "fn t() -> f64[4] { taylor(|x| relu(x) + abs(x) * 2.0 + max(x, 0.5 * x), order = 3)(0.0, 1.0) }
        fn p() -> f64[4] { let v: f64[3] = [1.0, 1.0, 1.0]; taylor(|x: f64[3]| prod(x), order = 3)([0.0, 2.0, 3.0], v) }
        fn q() -> f64[4] { let v: f64[5] = [1.0, -1.0, 0.5, 2.0, 1.0]; taylor(|x: f64[5]| prod(x), order = 3)([0.5, 2.0, 3.0, -1.0, 0.3], v) }";
    // relu'(0) = 0, abs'(0) = 0, max at a tie takes the first operand: x.
    assert_close(&value(src, "t"), &[0.0, 1.0, 0.0, 0.0], 0.0, "kinks");
    // prod(x + t) at (0, 2, 3): t (2 + t)(3 + t) = 6 t + 5 t² + t³, exact at the zero.
    assert_close(&value(src, "p"), &[0.0, 6.0, 5.0, 1.0], 1e-15, "prod with a zero");
    let want = {
        let (x, v) = ([0.5, 2.0, 3.0, -1.0, 0.3], [1.0, -1.0, 0.5, 2.0, 1.0]);
        // The product of 5 linear factors, expanded.
        let mut c = [1.0, 0.0, 0.0, 0.0, 0.0, 0.0];
        for i in 0..5 {
            for k in (0..6).rev() {
                c[k] = c[k] * x[i] + if k > 0 { c[k - 1] * v[i] } else { 0.0 };
            }
        }
        c[..4].to_vec()
    };
    assert_close(&value(src, "q"), &want, 1e-13, "prod of an odd count");
}

/// `k!·c_k` of the Taylor pass against the k-th nested JVP, for orders 1..=5, on one program:
/// every float argument moves along its own random direction.
fn taylor_vs_nested_jvp(seed: u64) -> Result<(), String> {
    let p = generate(seed, GenOptions { max_depth: 1 + (seed % 4) as u32, scalar_out: seed.is_multiple_of(2), smooth_only: !seed.is_multiple_of(3) });
    let g = simplify(&common::gen::compile(&p));
    let n = p.args.len() as u32;
    let x = random_args(&p, seed);
    let v = random_args(&p, seed + 1_000_003);
    let args: Vec<Tensor> = x.into_iter().chain(v).collect();
    let seeds: Vec<(Source, Source)> = (0..n).map(|i| (Source::Arg(i), Source::Arg(n + i))).collect();
    let run = |g: &Graph| interp::run(g, &Inputs { args: &args, params: &[], data: &[] }).map_err(|(_, e)| format!("evaluation failed: {e}"));
    let outs = g.outputs.len();
    const K: usize = 5;
    let tseeds: Vec<(Source, Vec<Source>)> = seeds.iter().map(|(s, t)| (*s, vec![*t])).collect();
    let tg = simplify(&taylor(&g, K, &tseeds));
    verify(&tg).map_err(|e| format!("invalid Taylor graph: {e}"))?;
    let coeffs = run(&tg)?;
    // The k-th derivative: the JVP of the (k−1)-th, the direction held fixed.
    let mut d = g.clone();
    let mut factorial = 1.0;
    for k in 1..=K {
        let mut next = jvp(&d, &seeds);
        next.outputs = next.outputs[outs..].to_vec();
        d = simplify(&next);
        factorial *= k as f64;
        let want = run(&d)?;
        for o in 0..outs {
            let got: Vec<f64> = coeffs[o * (K + 1) + k].to_f64_vec().iter().map(|c| c * factorial).collect();
            let w = want[o].to_f64_vec();
            let scale = w.iter().chain(&got).fold(1.0f64, |m, x| m.max(x.abs()));
            for (i, (a, b)) in got.iter().zip(&w).enumerate() {
                if !((a - b).abs() <= 1e-9 * scale || (a.is_nan() && b.is_nan())) {
                    return Err(format!("{p:?}\norder {k}, output {o}, element {i}: Taylor {a}, nested JVP {b}"));
                }
            }
        }
    }
    Ok(())
}

#[test]
fn taylor_agrees_with_nested_jvp_on_random_programs() {
    let n: u64 = std::env::var("TAYLOR_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(60);
    let failures: Vec<String> = (0..n).filter_map(|s| taylor_vs_nested_jvp(s).err()).collect();
    assert!(failures.is_empty(), "{} of {n} programs disagree; the first:\n{}", failures.len(), failures[0]);
}

#[test]
fn the_jit_agrees_with_the_interpreter_on_taylor_graphs() {
    let src = "fn f(x: f64[4]) -> f64[4] { tanh(x * 0.9 + 0.1) + 0.1 * sin(x) + gelu(x) * softplus(x) - erf(x) / (2.0 + x ^ 2) }";
    let checked = check_source("taylor.gd", src, std::env::temp_dir());
    assert!(checked.is_ok(), "{}", checked.render(false));
    let id = checked.program.fns.iter().position(|f| f.name == "f").unwrap();
    let g = simplify(&lower::lower_fn(&checked.program, FnId(id as u32)).unwrap());
    let tg = simplify(&taylor(&g, 6, &[(Source::Arg(0), vec![Source::Arg(1)])]));
    let x = Tensor::from_f64s(DType::F64, vec![4], &[-1.2, -0.1, 0.4, 1.7]).unwrap();
    let v = Tensor::from_f64s(DType::F64, vec![4], &[1.0, 0.5, -2.0, 0.25]).unwrap();
    let args = [x, v];
    let inputs = Inputs { args: &args, params: &[], data: &[] };
    let want = interp::run(&tg, &inputs).unwrap();
    let kernel = codegen::compile(&tg).expect("the Taylor graph compiles");
    let got = kernel.run(&inputs).unwrap_or_else(|(_, e)| panic!("the JIT failed: {e}"));
    for (w, o) in want.iter().zip(&got) {
        let (a, b) = (w.to_f64_vec(), o.to_f64_vec());
        let scale = a.iter().fold(1.0f64, |m, x| m.max(x.abs()));
        for (x, y) in a.iter().zip(&b) {
            assert!((x - y).abs() <= 1e-12 * scale, "interpreter {x}, JIT {y}");
        }
    }
    assert!(tg.ids().any(|n| matches!(tg.op(n), Op::Unary(_))), "the graph is not trivial");
}

#[test]
fn the_exact_laplacian_of_a_pinn_network_stays_small() {
    // A 2-input network with two hidden layers of 32: the primal is shared between the two
    // basis directions, so the graph is a small multiple of the network's.
    let src = "param w1: f64[2, 32] = glorot();
        param b1: f64[32] = zeros();
        param w2: f64[32, 32] = glorot();
        param b2: f64[32] = zeros();
        param w3: f64[32] = glorot();
        fn net(x: f64[2]) -> f64 { tanh(tanh(x @ w1 + b1) @ w2 + b2) @ w3 }
        fn t(x: f64[2]) -> f64 { laplacian(net)(x) }
        fn n(x: f64[2]) -> f64 { net(x) }";
    let checked = check_source("taylor.gd", src, std::env::temp_dir());
    assert!(checked.is_ok(), "{}", checked.render(false));
    let graph = |name: &str| {
        let id = checked.program.fns.iter().position(|f| f.name == name).unwrap();
        simplify(&lower::lower_fn(&checked.program, FnId(id as u32)).unwrap())
    };
    let (lap, net) = (graph("t"), graph("n"));
    println!("network: {} nodes; its exact Laplacian: {} nodes", net.live_count(), lap.live_count());
    assert!(lap.live_count() < 12 * net.live_count(), "{} nodes for a {}-node network", lap.live_count(), net.live_count());
    let matmuls = |g: &Graph| {
        let live = g.live();
        g.ids().filter(|&n| live[n.index()] && matches!(g.op(n), Op::MatMul)).count()
    };
    // Primal 3, and per direction: c1 3 (the first layer's folds to a slice), c2 2.
    assert!(matmuls(&lap) <= 3 + 2 * 5, "{} matrix products", matmuls(&lap));
}
